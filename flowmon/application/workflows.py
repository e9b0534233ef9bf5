"""Workflows: list, read, check, create or replace (from a JSON or YAML document), delete."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.model import MAX_DEFINITION_BYTES, DocumentRefused, DocumentTooLarge, WorkflowError, load_document
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.history import History, StoredWorkflow

from .documents import workflow_schema
from .errors import Invalid, Malformed, NotFound, TooLarge, translated

__all__ = ['Checked', 'StoredWorkflow', 'Workflows']


@dataclass(frozen=True, slots=True)
class Checked:
    """A definition that would be accepted: the id it would be stored under, and the definition as stored."""

    id: str
    definition: dict[str, Any]


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
        raw = await self.document(document, yaml=yaml)
        with translated({WorkflowError: Invalid}):
            workflow, created = await self._catalog.put(workflow_id, raw, utcnow())
        return workflow.definition(), created

    async def check(self, document: str | bytes, *, yaml: bool = False, workflow_id: str | None = None) -> Checked:
        """What :meth:`put` would store, without storing it: the same limits and validation, the YAML parsed in a
        worker thread. ``workflow_id``: the id it would be stored under (None: the document's own ``id``). Raises
        TooLarge, Malformed or Invalid with the message ``PUT /api/workflows/{id}`` would answer."""
        raw = await self.document(document, yaml=yaml)
        target = workflow_id
        if target is None:
            body_id = raw.get('id') if isinstance(raw, dict) else None
            if not isinstance(body_id, str) or not body_id:
                raise Invalid('the definition needs an "id": letters, digits, "_", "." and "-" (it names the workflow)')
            target = body_id
        with translated({WorkflowError: Invalid}):
            workflow = self._catalog.check(target, raw)
        return Checked(id=workflow.id, definition=workflow.definition())

    def provisioning_file(self, workflow_id: str) -> str | None:
        """The workflow file ``workflow_id`` was loaded from at start-up, whose content replaces the stored definition
        again at the next start (None: not from a file)."""
        return self._catalog.provisioning_file(workflow_id)

    async def document(self, document: str | bytes, *, yaml: bool = False) -> Any:
        """The JSON (or YAML) document parsed within the definition limits, not yet validated as a workflow; raises
        TooLarge, Invalid or Malformed."""
        if isinstance(document, str):
            document = document.encode('utf-8', errors='surrogatepass')
        if len(document) > MAX_DEFINITION_BYTES:
            raise TooLarge(f'workflow definition is larger than {MAX_DEFINITION_BYTES} bytes')
        try:
            if yaml:  # YAML parses slowly: in a worker thread, so the event loop keeps serving
                return await asyncio.to_thread(load_document, document, yaml_allowed=True)
            return load_document(document)
        except DocumentTooLarge as exc:
            raise TooLarge(str(exc)) from None
        except DocumentRefused as exc:  # nested too deeply, YAML aliases: understood, and refused
            raise Invalid(str(exc)) from None
        except WorkflowError as exc:
            raise Malformed(f'malformed workflow document: {exc}') from None

    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow (its executions stay in the history); raises NotFound."""
        if not await self._catalog.delete(workflow_id):
            raise NotFound(f'workflow {workflow_id!r} not found')
