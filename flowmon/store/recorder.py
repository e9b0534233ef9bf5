"""The event recorder: every execution event, durably, in group commits.

It subscribes to the bus with a cheap callback that only appends to a pending batch. A background task
flushes the batch at least every ``flush_interval`` seconds (100 ms by default) in one transaction, with
executemany inserts of pre-encoded rows (:class:`~flowmon.store.database.BulkInsert`: the driver's own
executemany on SQLite, Core's elsewhere; the ORM's per-object path is two orders of magnitude slower). The
execution and node-run rows are derived from the same events with the reducer, one ``fold`` per execution
per batch. Nothing is dropped: a failed write keeps its batch for the next flush, and a backlog past
``max_backlog`` holds the engine back (bus pressure gauge) instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.state import ExecutionState, fold
from flowmon.engine.runtime.bus import EventBus, Subscription

from .codec import dumps, to_db_time
from .database import BulkInsert, Database, TimeEncoder
from .tables import EventRow, ExecutionRow, NodeRunRow

log = logging.getLogger(__name__)

EXECUTION_EVENT_TYPES = frozenset(str(t) for t in EventType)

_events = EventRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]

EVENT_COLUMNS = ('execution_id', 'seq', 'ts', 'type', 'node_id', 'data')
NODE_RUN_COLUMNS = (
    'execution_id',
    'node_id',
    'status',
    'attempts',
    'started_at',
    'finished_at',
    'duration_ms',
    'reused',
    'error',
)
_TYPE_TEXT = {event_type: str(event_type) for event_type in EventType}

_update_execution = (
    _executions.update()
    .where(_executions.c.id == bindparam('b_id'))
    .values(
        status=bindparam('b_status'),
        output=bindparam('b_output'),
        error=bindparam('b_error'),
        started_at=bindparam('b_started_at'),
        finished_at=bindparam('b_finished_at'),
        duration_ms=bindparam('b_duration_ms'),
        nodes_done=bindparam('b_nodes_done'),
        nodes_total=bindparam('b_nodes_total'),
        last_seq=bindparam('b_last_seq'),
    )
)


class EventRecorder:
    """Writes bus events to the database in group commits."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        flush_interval: float = 0.1,
        batch_limit: int = 5000,
        max_backlog: int = 50_000,
    ) -> None:
        self._db = db
        self._bus = bus
        self.flush_interval = flush_interval
        self.batch_limit = batch_limit
        self.max_backlog = max_backlog
        self._pending: list[Event] = []
        self._insert_events = db.bulk_insert(_events, EVENT_COLUMNS)
        self._insert_node_runs = db.bulk_insert(_node_runs, NODE_RUN_COLUMNS)
        self._states: dict[str, ExecutionState] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.written = 0
        self.flushes = 0

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(self._on_event, types=EXECUTION_EVENT_TYPES)
        self._bus.add_pressure_gauge(lambda: len(self._pending) > self.max_backlog)
        self._task = asyncio.get_running_loop().create_task(self._run(), name='event recorder')

    async def stop(self) -> None:
        """Stop the flush loop and write everything still pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None

    def _on_event(self, event: Event) -> None:
        self._pending.append(event)
        if len(self._pending) >= self.batch_limit:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception('event flush failed; the batch is kept and retried')
                await asyncio.sleep(self.flush_interval)

    async def flush(self) -> int:
        """Write all pending events now; returns how many were written.

        A caller cancelled meanwhile (``stop`` cancelling the loop, a request going away) still waits for the
        batch in flight, then gets its ``CancelledError``: a transaction abandoned midway keeps its write lock
        (the next flush waits 30 s and fails) or commits after all (and the next flush duplicates it).
        """
        async with self._lock:
            total = 0
            while self._pending:
                batch = self._pending[: self.batch_limit]
                del self._pending[: len(batch)]
                writing = asyncio.ensure_future(self.write(batch))
                cancelled = await _wait_through_cancellation(writing)
                error = asyncio.CancelledError() if writing.cancelled() else writing.exception()
                if error is not None:
                    self._pending[:0] = batch  # keep order; retried on the next flush
                    if cancelled:
                        raise asyncio.CancelledError from error
                    raise error
                total += len(batch)
                if cancelled:
                    raise asyncio.CancelledError
            return total

    async def write(
        self,
        batch: Sequence[Event],
        seed: Mapping[str, ExecutionState] | None = None,
        *,
        new_execution_columns: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Persist ``batch`` in one transaction. ``seed`` gives states for executions not seen live.

        ``new_execution_columns`` adds column values to the rows of executions this batch creates, by
        execution id (the import sets ``imported_from`` this way, in the same transaction).
        """
        if not batch:
            return
        # Known states change only after the commit: a failed write must leave them as they were, or the
        # retry would take an inserted-before execution for one that has a row (and update nothing).
        states = {**self._states, **seed} if seed else self._states
        by_execution: dict[str, list[Event]] = {}
        for event in batch:
            events = by_execution.get(event.execution_id)
            if events is None:
                by_execution[event.execution_id] = [event]
            else:
                events.append(event)
        before = {eid for eid in by_execution if eid in states}
        touched: dict[str, ExecutionState] = {}
        for eid, events in by_execution.items():
            state = fold(events, states.get(eid))  # the same state as applying them one by one
            assert state is not None  # a non-empty run of events always makes a state
            touched[eid] = state
        encode_time = self._insert_events.encode_time
        event_rows = [_event_row(event, encode_time) for event in batch]
        async with self._db.engine.begin() as conn:
            await self._insert_events(conn, event_rows)
            extra = new_execution_columns or {}
            inserts = [
                {**_execution_insert(state), **extra.get(eid, {})}
                for eid, state in touched.items()
                if eid not in before
            ]
            if inserts:
                await conn.execute(_executions.insert(), inserts)
            updates = [_execution_update(state) for eid, state in touched.items() if eid in before]
            if updates:
                await conn.execute(_update_execution, updates)
            finished = [state for state in touched.values() if state.is_terminal]
            if finished:
                # Node runs are written once, when an execution ends: one that was running until now (known
                # live and not finished, or new in this batch) has none yet. Seeded states (recovery) may.
                first_time = {
                    eid
                    for eid in touched
                    if (seed is None or eid not in seed) and not (eid in states and states[eid].is_terminal)
                }
                await write_node_runs(conn, finished, self._insert_node_runs, first_time)
        for execution_id, state in touched.items():
            if state.is_terminal:
                self._states.pop(execution_id, None)
            else:
                self._states[execution_id] = state
        self.written += len(batch)
        self.flushes += 1


