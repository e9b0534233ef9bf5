"""Workflows: list, read, check, create or replace (from a JSON or YAML document), delete."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.inputs import in_body
from flowmon.engine.documents import (
    MAX_DEFINITION_BYTES,
    MAX_YAML_BYTES,
    DocumentDuplicateKey,
    DocumentRefused,
    DocumentTooLarge,
    WorkflowError,
    load_document,
)
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.history import (
    ANY_VERSION,
    NO_VERSION,
    Expected,
    History,
    StoredWorkflow,
    TooManyWorkflows,
    VersionMismatch,
)

from .documents import workflow_schema
from .errors import Conflict, Invalid, Malformed, NotFound, Stale, TooLarge

__all__ = [
    'ANY_VERSION',
    'MAX_YAML_BYTES',
    'NO_VERSION',
    'Checked',
    'Expected',
    'Saved',
    'StoredWorkflow',
    'WorkflowChanged',
    'Workflows',
    'name_order',
]

_DIGITS = re.compile(r'([0-9]+)')
KEEP_DELETED = 10_000  # workflow ids remembered as deleted, the latest of them (create-and-delete churn is endless)


def name_order(name: str, workflow_id: str = '') -> tuple[object, ...]:
    """The sort key of workflows wherever they are listed: by name in natural order (a run of digits compares as the
    number it is, "wf 2" before "wf 10"; case is ignored, "a" before "B"), ties broken by the exact name, then the
    id. Numbers compare by their digits (length, then digits), so a name of any length sorts without int()."""
    parts = _DIGITS.split(name.casefold())  # text, digits, text, ...: each place holds one kind
    key = [(len(part.lstrip('0')), part.lstrip('0')) if index % 2 else part for index, part in enumerate(parts)]
    return (key, name, workflow_id)


@dataclass(frozen=True, slots=True)
class Checked:
    """A definition that would be accepted: the id it would be stored under, and the definition as stored, its keys
    in the order the document has them (what a person typed reads in that order; defaults it left out come after)."""

    id: str
    definition: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Saved:
    """A definition stored: as stored, whether it was new, and its version (:attr:`StoredWorkflow.version`)."""

    definition: dict[str, Any]
    created: bool
    version: str


class WorkflowChanged(Stale):
    """The stored workflow is not at the version a change expected; ``current`` is what is stored (None: nothing)."""

    def __init__(self, message: str, current: StoredWorkflow | None) -> None:
        super().__init__(message)
        self.current = current
        self.version = None if current is None else current.version

    @classmethod
    def of(cls, mismatch: VersionMismatch) -> WorkflowChanged:
        current, expected, name = mismatch.current, mismatch.expected, repr(mismatch.workflow_id)
        if current is None:
            if expected == ANY_VERSION:
                return cls(f'workflow {name} not found: it was expected to exist', None)
            return cls(f'workflow {name} does not exist (any more): version {_versions(expected)} was expected', None)
        stored = f'the stored version is "{current.version}", saved at {current.updated_at.isoformat()}'
        if expected == NO_VERSION:
            return cls(f'workflow {name} exists already: {stored}', current)
        return cls(f'workflow {name} was changed since version {_versions(expected)}: {stored}', current)


def _versions(expected: Expected) -> str:
    if isinstance(expected, str):
        return f'"{expected}"'
    return ' or '.join(f'"{version}"' for version in sorted(expected))


class Workflows:
    """The workflow catalog as routes and pages use it; every definition is validated before it is kept."""

    def __init__(self, *, catalog: WorkflowCatalog, history: History) -> None:
        self._catalog = catalog
        self._history = history
        # deleted here or (as the catalog hears) in another process, not stored since: the latest KEEP_DELETED, oldest
        # first (a page that shows a workflow looks every second, so it has long seen a deletion that drops out)
        self._deleted: dict[str, None] = {}
        catalog.listeners.append(self._heard)

    def _heard(self, workflow_id: str, workflow: object | None) -> None:
        deleted = self._deleted
        deleted.pop(workflow_id, None)
        if workflow is None:
            deleted[workflow_id] = None
            if len(deleted) > KEEP_DELETED:
                del deleted[next(iter(deleted))]

    def deleted(self, workflow_id: str) -> bool:
        """Whether ``workflow_id`` was deleted (here or elsewhere) since this process started and not stored again:
        cheap (no query), for pages that show it to look every second; of the latest :data:`KEEP_DELETED`
        deletions."""
        return workflow_id in self._deleted

    def definition_schema(self) -> dict[str, Any]:
        """The JSON schema of a definition as ``PUT /api/workflows/{id}`` takes it (each node type's config)."""
        return workflow_schema(self._catalog.registry, id_required=False)

    async def all(self) -> list[StoredWorkflow]:
        """Every stored workflow, by name (:func:`name_order`: the same in any database, whatever its collation)."""
        return sorted(await self._catalog.all(), key=lambda stored: name_order(stored.name, stored.id))

    async def get(self, workflow_id: str) -> StoredWorkflow:
        """The stored workflow; raises NotFound."""
        stored = await self._history.get_workflow(workflow_id)
        if stored is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        return stored

    async def put(
        self, workflow_id: str, document: bytes, *, yaml: bool = False, expected: Expected | None = None
    ) -> Saved:
        """Create or replace from a JSON (or, with ``yaml``, YAML) document. Raises TooLarge, Malformed (not a
        document), Invalid (not a valid workflow), or Conflict for a new workflow when as many are stored as flowmon
        keeps (nothing stored).

        ``expected``: store it only over that version (a :attr:`StoredWorkflow.version`, or ANY_VERSION: it must
        exist, NO_VERSION: it must not), checked and stored at once; else raises WorkflowChanged naming what is stored
        (someone saved it since that version was read). None: whatever is stored (last write wins)."""
        raw = await self.document(document, yaml=yaml)
        try:
            with _refused_definition():
                workflow, created = await self._catalog.put(workflow_id, raw, utcnow(), expected=expected)
        except VersionMismatch as mismatch:
            raise WorkflowChanged.of(mismatch) from None
        except TooManyWorkflows as full:
            raise Conflict(str(full)) from None
        return Saved(definition=workflow.definition(), created=created, version=workflow.definition_hash)

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
        with _refused_definition():
            workflow = self._catalog.check(target, raw)
        return Checked(id=workflow.id, definition=ordered_like(workflow.definition(), raw))

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
        except DocumentDuplicateKey as exc:  # read, the last value would replace the others unseen
            raise in_body(Malformed(f'malformed workflow document: {exc}'), *exc.where) from None
        except WorkflowError as exc:
            raise Malformed(f'malformed workflow document: {exc}') from None

    async def delete(self, workflow_id: str, *, expected: Expected | None = None) -> None:
        """Delete the workflow (its executions stay in the history); raises NotFound. ``expected``: only that version
        (as :meth:`put` takes it; else raises WorkflowChanged)."""
        try:
            deleted = await self._catalog.delete(workflow_id, expected=expected)
        except VersionMismatch as mismatch:
            raise WorkflowChanged.of(mismatch) from None
        if not deleted:
            raise NotFound(f'workflow {workflow_id!r} not found')


@contextmanager
def _refused_definition() -> Iterator[None]:
    """A definition the workflow model refuses, as Invalid about the place in it (the body) its message names: in
    the body whatever its first key is called (a key named as one of the route's parameters is still the body's)."""
    try:
        yield
    except WorkflowError as exc:
        raise (in_body(Invalid(str(exc)), *exc.where) if exc.where else Invalid(str(exc))) from None


def ordered_like(value: Any, model: Any) -> Any:
    """``value`` with the keys of its objects in the order of ``model``'s (keys ``model`` lacks after them, in their
    own order), in objects and lists nested alike; the values are the same, only the order of keys differs."""
    if isinstance(value, dict) and isinstance(model, dict):
        keys = [key for key in model if key in value] + [key for key in value if key not in model]
        return {key: ordered_like(value[key], model.get(key)) for key in keys}
    if isinstance(value, list) and isinstance(model, list):
        return [ordered_like(item, model[i]) if i < len(model) else item for i, item in enumerate(value)]
    return value
