"""The event recorder: every execution event, durably, in group commits.

It subscribes to the bus with a cheap callback that only appends to a pending batch. A background task
flushes the batch at least every ``flush_interval`` seconds (100 ms by default) in one transaction: the event
rows and the ``executions`` rows, executemany of pre-encoded rows in one trip to the database's thread
(:class:`~flowmon.store.database.BulkWriter`). A flush of several batches takes and prepares the next one while the
database's thread writes the one before, as it is to be written once that one has committed (and prepares it again
if it did not). Nothing is dropped: a failed write keeps its batch for the next
flush, and a backlog past ``max_backlog`` holds the engine back (bus pressure gauge) instead of growing
without bound.

The work per event is the least it can be. An event's data is encoded once: the engine hands over the JSON of
node payloads with the event (``Event.data_json``), and only events without it are encoded here. The
``executions`` rows come from the live projection's folded state (:class:`Projector`, given as
``projection``): the recorder folds nothing the projector has folded. Events the projection cannot account
for (written with :meth:`EventRecorder.write` directly: recovery, imports; or a batch cut where a reader had
already folded further) are folded here, from the state last written. The rows themselves (tuples in their
tables' column order) are made by :mod:`flowmon.store.recorder_rows`.

The ``node_runs`` rows are derived from an execution's final state off the hot path: a separate, later
transaction once the events are committed (:meth:`EventRecorder.settle` waits for it). A crash in between
leaves finished executions without node runs; :meth:`EventRecorder.start` derives them again from the events.
The recorder's node-run writer does that work (:mod:`flowmon.store.node_runs`), on the recorder's connection and
under its lock.

When several processes share a PostgreSQL database (``fence``, a :class:`~flowmon.store.cluster.WriteFence`), every
transaction starts with the fencing check of this process's lease and ends with a notification of what it wrote
(other processes follow those executions live), and the executions it creates are recorded as this process's. A
write that finds the lease gone writes nothing; :meth:`EventRecorder.disown` then lets go of this process's work.
Workflow definitions are stored once per content hash (``workflow_snapshots``): the engine hands each definition
to :meth:`EventRecorder.keep_snapshot` before the ``execution.queued`` event that names its hash, and the batch that
writes that event writes the definition too (insert-if-absent), in the same transaction: a stored execution never
names a snapshot that is not stored, and retention, which deletes only snapshots no execution row names, cannot
slip in between.

Each execution's searchable text (``execution_search``, see :mod:`flowmon.store.search`) is written in the same
transaction as its row: its input in the batch that creates the row, its whole text (input, errors, node outputs) in
the batch where it ends. That is two short rows per execution, never work per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS, Event, EventType, utcnow
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES, ExecutionState, fold
from flowmon.engine.runtime.bus import EventBus, Subscription
from flowmon.engine.runtime.projector import Projector

from .codec import dumps
from .database import Database, Step, to_the_end
from .dialect import Fenced
from .node_runs import NodeRunWriter
from .recorder_rows import (
    EVENT_COLUMNS,
    EXECUTION_COLUMNS,
    EXECUTION_UPDATE_COLUMNS,
    TYPE_TEXT,
    batch_rows,
    encode_data,
    execution_insert,
    execution_update,
    search_rows,
)
from .search import SEARCH_COLUMNS
from .tables import EventRow, ExecutionRow, ExecutionSearchRow, WorkflowSnapshotRow

if TYPE_CHECKING:
    from .cluster import WriteFence

log = logging.getLogger(__name__)

EXECUTION_EVENT_TYPES = frozenset(str(t) for t in EventType)

_events = EventRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_snapshots = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
_search = ExecutionSearchRow.__table__  # type: ignore[attr-defined]

SNAPSHOT_COLUMNS = ('hash', 'definition', 'created_at')


class EventRecorder:
    """Writes bus events to the database in group commits.

    ``projection`` is the process's live projection, whose folded states the ``executions`` rows are written
    from (without one, the recorder folds the events itself). ``fence``: this process shares the database with
    others (see the module docstring).
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        projection: Projector | None = None,
        flush_interval: float = 0.1,
        batch_limit: int = 5000,
        max_backlog: int = 50_000,
        fence: WriteFence | None = None,
    ) -> None:
        self._fence = fence
        self._ignored: set[str] = set()  # executions let go of by disown(): their events are not written
        self._bus = bus
        self._projection = projection
        self.flush_interval = flush_interval
        self.batch_limit = batch_limit
        self.max_backlog = max_backlog
        self._pending: list[Event] = []
        self._received = 0  # events ever put in _pending: those before _received - len(_pending) are taken out
        # Read your writes for one execution: the number (in _received's count) of the last event of each execution
        # received, while it may not be written yet, and how many of the first events received are written (or let go
        # of). Batches are taken from the front and put back there, so they commit in the order received.
        self._last_received: dict[str, int] = {}
        self._written_through = 0
        # The events rows of the pending events, in step with them: made as each event is taken, while the event
        # is at hand, so that a flush (which a reader may be waiting for) has only the transaction left to do.
        self._pending_rows: list[tuple[Any, ...] | None] = []
        self._writer = db.bulk_writer()
        self._insert_events = db.bulk_insert(_events, EVENT_COLUMNS)
        self._insert_executions = db.bulk_insert(_executions, EXECUTION_COLUMNS)
        self._update_executions = db.bulk_update(_executions, EXECUTION_UPDATE_COLUMNS, 'id')
        self._index_search = db.bulk_statement(
            db.upsert(_search, ['execution_id'], ['text']), SEARCH_COLUMNS, name='index executions for search'
        )
        self._encode_time = self._insert_events.encode_time
        # The state last written of every execution with a row that has not finished yet: which executions need
        # an INSERT and which an UPDATE, and where to fold from when the projection cannot give a state.
        self._states: dict[str, ExecutionState] = {}
        # Definitions handed over by keep_snapshot whose execution.queued events are not written yet: hash ->
        # [definition, how many such events]. An entry goes once every event that names it is committed.
        self._snapshots: dict[str, list[Any]] = {}
        self._insert_snapshots = db.bulk_statement(
            db.insert_ignore(_snapshots, ['hash']), SNAPSHOT_COLUMNS, name='insert workflow snapshots'
        )
        self._lock = asyncio.Lock()
        # The node-run rows of finished executions, in later transactions on the same connection, under the same lock.
        self._node_run_writer = NodeRunWriter(db, self._writer, self._lock, fence, self._check_fenced)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.written = 0
        self.flushes = 0

    @property
    def backlog(self) -> int:
        return len(self._pending)

    @property
    def has_unwritten(self) -> bool:
        """Whether any event received from the bus may not be written yet (pending, or in a write not committed)."""
        return self._received > self._written_through

    def unwritten(self, execution_id: str) -> bool:
        """Whether events of the execution received from the bus may not be written yet (what a read of its stored
        history waits for, :meth:`flush`; nothing for one that ended a while ago, however busy the recorder is)."""
        last = self._last_received.get(execution_id)
        return last is not None and last > self._written_through

    def _mark_written(self, through: int) -> None:
        """The first ``through`` events received are written (or will never be)."""
        if through <= self._written_through:
            return
        self._written_through = through
        last_received = self._last_received
        for execution_id in [key for key, last in last_received.items() if last <= through]:
            del last_received[execution_id]

    @property
    def node_run_listeners(self) -> list[Callable[[frozenset[str], Sequence[ExecutionState] | None], None]]:
        """Called with the workflow ids whose node-run rows were just committed and, for the first rows of executions
        that ran here, their final states (cheap and synchronous: the application's node statistics take the new runs
        in, or forget what they had of those workflows)."""
        return self._node_run_writer.listeners

    def node_runs_due(self, workflow_id: str) -> bool:
        """Whether finished executions of ``workflow_id`` have node-run rows still to be written (see
        :meth:`settle`)."""
        return self._node_run_writer.due_of(workflow_id)

    async def start(self) -> None:
        """Derive node runs a crash left out, then take events from the bus and write them as they come."""
        await self._writer.open()
        await self.backfill_node_runs()
        self._subscription = self._bus.subscribe(self._on_event, types=EXECUTION_EVENT_TYPES)
        self._bus.add_pressure_gauge(lambda: len(self._pending) > self.max_backlog)
        if self._projection is not None:
            self._projection.await_writes()
        self._task = asyncio.get_running_loop().create_task(self._run(), name='event recorder')

    async def stop(self) -> None:
        """Stop the flush loop and write everything still pending (events, then node runs)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.drain()
        except Fenced:  # another process has closed this one's executions: what is left must not be written
            log.warning('%d event(s) not written at stop: this process had lost its lease', len(self._pending))
        finally:
            if self._subscription is not None:
                self._subscription.unsubscribe()
                self._subscription = None
                if self._projection is not None:
                    self._projection.await_writes(False)
            await self._writer.close()

    def keep_snapshot(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Store ``definition`` under ``digest`` with the next ``execution.queued`` event that names it (the
        engine's snapshot sink: called just before that event is published)."""
        pending = self._snapshots.get(digest)
        if pending is None:
            self._snapshots[digest] = [definition, 1]
        else:
            pending[1] += 1

    def _on_event(self, event: Event) -> None:
        if self._ignored and event.execution_id in self._ignored:
            self._let_go(event)
            return
        pending = self._pending
        pending.append(event)
        self._received += 1
        self._last_received[event.execution_id] = self._received
        data_json = event.data_json
        try:
            row: tuple[Any, ...] | None = (
                event.execution_id,
                event.seq,
                self._encode_time(event.ts),
                TYPE_TEXT[event.type],
                event.node_id,
                data_json if data_json is not None else encode_data(event.data),
            )
        except Exception:  # the event is kept all the same: the flush makes its row again, and fails there
            row = None
        self._pending_rows.append(row)
        if len(pending) >= self.batch_limit:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                # Events first, then node runs, a transaction of at most a batch's worth of rows at a time, so that
                # a flush asked for meanwhile (a reader) waits for one at the most: one after every flush (under
                # sustained load events are always pending, and the node runs due would pile up), the rest while
                # no event waits.
                if self._node_run_writer.due:
                    await self.flush_node_runs(max_rows=self.batch_limit)
                while self._node_run_writer.due and not self._pending:
                    await self.flush_node_runs(max_rows=self.batch_limit)
            except Exception:
                log.exception('event flush failed; the batch is kept and retried')
                await asyncio.sleep(self.flush_interval)

    async def flush(self) -> int:
        """Write every event received before the call (and the ``executions`` rows) now; returns how many events
        this call wrote.

        Events that arrive while it writes are left to the next flush (a batch taken may carry some of them): a
        reader waits for what happened before it asked, never for a stream that keeps coming (under sustained load
        "until nothing is pending" could last as long as the load). A flush that finds its events written by the
        flush it waited for returns at once.
        The ``node_runs`` rows of executions that finished follow in a later transaction (see :meth:`settle`).
        When the write finds this process's lease gone (``fence``), its events are dropped, not retried: another
        process has closed their executions (see :meth:`disown`).
        A caller cancelled meanwhile (``stop`` cancelling the loop, a request going away) still waits for the
        batch in flight, then gets its ``CancelledError``: a transaction abandoned midway keeps its write lock
        (the next flush waits 30 s and fails) or commits after all (and the next flush duplicates it).
        """
        return await self._flush_through(self._received)

    async def flush_for(self, execution_ids: Iterable[str]) -> int:
        """Write the events of these executions received before the call, and those received before them (batches are
        written in the order received), as :meth:`flush` does; at once when they are written (:meth:`unwritten`)."""
        last_received = self._last_received
        wanted = max((last_received.get(execution_id, 0) for execution_id in execution_ids), default=0)
        if wanted <= self._written_through:
            return 0
        return await self._flush_through(wanted)

    async def _flush_through(self, wanted: int) -> int:
        """Write the first ``wanted`` events received (those not written yet); see :meth:`flush`."""
        async with self._lock:
            total = 0
            # The batch after the one being written, taken and prepared while that one is in the database's thread
            # (as it is to be written once that one has committed): the two overlap instead of taking turns.
            ahead: tuple[list[Event], list[tuple[Any, ...] | None], _Write, int] | None = None
            while self._owed(wanted) or ahead is not None:
                prepared: _Write | None = None
                if ahead is None:
                    batch, rows = self._take()
                    through = self._taken()
                else:
                    batch, rows, prepared, through = ahead
                    ahead = None
                try:
                    write = prepared or self._prepare(batch, live=True, rows=rows)
                    submitted = self._writer.submit(write.steps)
                except Exception:  # the write could not even start
                    self._pending[:0], self._pending_rows[:0] = batch, rows
                    raise
                if self._owed(wanted):
                    next_batch, next_rows = self._take()
                    next_through = self._taken()
                    try:
                        ahead = (
                            next_batch,
                            next_rows,
                            self._prepare(next_batch, live=True, rows=next_rows, after=write),
                            next_through,
                        )
                    except Exception:  # prepared again on the next turn (and failing there, raised)
                        self._pending[:0], self._pending_rows[:0] = next_batch, next_rows
                error, cancelled = await to_the_end(submitted)
                if error is not None or cancelled:
                    if ahead is not None:  # prepared for a commit that did not happen, or not to be written now
                        self._pending[:0], self._pending_rows[:0] = ahead[0], ahead[1]
                        ahead = None
                if error is None:
                    self._mark_written(through)
                    try:
                        self._committed(write)
                    except BaseException:
                        if ahead is not None:  # not to be lost with the error
                            self._pending[:0], self._pending_rows[:0] = ahead[0], ahead[1]
                        raise
                elif isinstance(error, Fenced):  # this process lost its lease: these events are never to be written
                    self._mark_written(through)
                    for event in batch:
                        self._let_go(event)
                    self._check_fenced(error)
                    if cancelled:
                        raise asyncio.CancelledError
                    continue
                else:
                    self._pending[:0], self._pending_rows[:0] = batch, rows  # keep order; retried on the next flush
                    if cancelled:
                        raise asyncio.CancelledError from error
                    raise error
                total += len(batch)
                if cancelled:
                    raise asyncio.CancelledError
            return total

    def _owed(self, wanted: int) -> bool:
        """Whether some of the first ``wanted`` events received are still pending (put back after a failed write,
        or never taken)."""
        return bool(self._pending) and self._received - len(self._pending) < wanted

    def _taken(self) -> int:
        """How many of the events received are taken out of the pending ones (right after :meth:`_take`: the number of
        the batch's last event)."""
        return self._received - len(self._pending)

    def _take(self) -> tuple[list[Event], list[tuple[Any, ...] | None]]:
        """The next batch of pending events (and their rows), out of the pending ones."""
        batch = self._pending[: self.batch_limit]
        rows = self._pending_rows[: len(batch)]
        del self._pending[: len(batch)], self._pending_rows[: len(batch)]
        return batch, rows

    async def settle(self) -> None:
        """Write what was received before the call: its events, then the node-run rows of the executions that had
        finished by then (what a reader of node runs waits for). What comes meanwhile is left to the flush loop,
        as in :meth:`flush`."""
        await self.flush()
        finished = set(self._node_run_writer.due)
        while not finished.isdisjoint(self._node_run_writer.due):
            await self.flush_node_runs(max_rows=self.batch_limit, only=finished)

    async def drain(self) -> None:
        """Write everything pending, and what comes meanwhile, until nothing is left: the events, then the node-run
        rows of the executions that finished (at stop; a reader settles instead)."""
        await self.settle()
        while self._pending or self._node_run_writer.due:
            await self.settle()

    async def write(
        self,
        batch: Sequence[Event],
        seed: Mapping[str, ExecutionState] | None = None,
        *,
        new_execution_columns: Mapping[str, Mapping[str, Any]] | None = None,
        snapshots: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Persist ``batch`` (events that did not come over the bus) in one transaction, node runs included.

        ``seed`` gives the states of executions the batch continues (recovery appends to stored histories).
        ``new_execution_columns`` adds column values to the rows of executions this batch creates, by
        execution id (the import sets ``imported_from`` this way, in the same transaction); ``snapshots`` adds
        workflow definitions by content hash (the import's, which came with the file rather than the engine).
        """
        if not batch:
            return
        write = self._prepare(batch, seed, new_execution_columns=new_execution_columns, snapshots=snapshots, live=False)
        try:
            await self._writer.write(write.steps)
        except Fenced as error:
            self._check_fenced(error)
            raise
        self._committed(write)

    def _prepare(
        self,
        batch: Sequence[Event],
        seed: Mapping[str, ExecutionState] | None = None,
        *,
        new_execution_columns: Mapping[str, Mapping[str, Any]] | None = None,
        snapshots: Mapping[str, Mapping[str, Any]] | None = None,
        live: bool,
        rows: Sequence[tuple[Any, ...] | None] | None = None,
        after: _Write | None = None,
    ) -> _Write:
        """The transaction for ``batch``: its events and the executions rows; with ``live`` (the bus's events, in
        order) the states come from the projection and the node runs are left for a later transaction. ``after``: a
        write not committed yet, which this one is to follow (prepared as if it had committed)."""
        last_seq: dict[str, int] = {}
        for event in batch:
            last_seq[event.execution_id] = event.seq
        states = self._states
        if after is not None:  # as _committed will leave them: the finished ones gone, the others at their new state
            states = {key: state for key, state in states.items() if key not in after.finished}
            states.update((key, state) for key, state in after.touched.items() if key not in after.finished)
        projection = self._projection if live else None
        by_execution: dict[str, list[Event]] | None = None
        touched: dict[str, ExecutionState] = {}
        for execution_id, seq in last_seq.items():
            state = None if projection is None else projection.state_through(execution_id, seq)
            if state is None:  # fold here: the projection has not seen these events, or has folded past them
                if by_execution is None:
                    by_execution = _by_execution(batch)
                base = seed.get(execution_id) if seed and execution_id in seed else states.get(execution_id)
                state = fold(by_execution[execution_id], base)
                assert state is not None  # a non-empty run of events always makes a state
            touched[execution_id] = state
        encode_time = self._encode_time
        if rows is None or None in rows:
            event_rows = batch_rows(batch, encode_time)
        else:
            event_rows = cast(list[tuple[Any, ...]], rows)
        # Known states change only after the commit (_committed): a failed write must leave them as they were, or
        # the retry would take an inserted-before execution for one that has a row (and update nothing).
        seeded = seed or {}
        extra = new_execution_columns or {}
        owner = self._fence.owner if live and self._fence is not None else None
        inserts = [
            execution_insert(state, encode_time, extra.get(execution_id), owner)
            for execution_id, state in touched.items()
            if execution_id not in states and execution_id not in seeded
        ]
        updates = [
            execution_update(state, encode_time)
            for execution_id, state in touched.items()
            if execution_id in states or execution_id in seeded
        ]
        named = _named_snapshots(batch) if self._snapshots or snapshots else {}
        finished = {
            execution_id: (state, execution_id not in seeded)  # a live execution has no node runs before its end
            for execution_id, state in touched.items()
            if state.status in TERMINAL_EXECUTION_STATUSES
        }
        steps: list[Step] = [
            (self._insert_snapshots, self._snapshot_rows(named, snapshots)),
            (self._insert_events, event_rows),
            (self._insert_executions, inserts),
            (self._update_executions, updates),
            (self._index_search, search_rows(touched, inserts, finished)),
        ]
        if finished and not live:
            steps += self._node_run_writer.steps(finished)
        if self._fence is not None:
            steps = [self._fence.check(), *steps, self._fence.notice(last_seq)]
        handed_over = named if snapshots is None else {}  # (an import's were not handed over)
        return _Write(len(batch), steps, touched, last_seq, finished, live, handed_over)

    def _committed(self, write: _Write) -> None:
        """Bring what the recorder knows up to a write that has committed."""
        states = self._states
        for execution_id, state in write.touched.items():
            if execution_id in write.finished:
                states.pop(execution_id, None)
            else:
                states[execution_id] = state
        if write.live:
            self._node_run_writer.due.update(write.finished)
            if self._projection is not None:  # (an ended execution is held until its end is written)
                for execution_id, seq in write.last_seq.items():
                    self._projection.persisted(execution_id, seq)
        elif write.finished:
            self._node_run_writer.written(state for state, _ in write.finished.values())
        self._release_snapshots(write.snapshots)
        self.written += write.events
        self.flushes += 1

    def _snapshot_rows(
        self, named: Mapping[str, int], given: Mapping[str, Mapping[str, Any]] | None
    ) -> list[tuple[Any, ...]]:
        """The ``workflow_snapshots`` rows for the hashes a batch names, from what was handed over."""
        rows = []
        now = self._encode_time(utcnow())
        for digest in named:
            pending = self._snapshots.get(digest)
            definition = given.get(digest) if given and digest in given else pending[0] if pending else None
            if definition is not None:
                rows.append((digest, dumps(dict(definition)), now))
        return rows

    async def flush_node_runs(self, *, max_rows: int | None = None, only: Collection[str] | None = None) -> int:
        """Write the node-run rows of executions that finished since the last time; returns how many executions.

        ``max_rows``: stop taking executions once their rows reach this many (one execution at least); ``only``:
        of these executions alone (see :meth:`NodeRunWriter.flush`)."""
        return await self._node_run_writer.flush(max_rows=max_rows, only=only)

    async def disown(self, execution_ids: Iterable[str]) -> int:
        """Let go of this process's work after its lease was found gone (another process has closed its executions):
        drop every event and node run not yet written, and from now on ignore the events of ``execution_ids`` (those
        still running here, which the engine is about to interrupt) and of every execution whose events were dropped
        (one begun since the caller listed them). An execution's end stops its being ignored. Returns how many
        events were dropped."""
        async with self._lock:  # not while a write is in flight: a failed one puts its batch back
            dropped = self._pending
            self._pending, self._pending_rows = [], []
            self._mark_written(self._received)  # (none of them will be)
            self._states.clear()
            self._node_run_writer.due.clear()
            self._ignored.update(execution_ids)
            for event in dropped:  # (an execution whose events are dropped is ignored from then on too)
                self._let_go(event)
            return len(dropped)

    def _let_go(self, event: Event) -> None:
        """An event that will never be written (this process lost its lease): the projection need not keep its
        execution for the recorder, nor the recorder the definition it names, and the execution's events are ignored
        until its end."""
        if self._projection is not None:
            self._projection.persisted(event.execution_id, event.seq)
        if event.type in TERMINAL_EXECUTION_EVENTS:
            self._ignored.discard(event.execution_id)
            return
        # the execution's later events are not written either (until its end): from its later events on, its
        # history would start in the middle
        self._ignored.add(event.execution_id)
        if event.type is EventType.EXECUTION_QUEUED and self._snapshots:
            self._release_snapshots(_named_snapshots((event,)))

    def _release_snapshots(self, named: Mapping[str, int]) -> None:
        """Events naming these snapshot hashes (so many each) are written or dropped: the definitions handed over
        for them are let go of once no pending event names them."""
        for digest, count in named.items():
            pending = self._snapshots.get(digest)
            if pending is not None:
                pending[1] -= count
                if pending[1] <= 0:
                    del self._snapshots[digest]

    def _check_fenced(self, error: BaseException | None) -> None:
        if isinstance(error, Fenced) and self._fence is not None:
            log.error('this process lost its lease on the database: %s', error)
            self._fence.fenced()

    async def backfill_node_runs(self) -> int:
        """Derive the node runs of finished executions that have none (a crash between the two transactions; see
        :meth:`NodeRunWriter.backfill`)."""
        return await self._node_run_writer.backfill()


@dataclass(frozen=True, slots=True)
class _Write:
    """One transaction of the recorder, prepared: its steps and what it changes once committed."""

    events: int
    steps: list[Step]
    touched: dict[str, ExecutionState]  # the states written, by execution
    last_seq: dict[str, int]  # the last event written, by execution
    finished: dict[str, tuple[ExecutionState, bool]]  # executions that ended (state, no node runs written yet)
    live: bool
    snapshots: dict[str, int]  # handed-over snapshot hashes this write stores, with how many events name each


def _by_execution(batch: Iterable[Event]) -> dict[str, list[Event]]:
    by_execution: dict[str, list[Event]] = {}
    for event in batch:
        events = by_execution.get(event.execution_id)
        if events is None:
            by_execution[event.execution_id] = [event]
        else:
            events.append(event)
    return by_execution


def _named_snapshots(batch: Sequence[Event]) -> dict[str, int]:
    """How many ``execution.queued`` events of ``batch`` name each snapshot hash."""
    named: dict[str, int] = {}
    for event in batch:
        if event.type is EventType.EXECUTION_QUEUED:
            digest = event.data.get('workflow_hash')
            if isinstance(digest, str):
                named[digest] = named.get(digest, 0) + 1
    return named
