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
node payloads with the event (``Event.data_json``), and only events without it are encoded here. The transaction
of each batch (its events, the ``executions`` rows from the live projection's folded states, the workflow
definitions its queued events name, the searchable text) is prepared by the recorder's base,
:class:`~flowmon.store.recorder_batches.BatchWrites`, which also keeps what is known of what has been written.

The ``node_runs`` rows are derived from an execution's final state off the hot path: a separate, later
transaction once the events are committed (:meth:`EventRecorder.settle` waits for it). A crash in between
leaves finished executions without node runs; :meth:`EventRecorder.start` derives them again from the events.
The recorder's node-run writer does that work (:mod:`flowmon.store.node_runs`), on the recorder's connection and
under its lock.

When several processes share a PostgreSQL database (``fence``, a :class:`~flowmon.store.cluster.WriteFence`), every
transaction starts with the fencing check of this process's lease and ends with a notification of what it wrote
(other processes follow those executions live), and the executions it creates are recorded as this process's. A
write that finds the lease gone writes nothing; :meth:`EventRecorder.disown` then lets go of this process's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS, Event, EventType
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.runtime.bus import EventBus, Subscription
from flowmon.engine.runtime.projector import Projector

from .database import Database, to_the_end
from .dialect import Fenced
from .recorder_batches import BatchWrites, Write, named_snapshots
from .recorder_rows import TYPE_TEXT, encode_data

if TYPE_CHECKING:
    from .cluster import WriteFence

log = logging.getLogger(__name__)

EXECUTION_EVENT_TYPES = frozenset(str(t) for t in EventType)


class EventRecorder(BatchWrites):
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
        super().__init__(db, projection=projection, fence=fence)
        self._ignored: set[str] = set()  # executions let go of by disown(): their events are not written
        self._bus = bus
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
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

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
            ahead: tuple[list[Event], list[tuple[Any, ...] | None], Write, int] | None = None
            while self._owed(wanted) or ahead is not None:
                prepared: Write | None = None
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
            self._release_snapshots(named_snapshots((event,)))

    async def backfill_node_runs(self) -> int:
        """Derive the node runs of finished executions that have none (a crash between the two transactions; see
        :meth:`NodeRunWriter.backfill`)."""
        return await self._node_run_writer.backfill()
