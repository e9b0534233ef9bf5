"""Reading executions: lists, state (now or at any position), events, and the workflow an execution ran.

Reads see every write made before them: the recorder writes events in group commits (every 100 ms), so each
read of stored history first flushes what is pending. That happens here, in the use case, never in a caller.

State has one source per moment: the live projection while the execution is in it, otherwise its stored events
folded by :class:`~flowmon.application.replays.ReplayLoader` (in a worker thread, cached for finished executions),
the same replay index that replay, comparison and ``/state?at=k`` use.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from flowmon.engine.core.events import Event
from flowmon.engine.core.provenance import TRIGGER_TYPES
from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.search_text import normalise_query
from flowmon.engine.core.snapshot import snapshot_hash, workflow_snapshot
from flowmon.engine.core.state import EXECUTION_STATUSES, ExecutionState, initial_state
from flowmon.store.history import ExecutionRecord, History
from flowmon.store.recorder import EventRecorder

from .errors import Invalid, NotFound
from .ids import unknown_execution, workflow_filter
from .live import LiveView
from .origins import origin
from .replays import ReplayLoader
from .snapshots import SnapshotCache

__all__ = ['EventPage', 'ExecutionHistory', 'ExecutionQuery', 'ExecutionRecord', 'Position', 'search_query']

ETA_SAMPLE = 20  # past successful executions whose median duration predicts a running one
EVENT_PAGE = 1_000  # events read at a time when every event of an execution is wanted (see event_pages)
EVENT_PAGE_CHARS = 4 * 1024 * 1024  # and no more of their data than this, but for the event that passes it
FIRST_READ = 50  # events the first read of a list asks for (see event_pages)
ENCODE_INLINE = 50  # events of a page encoded on the event loop; a larger page is encoded in a worker thread
ENCODE_INLINE_CHARS = 256 * 1024  # and characters of their data: a page of a few large outputs goes to the thread too


class ExecutionFilters(TypedDict, total=False):
    """Which executions: the filters of ``GET /api/executions`` (``since``/``until`` bound the creation time)."""

    workflow_id: str | None
    status: str | Sequence[str] | None
    since: datetime | None
    until: datetime | None
    trigger: str | None
    origin: str | None
    q: str | None


class ExecutionQuery(ExecutionFilters, total=False):
    """Filters and page of an execution list."""

    limit: int
    offset: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Position:
    """An execution as of position ``at`` (after its first ``at`` of ``events`` events)."""

    state: ExecutionState
    at: int
    events: int
    elapsed_s: float


def _unheard(_execution_id: str) -> None:
    """No other process to tell (SQLite: this process is the only one)."""


def search_query(text: str) -> str:
    """``text`` as a search query: surrounding white space dropped; raises Invalid when it is shorter than three or
    longer than 200 characters or holds a control character (see :mod:`flowmon.engine.core.search_text`)."""
    try:
        return normalise_query(text)
    except ValueError as exc:
        raise Invalid(str(exc), at='q') from None


async def encoded_page(events: EventPage, encode: Callable[[list[Event]], bytes]) -> bytes:
    """``encode(events)``, a page of :meth:`ExecutionHistory.event_pages`: on the event loop for a few small events,
    in a worker thread for more (so a page of large outputs does not hold up everyone else)."""
    if len(events) <= ENCODE_INLINE and events.chars <= ENCODE_INLINE_CHARS:
        return encode(events)
    return await asyncio.to_thread(encode, events)


def _check_follows(execution_id: str, after_seq: int, page: Sequence[Event]) -> None:
    """An execution's events run 1..n without a gap: a page read after ``after_seq`` that starts later lost some to a
    deletion under way (raises NotFound)."""
    if page and page[0].seq != after_seq + 1:
        raise NotFound(f'execution {execution_id!r} was deleted while its events were being read')


class EventPage(list[Event]):
    """A page of :meth:`ExecutionHistory.event_pages`: its events, and ``chars``, the characters of their data."""

    chars = 0


class _PageReads:
    """The reads of one list of events (see :meth:`ExecutionHistory.event_pages`): how many events each asks for, and
    whether a page read is the last."""

    def __init__(self, history: History, execution_id: str, limit: int | None) -> None:
        self._history = history
        self._execution_id = execution_id
        self._left = limit
        self._reach = FIRST_READ
        self._asked = 0  # the count the last read asked for
        self._cut = False  # whether the last page was cut by its size

    async def next(self, after_seq: int) -> EventPage:
        self._asked = min(self._reach, EVENT_PAGE, *(() if self._left is None else (self._left,)))
        events, self._cut, chars = await self._history.event_page(
            self._execution_id, after_seq=after_seq, limit=self._asked, max_chars=EVENT_PAGE_CHARS
        )
        if self._cut:
            self._reach = len(events) + 1
        elif len(events) == self._asked:
            self._reach = min(EVENT_PAGE, 4 * self._reach)
        if self._left is not None:
            self._left -= len(events)
        page = EventPage(events)
        page.chars = chars
        return page

    def last_page(self, page: EventPage) -> bool:
        """Whether ``page`` is the list's last: fewer events than asked for, and not for its size."""
        return len(page) < self._asked and not self._cut

    def done(self, page: EventPage) -> bool:
        """Whether nothing is left to read after ``page``: the limit reached, or its last page."""
        return (self._left is not None and self._left <= 0) or self.last_page(page)


