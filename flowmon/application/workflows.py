"""Workflows: list, read, create or replace (from a JSON or YAML document), delete."""

from __future__ import annotations

import asyncio
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.model import MAX_DEFINITION_BYTES, DocumentRefused, DocumentTooLarge, WorkflowError, load_document
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.history import History, StoredWorkflow

from .documents import workflow_schema
from .errors import Invalid, Malformed, NotFound, TooLarge, translated

__all__ = ['StoredWorkflow', 'Workflows']


class Workflows:
    """The workflow catalog as routes and pages use it; every definition is validated before it is kept."""

    def __init__(self, *, catalog: WorkflowCatalog, history: History) -> None:
        self._catalog = catalog
        self._history = history

    def definition_schema(self) -> dict[str, Any]:
        """The JSON schema of a definition as ``PUT /api/workflows/{id}`` takes it (each node type's config)."""
        return workflow_schema(self._catalog.registry, id_required=False)

    async def all(self) -> list[StoredWorkflow]:
        """Every stored workflow, by name."""
        return await self._catalog.all()

    async def get(self, workflow_id: str) -> StoredWorkflow:
        """The stored workflow; raises NotFound."""
        stored = await self._history.get_workflow(workflow_id)
        if stored is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        return stored

    async def put(self, workflow_id: str, document: bytes, *, yaml: bool = False) -> tuple[dict[str, Any], bool]:
        """Create or replace from a JSON (or, with ``yaml``, YAML) document; returns the stored definition and
        whether it is new. Raises TooLarge, Malformed (not a document), or Invalid (not a valid workflow)."""
        if len(document) > MAX_DEFINITION_BYTES:
            raise TooLarge(f'workflow definition is larger than {MAX_DEFINITION_BYTES} bytes')
        try:
            if yaml:  # YAML parses slowly: in a worker thread, so the event loop keeps serving
                raw = await asyncio.to_thread(load_document, document, yaml_allowed=True)
            else:
                raw = load_document(document)
        except DocumentTooLarge as exc:
            raise TooLarge(str(exc)) from None
        except DocumentRefused as exc:  # nested too deeply, YAML aliases: understood, and refused
            raise Invalid(str(exc)) from None
        except WorkflowError as exc:
            raise Malformed(f'malformed workflow document: {exc}') from None
        with translated({WorkflowError: Invalid}):
            workflow, created = await self._catalog.put(workflow_id, raw, utcnow())
        return workflow.definition(), created

    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow (its executions stay in the history); raises NotFound."""
        if not await self._catalog.delete(workflow_id):
            raise NotFound(f'workflow {workflow_id!r} not found')
