"""Export and import of executions (the document format and its checks: :mod:`.export_format`).

Export writes a finished execution's workflow definition (resolved from its snapshot) and every event as one JSON
file, written as its events are read, a page at a time (:meth:`Exchange.stream`); import checks a file completely
before anything is written, gives the execution a new id, and writes it in one transaction through the recorder's
Core path, marked ``imported_from`` its original id (read-only history that replays like any other), with the
definition stored once per content hash as for any run (its ``execution.queued`` event names it by hash). The API's
routes and the pages' buttons both call :class:`Exchange`.

A file may hold half a million events: reading, checking and writing one is seconds of work, done in a worker thread
(the event loop keeps serving everyone else meanwhile), one file at a time (another import meanwhile is refused,
Unavailable: each holds hundreds of MB while it is checked).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flowmon.engine.core.events import Event, utcnow
from flowmon.engine.core.inputs import in_body
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES
from flowmon.engine.nodes.base import NodeRegistry
from flowmon.engine.runtime.scheduler import new_execution_id
from flowmon.store.codec import dumps
from flowmon.store.recorder import EventRecorder

from .documents import export_schema
from .errors import Conflict, NotFound, TooLarge, Unavailable
from .export_format import EXPORT_FORMAT, EXPORT_VERSION, parse_export, validate_export
from .history import EventPage, ExecutionHistory, encoded_page
from .ids import unknown_execution

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

    async def stream(self, execution_id: str) -> ExportStream:
        """The export of a finished execution, to be written as it is read; raises NotFound, or ExportUnavailable
        while it runs or without a definition, before any of it is written.

        Its head (the execution's status, times and number of events) comes from the execution's stored row, written
        with its events in the same transaction, and its events a page at a time (``EVENT_PAGE``), each page encoded
        as it is read: one page held at a time, however many events the execution has. The first page is read here,
        so a failing first read is raised here too; a later one is raised by ``chunks``, as is an execution whose
        events change while it is read (deleted meanwhile), rather than writing a document that is not the whole
        of it. The bytes are those :func:`~flowmon.store.codec.dumps` wrote for the whole document at once."""
        unknown = unknown_execution(execution_id)
        if unknown is not None:
            raise unknown
        record = await self._history.record(execution_id)
        if record is None:
            raise NotFound(f'execution {execution_id!r} not found')
        if record.status not in TERMINAL_EXECUTION_STATUSES:
            status = record.status
            raise ExportUnavailable(f'execution {execution_id!r} is still {status}; export it when it has finished')
        pages = await self._history.event_pages(execution_id)
        try:
            first = await anext(pages, EventPage())
            if not first:  # (a first page not starting at seq 1, a deletion begun, event_pages refuses)
                raise NotFound(f'execution {execution_id!r} not found')
            workflow_id = record.workflow_id or None  # (the row holds '' for an execution that named no workflow)
            definition = await self._history.recorded_definition(execution_id, workflow_id)
            if definition is None:
                raise ExportUnavailable(
                    f'the workflow definition of execution {execution_id!r} was not recorded and '
                    f'workflow {workflow_id!r} no longer exists'
                )
        except BaseException:
            await pages.aclose()
            raise
        head = {
            'format': EXPORT_FORMAT,
            'version': EXPORT_VERSION,
            'exported_at': self._clock().isoformat(),
            'execution': {
                'id': execution_id,
                'workflow_id': workflow_id,
                'status': record.status,
                'created_at': record.created_at.isoformat(),
                'finished_at': record.finished_at.isoformat() if record.finished_at else None,
                'events': record.last_seq,
                'imported_from': record.imported_from,
            },
            'workflow': definition,
            'events': [],
        }
        name = f'flowmon-{workflow_id or "execution"}-{execution_id}.json'
        chunks = _document_chunks(execution_id, dumps(head)[:-2].encode(), first, pages, record.last_seq)
        return ExportStream(filename=_safe_filename(name), chunks=chunks, pages=pages)

    async def export(self, execution_id: str) -> ExportFile:
        """:meth:`stream` as a whole file (a download the pages hand to the browser)."""
        stream = await self.stream(execution_id)
        try:
            content = b''.join([chunk async for chunk in stream.chunks])
        finally:
            await stream.close()
        return ExportFile(filename=stream.filename, content=content)

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


@dataclass(frozen=True, kw_only=True)
class ExportStream:
    """An export as it is written: a file name that is safe everywhere, and the JSON document's bytes, a chunk at a
    time as the execution's events are read. ``close`` lets go of the reading however far it got (an
    ``async for`` that stops early leaves the chunks unclosed)."""

    filename: str
    chunks: AsyncGenerator[bytes, None]
    pages: AsyncGenerator[EventPage, None]

    async def close(self) -> None:
        await self.chunks.aclose()
        await self.pages.aclose()


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


async def _document_chunks(
    execution_id: str, head: bytes, first: EventPage, pages: AsyncGenerator[EventPage, None], count: int
) -> AsyncGenerator[bytes, None]:
    """The export document's bytes: ``head`` (its text up to the events' opening bracket), then the events a page at a
    time, then the closing brackets. Raises ExportUnavailable when the events read end before ``count`` (the
    execution's last events deleted while it was read: ``pages`` refuse a gap themselves)."""
    yield head + await _members(first)
    seq = first[-1].seq
    async for page in pages:
        yield b',' + await _members(page)
        seq = page[-1].seq
    if seq != count:
        raise ExportUnavailable(f'the events of execution {execution_id!r} changed while it was exported (deleted?)')
    yield b']}'


async def _members(events: EventPage) -> bytes:
    """The events as members of the document's ``events`` array (the array's text without its brackets)."""
    return await encoded_page(events, _encoded_members)


def _encoded_members(events: list[Event]) -> bytes:
    return dumps([event.marshal() for event in events])[1:-1].encode()


def _safe_filename(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