class ExecutionHistory:
    """Every read of past and present executions that pages and routes make."""

    def __init__(
        self,
        *,
        history: History,
        recorder: EventRecorder,
        live: LiveView,
        replays: ReplayLoader,
        snapshots: SnapshotCache | None = None,
    ) -> None:
        self._history = history
        self._recorder = recorder
        self._live = live
        self._replays = replays
        self._snapshots = snapshots or SnapshotCache(history)
        # tells the other processes on the database that an execution was deleted here (set by the cluster)
        self.announce_deleted: Callable[[str], None] = _unheard
        # Called (cheap and synchronous) with each execution deleted, here or by another process, and with None when
        # some may have been deleted unheard: what keeps something of executions lets go of it (node statistics).
        self.deletion_listeners: list[Callable[[str | None], None]] = []

    async def page(self, **query: Unpack[ExecutionQuery]) -> tuple[list[ExecutionRecord], int]:
        """A page of executions, newest first, and how many match the filters; raises Invalid for a workflow id no
        workflow can have, an unknown status, trigger type or origin (see :mod:`~flowmon.application.origins`), or a
        search text ``q`` that cannot be searched for (see :func:`search_query`)."""
        status = query.get('status')
        for wanted in [status] if isinstance(status, str) else status or ():
            if wanted not in EXECUTION_STATUSES:
                raise Invalid(f'status must be one of {", ".join(EXECUTION_STATUSES)}, got {wanted!r}', at='status')
        trigger = query.get('trigger')
        if trigger is not None and trigger not in TRIGGER_TYPES:
            raise Invalid(f'trigger must be one of {", ".join(TRIGGER_TYPES)}, got {trigger!r}', at='trigger')
        refused = workflow_filter(query.get('workflow_id'))
        if refused is not None:
            raise refused
        query['origin'] = origin(query.get('origin'))
        search = query.get('q')
        if search is not None:
            query['q'] = search_query(search) if search.strip() else None  # an empty field searches for nothing
        await self._recorder.flush()
        return await self._history.list_executions(**query)

    async def record(self, execution_id: str) -> ExecutionRecord | None:
        """The execution's row (None when unknown)."""
        await self._written(execution_id)
        return await self._history.get_execution(execution_id)

    async def records(self, execution_ids: Sequence[str], *, flush: bool = True) -> dict[str, ExecutionRecord]:
        """The rows of those of ``execution_ids`` that exist, by id, once this process's pending events of them are
        written. ``flush=False``: as stored now, without waiting for those (for rows known to be written: a busy
        recorder's flush can take seconds)."""
        if flush:
            await self._recorder.flush_for(execution_ids)
        return await self._history.get_executions(execution_ids)

    async def inputs(self, execution_ids: Sequence[str]) -> dict[str, Any]:
        """The input each of ``execution_ids`` ran with, by id, as stored (those that exist; read after
        :meth:`records`, which writes this process's pending events first)."""
        return await self._history.inputs_of(execution_ids)

    async def state(self, execution_id: str) -> ExecutionState:
        """The execution's state now: live while it is in the projection, else folded from its stored events."""
        live = self._live.get(execution_id)
        if live is not None:
            return live
        final = (await self.replay(execution_id)).final
        return final or initial_state(execution_id)

    async def replay(self, execution_id: str) -> ReplayIndex:
        """The execution's replay index (state at any position, timeline, Gantt spans); raises NotFound."""
        unknown = unknown_execution(execution_id)  # (the compare page's ids come from its address, unchecked)
        if unknown is not None:
            raise unknown
        await self._written(execution_id)
        index = await self._replays.open(execution_id)
        if index is None:
            raise NotFound(f'execution {execution_id!r} not found')
        return index

    async def position(self, execution_id: str, at: int | None = None) -> Position:
        """The state after the first ``at`` events (0..n; default n); raises NotFound, or Invalid out of range."""
        index = await self.replay(execution_id)
        k = index.n if at is None else at
        if not 0 <= k <= index.n:
            raise Invalid(f'at must be between 0 and {index.n} (the number of events), got {k}', at='at')
        state = index.state_at(k) or initial_state(execution_id)
        return Position(state=state, at=k, events=index.n, elapsed_s=index.elapsed_at(k))

    async def events(self, execution_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Stored events after ``after_seq`` in ``seq`` order; raises NotFound for an unknown execution."""
        await self._written(execution_id)
        events = await self._history.events(execution_id, after_seq=after_seq, limit=limit)
        if not events and self._live.get(execution_id) is None and not await self._history.get_execution(execution_id):
            raise NotFound(f'execution {execution_id!r} not found')
        return events

    async def event_pages(
        self, execution_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> AsyncGenerator[EventPage, None]:
        """The stored events after ``after_seq``, in ``seq`` order (at most ``limit`` of them, or every one), a page
        at a time, each read after the last ``seq`` of the one before: every event of an execution of any length
        without holding them all. A page holds at most ``EVENT_PAGE`` events, and none past the one that brings their
        data to ``EVENT_PAGE_CHARS`` characters (a page of large outputs is a few events). The first page is read
        here, so NotFound (an unknown execution) and a failing first read are raised before the caller has answered
        anything; the rest are read as the pages are taken.

        The database sizes each event it reads for a page (its window sum), so a read asks for about as many events as
        the pages hold: ``FIRST_READ`` first, four times more after each page full by count, up to ``EVENT_PAGE``, and
        one more than the last page's count after a page cut by its size (a list of 1 MiB outputs sizes 5 or so
        events a page, not 1,000 to keep 4)."""
        await self._written(execution_id)
        reading = _PageReads(self._history, execution_id, limit)
        page = await reading.next(after_seq)
        if not page and not await self._exists(execution_id):
            raise NotFound(f'execution {execution_id!r} not found')
        _check_follows(execution_id, after_seq, page)
        return self._next_pages(execution_id, page, reading)

    async def _next_pages(
        self, execution_id: str, page: EventPage, reading: _PageReads
    ) -> AsyncGenerator[EventPage, None]:
        """Each page is its own read, and a deletion takes an execution's events lowest seq first, its row last: a
        page that does not start right after the one before, or a short one (not cut by its size) of an execution no
        longer stored, means a deletion overtook the reading, and a list cut short must not pass for the whole one
        (NotFound then: the caller's list ends unclosed)."""
        while page:
            yield page
            if reading.done(page):
                return
            last = page[-1].seq
            page = await reading.next(last)
            _check_follows(execution_id, last, page)
            if reading.last_page(page) and not await self._exists(execution_id):
                raise NotFound(f'execution {execution_id!r} was deleted while its events were being read')

    async def _exists(self, execution_id: str) -> bool:
        return self._live.get(execution_id) is not None or await self._history.get_execution(execution_id) is not None

    async def event_time(self, execution_id: str, seq: int) -> datetime | None:
        """When the execution's event ``seq`` was recorded (None when no such event is stored)."""
        await self._written(execution_id)
        return await self._history.event_time(execution_id, seq)

    async def events_after(
        self,
        after: tuple[datetime, str, int],
        *,
        workflow_id: str | None = None,
        types: Collection[str] | None = None,
        limit: int = 500,
    ) -> tuple[list[Event], bool]:
        """Stored events of every execution after the position ``after`` (timestamp, execution id, seq), in that
        order: what the event stream replays to a client that resumes. A page of at most ``limit`` events and none
        past the one that brings their data to ``EVENT_PAGE_CHARS`` characters; also whether it was cut by that size
        (more may follow a page shorter than ``limit``)."""
        await self._recorder.flush()
        return await self._history.events_after(
            after,
            workflow_id=workflow_id,
            types=None if types is None else sorted(types),
            limit=limit,
            max_chars=EVENT_PAGE_CHARS,
        )

    async def snapshot(self, execution_id: str) -> dict[str, Any] | None:
        """The workflow definition the execution ran with, as its first event recorded it: inline, or by content
        hash (resolved from the stored snapshots); None when it recorded none."""
        snapshot = self._live.snapshot(execution_id)
        if snapshot is not None:
            return snapshot
        await self._written(execution_id)
        first = await self._history.events(execution_id, limit=1)
        inline = workflow_snapshot(first)
        if inline is not None:
            return inline
        digest = snapshot_hash(first)
        return None if digest is None else await self._snapshots.resolve(digest)

    async def recorded_definition(self, execution_id: str, workflow_id: str | None) -> dict[str, Any] | None:
        """The workflow the execution ran: its snapshot, else the stored workflow ``workflow_id`` (the one it ran;
        None when neither)."""
        snapshot = await self.snapshot(execution_id)
        if snapshot is not None:
            return snapshot
        stored = await self._history.get_workflow(workflow_id or '')
        return dict(stored.definition) if stored is not None else None

    async def definition(self, execution_id: str, state: ExecutionState | None = None) -> dict[str, Any]:
        """What to draw: :meth:`recorded_definition`, else a bare graph of the nodes the state knows (no edges).
        Raises NotFound for an unknown execution."""
        state = state or await self.state(execution_id)
        recorded = await self.recorded_definition(execution_id, state.workflow_id)
        if recorded is not None:
            return recorded
        name = state.workflow_id or 'Execution'
        return {'id': state.workflow_id or '', 'name': name, 'nodes': [{'id': node_id} for node_id in state.nodes]}

    async def _written(self, execution_id: str) -> None:
        """Read your writes, for one execution: wait for this process's events of it that are not written yet (and
        those received before them); at once when it has none (one that ended a while ago, or another process's),
        however busy the recorder is."""
        await self._recorder.flush_for([execution_id])

    async def settle(self) -> None:
        """Wait until everything recorded so far is written, the node-run rows of finished executions included
        (deleting an execution must not race a node-run write that would bring rows of it back)."""
        await self._recorder.settle()

    def forget(self, execution_id: str, *, here: bool = True) -> None:
        """The execution was deleted (``here``, or by another process): no live projection or cached replay may show
        it any more, and the pages that show it learn so from the live view. A deletion made here is announced to the
        other processes once."""
        self._replays.forget(execution_id)
        for listener in self.deletion_listeners:
            listener(execution_id)
        if self._live.forget(execution_id, elsewhere=not here) and here:
            self.announce_deleted(execution_id)

    async def forget_unknown(self) -> None:
        """Executions may have been deleted by another process unheard (its news was lost): pages ask the store, and
        the ended executions held here (in the live projection, as cached replays) that the store no longer has are
        forgotten as deleted, so that neither the API nor a rerun answers for them from the copy (a replay being
        built meanwhile is not cached)."""
        for listener in self.deletion_listeners:
            listener(None)
        self._live.forget_unknown()
        self._replays.asking()
        held = list(dict.fromkeys([*self._live.held_finished(), *self._replays.cached]))
        stored = await self._history.workflows_of(held)  # (two columns of the rows that exist)
        for execution_id in held:
            if execution_id not in stored:
                self.forget(execution_id, here=False)

    async def is_imported(self, execution_id: str) -> bool:
        """Whether the execution came from an export file (imported executions are read-only)."""
        if self._live.is_active(execution_id):
            return False
        record = await self.record(execution_id)
        return record is not None and record.imported_from is not None

    async def usual_duration_ms(self, workflow_id: str | None, *, sample: int = ETA_SAMPLE) -> float | None:
        """The median duration of the workflow's latest successful executions run here (None without any)."""
        records, _ = await self.page(workflow_id=workflow_id, status='succeeded', origin='local', limit=sample)
        durations = [record.duration_ms for record in records if record.duration_ms is not None]
        return statistics.median(durations) if durations else None

    async def previous(
        self, execution_id: str, workflow_id: str | None, before: datetime, *, retry_of: str | None = None
    ) -> str | None:
        """The run to compare the execution with: for a rerun (``retry_of``), the execution it reran while that is
        stored; otherwise the latest other execution of ``workflow_id`` created up to ``before`` (None without
        one)."""
        if retry_of and retry_of != execution_id and await self.record(retry_of) is not None:
            return retry_of
        if not workflow_id:
            return None
        records, _ = await self.page(workflow_id=workflow_id, until=before, limit=2)
        return next((record.id for record in records if record.id != execution_id), None)
