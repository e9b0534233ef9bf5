"""The transactions of the event recorder: :class:`BatchWrites`, the base of
:class:`~flowmon.store.recorder.EventRecorder`, turns a batch of events into the one transaction that writes it
(:meth:`BatchWrites._prepare`), and keeps what the recorder knows of what it has written, brought up to each write
that commits (:meth:`BatchWrites._committed`). The recorder itself takes the events from the bus, batches them and
hands each batch over to the database's thread (flush, back-pressure, the lease); the line between the two is where a
batch becomes steps, so this half can be read (and changed) without the flush loop around it.

A batch's transaction holds its ``events`` rows (made by the recorder as each event came, or here), the
``executions`` rows of the executions it touches and their searchable text. The ``executions`` rows come from the
live projection's folded state (:class:`Projector`, given as ``projection``): the recorder folds nothing the
projector has folded. Events the projection cannot account for (written with :meth:`BatchWrites.write` directly:
recovery, imports; or a batch cut where a reader had already folded further) are folded here, from the state last
written. The rows themselves (tuples in their tables' column order) are made by :mod:`flowmon.store.recorder_rows`.

Workflow definitions are stored once per content hash (``workflow_snapshots``): the engine hands each definition
to :meth:`BatchWrites.keep_snapshot` before the ``execution.queued`` event that names its hash, and the batch that
writes that event writes the definition too (insert-if-absent), in the same transaction: a stored execution never
names a snapshot that is not stored, and retention, which deletes only snapshots no execution row names, cannot
slip in between.

Each execution's searchable text (``execution_search``, see :mod:`flowmon.store.search`) is written in the same
transaction as its row: its input in the batch that creates the row, its whole text (input, errors, node outputs) in
the batch where it ends. That is two short rows per execution, never work per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flowmon.engine.core.events import Event, EventType, utcnow
from flowmon.engine.core.reducer import fold
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES, ExecutionState
from flowmon.engine.runtime.projector import Projector

from .codec import dumps
from .database import Database, Step
from .dialect import Fenced
from .node_runs import NodeRunWriter
from .recorder_rows import (
    EVENT_COLUMNS,
    EXECUTION_COLUMNS,
    EXECUTION_UPDATE_COLUMNS,
    batch_rows,
    execution_insert,
    execution_update,
    search_rows,
)
from .search import SEARCH_COLUMNS
from .tables import EventRow, ExecutionRow, ExecutionSearchRow, WorkflowSnapshotRow

if TYPE_CHECKING:
    from .cluster import WriteFence

# The recorder's logger: this is the recorder's work, and its lines keep the name they have always had.
log = logging.getLogger('flowmon.store.recorder')

_events = EventRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_snapshots = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
_search = ExecutionSearchRow.__table__  # type: ignore[attr-defined]

SNAPSHOT_COLUMNS = ('hash', 'definition', 'created_at')


class BatchWrites:
    """The recorder's transactions and what it knows of what it has written (see the module docstring).

    ``projection`` is the process's live projection, whose folded states the ``executions`` rows are written
    from (without one, the recorder folds the events itself). ``fence``: this process shares the database with
    others (see :mod:`flowmon.store.recorder`).
    """

    def __init__(self, db: Database, *, projection: Projector | None, fence: WriteFence | None) -> None:
        self._fence = fence
        self._projection = projection
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
        self.written = 0
        self.flushes = 0

    def keep_snapshot(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Store ``definition`` under ``digest`` with the next ``execution.queued`` event that names it (the
        engine's snapshot sink: called just before that event is published)."""
        pending = self._snapshots.get(digest)
        if pending is None:
            self._snapshots[digest] = [definition, 1]
        else:
            pending[1] += 1

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
        after: Write | None = None,
    ) -> Write:
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
        named = named_snapshots(batch) if self._snapshots or snapshots else {}
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
        return Write(len(batch), steps, touched, last_seq, finished, live, handed_over)

    def _committed(self, write: Write) -> None:
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


@dataclass(frozen=True, slots=True)
class Write:
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


def named_snapshots(batch: Sequence[Event]) -> dict[str, int]:
    """How many ``execution.queued`` events of ``batch`` name each snapshot hash."""
    named: dict[str, int] = {}
    for event in batch:
        if event.type is EventType.EXECUTION_QUEUED:
            digest = event.data.get('workflow_hash')
            if isinstance(digest, str):
                named[digest] = named.get(digest, 0) + 1
    return named