async def _wait_through_cancellation(task: asyncio.Future[None]) -> bool:
    """Wait until ``task`` is done, even if the waiter is cancelled meanwhile; returns whether it was."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait((task,))  # unlike awaiting the task, this never cancels it
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


async def write_node_runs(
    conn: AsyncConnection,
    states: Iterable[ExecutionState],
    insert: BulkInsert,
    first_time: Collection[str] = (),
) -> None:
    """Replace the node-run rows of finished executions with what their final state says.

    Executions in ``first_time`` are known to have no node-run rows yet: nothing is deleted for them.
    """
    states = list(states)
    replaced = [state.id for state in states if state.id not in first_time]
    if replaced:
        await conn.execute(delete(_node_runs).where(_node_runs.c.execution_id.in_(replaced)))
    encode_time = insert.encode_time
    rows = [
        (
            state.id,
            node.id,
            node.status,
            node.attempts,
            encode_time(node.started_at),
            encode_time(node.finished_at),
            node.duration_ms,
            node.reused,
            node.error,
        )
        for state in states
        for node in state.nodes.values()
    ]
    await insert(conn, rows)


def _event_row(event: Event, encode_time: TimeEncoder) -> tuple[Any, ...]:
    """The ``events`` row of ``event``, in :data:`EVENT_COLUMNS` order."""
    data = event.data
    return (
        event.execution_id,
        event.seq,
        encode_time(event.ts),
        _TYPE_TEXT.get(event.type) or str(event.type),
        event.node_id,
        dumps(data if isinstance(data, dict) else dict(data)),  # the encoder needs a dict; copy only others
    )


def _execution_insert(state: ExecutionState) -> dict[str, Any]:
    return {
        'id': state.id,
        'workflow_id': state.workflow_id or '',
        'status': state.status,
        'priority': state.priority,
        'input': dumps(state.input),
        'output': None if state.output is None else dumps(state.output),
        'error': state.error,
        'created_at': to_db_time(state.created_at or state.last_ts),
        'started_at': to_db_time(state.started_at),
        'finished_at': to_db_time(state.finished_at),
        'duration_ms': state.duration_ms,
        'retry_of': state.retry_of,
        'nodes_done': state.done,
        'nodes_total': state.total,
        'last_seq': state.last_seq,
    }


def _execution_update(state: ExecutionState) -> dict[str, Any]:
    return {
        'b_id': state.id,
        'b_status': state.status,
        'b_output': None if state.output is None else dumps(state.output),
        'b_error': state.error,
        'b_started_at': to_db_time(state.started_at),
        'b_finished_at': to_db_time(state.finished_at),
        'b_duration_ms': state.duration_ms,
        'b_nodes_done': state.done,
        'b_nodes_total': state.total,
        'b_last_seq': state.last_seq,
    }
