"""Export and import of executions (the document format and its checks: :mod:`.export_format`).

Export writes a finished execution's workflow definition (resolved from its snapshot) and every event as one JSON
file; import checks a file completely before anything is written, gives the execution a new id, and writes it in
one transaction through the recorder's Core path, marked ``imported_from`` its original id (read-only history that
replays like any other), with the definition stored once per content hash as for any run (its
``execution.queued`` event names it by hash). The API's routes and the pages' buttons both call :class:`Exchange`.

A file may hold half a million events: reading, checking and writing one is seconds of work, done in a worker thread
(the event loop keeps serving everyone else meanwhile), one file at a time (another import meanwhile is refused,
Unavailable: each holds hundreds of MB while it is checked).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.inputs import in_body
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.nodes.base import NodeRegistry
from flowmon.engine.runtime.scheduler import new_execution_id
from flowmon.store.codec import dumps
from flowmon.store.recorder import EventRecorder

from .documents import export_schema
from .errors import Conflict, TooLarge, Unavailable
from .export_format import EXPORT_FORMAT, EXPORT_VERSION, parse_export, validate_export
from .history import ExecutionHistory

MAX_IMPORT_BYTES = 50 * 1024 * 1024  # an export file; the perimeter's body cap of the import route is the same
IMPORT_LIMIT = f'{MAX_IMPORT_BYTES // (1024 * 1024)} MB'  # the largest export file, as the refusals say it


class ExportUnavailable(Conflict):
    """The execution exists but cannot be exported (yet): the message says why."""


@dataclass(frozen=True, kw_only=True)
class ImportedExecution:
    id: str
    imported_from: str
    status: str
    events: int


@dataclass(frozen=True, kw_only=True)
class ExportFile:
    """An export as a download: a file name that is safe everywhere, and the JSON document's bytes."""

    filename: str
    content: bytes


class Exchange:
    """Export a finished execution to a file; import such a file as a new, read-only execution."""

    def __init__(
        self,
        *,
        history: ExecutionHistory,
        recorder: EventRecorder,
        registry: NodeRegistry,
        budget: PayloadBudget,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._clock = clock
        self._history = history
        self._store = functools.partial(import_execution, recorder, registry, budget=budget)
        self._registry = registry
        self._importing = asyncio.Lock()

    def document_schema(self) -> dict[str, Any]:
        """The JSON schema of an export as ``POST /api/executions/import`` takes it (the import checks far more)."""
        return export_schema(self._registry)

    async def document(self, execution_id: str) -> dict[str, Any]:
        """The export document; raises NotFound, or ExportUnavailable while it runs or without a definition."""
        index = await self._history.replay(execution_id)
        state = index.final
        if state is None or not state.is_terminal:
            status = state.status if state is not None else 'queued'
            raise ExportUnavailable(f'execution {execution_id!r} is still {status}; export it when it has finished')
        definition = await self._history.recorded_definition(execution_id, state)
        if definition is None:
            raise ExportUnavailable(
                f'the workflow definition of execution {execution_id!r} was not recorded and '
                f'workflow {state.workflow_id!r} no longer exists'
            )
        record = await self._history.record(execution_id)
        events = await asyncio.to_thread(lambda: [event.marshal() for event in index.events])
        return {
            'format': EXPORT_FORMAT,
            'version': EXPORT_VERSION,
            'exported_at': self._clock().isoformat(),
            'execution': {
                'id': execution_id,
                'workflow_id': state.workflow_id,
                'status': state.status,
                'created_at': state.created_at.isoformat() if state.created_at else None,
                'finished_at': state.finished_at.isoformat() if state.finished_at else None,
                'events': index.n,
                'imported_from': record.imported_from if record else None,
            },
            'workflow': definition,
            'events': events,
        }

    async def export(self, execution_id: str) -> ExportFile:
        """:meth:`document` as a file named after the workflow and the execution."""
        document = await self.document(execution_id)
        name = f'flowmon-{document["execution"]["workflow_id"] or "execution"}-{execution_id}.json'
        content = await asyncio.to_thread(lambda: dumps(document).encode('utf-8'))
        return ExportFile(filename=_safe_filename(name), content=content)

    async def import_file(self, content: bytes) -> ImportedExecution:
        """Check and store an export file; raises TooLarge, ExportMalformed (not JSON) or ImportRejected, each marked
        with the place in the file it refuses (:func:`~flowmon.engine.core.inputs.in_body`: the file itself, or
        ``('events', 3, 'seq')``), or Unavailable while another file is being imported."""
        if len(content) > MAX_IMPORT_BYTES:
            raise in_body(TooLarge(f'the export is larger than {IMPORT_LIMIT}'))
        if self._importing.locked():
            raise Unavailable('another export file is being imported; try again when it is done')
        async with self._importing:
            document = await asyncio.to_thread(parse_export, content)  # measured before parsing: no parser recursion
            return await self._store(document)


async def import_execution(
    recorder: EventRecorder,
    registry: NodeRegistry,
    document: Any,
    *,
    new_id: str | None = None,
    budget: PayloadBudget | None = None,
) -> ImportedExecution:
    """Validate ``document`` (in a worker thread) and store it as a new, read-only execution in one transaction."""
    valid = await asyncio.to_thread(validate_export, document, registry, budget)
    execution_id = new_id or new_execution_id()
    events = [replace(event, execution_id=execution_id) for event in valid.events]
    snapshot = {valid.workflow.definition_hash: valid.workflow.definition()}
    await recorder.write(
        events, new_execution_columns={execution_id: {'imported_from': valid.original_id}}, snapshots=snapshot
    )
    return ImportedExecution(
        id=execution_id, imported_from=valid.original_id, status=valid.state.status, events=len(events)
    )


def _safe_filename(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
