"""The recorder's node-run writer: the ``node_runs`` rows of finished executions, derived from their final state off
the hot path.

The recorder hands over the executions a live batch ended once that batch has committed (:attr:`NodeRunWriter.due`);
its flush loop, :meth:`~flowmon.store.recorder.EventRecorder.settle` and
:meth:`~flowmon.store.recorder.EventRecorder.drain` write their rows in later transactions of at most a batch's worth
of rows (:meth:`NodeRunWriter.flush`), on the recorder's connection and under its lock. A batch that did not come over
the bus (recovery, imports) writes its node runs in its own transaction (:meth:`NodeRunWriter.steps`). A crash between
the two transactions leaves finished executions without node runs; :meth:`NodeRunWriter.backfill` derives them again
from the events when the recorder starts. Every write replaces an execution's rows with what its final state says, and
deletes the rows of an execution deleted since it ended. Listeners hear which workflows' node runs were just written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, exists, select

from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES, ExecutionState

from .database import BulkWriter, Database, Step, TimeEncoder, to_the_end
from .dialect import Fenced
from .history import History
from .tables import ExecutionRow, NodeRunRow

if TYPE_CHECKING:
    from .cluster import WriteFence

# The recorder's logger: this is the recorder's work, and its lines keep the name they have always had.
log = logging.getLogger('flowmon.store.recorder')

_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]

NODE_RUN_COLUMNS = (
    'execution_id',
    'node_id',
    'workflow_id',
    'status',
    'attempts',
    'started_at',
    'finished_at',
    'duration_ms',
    'reused',
    'error',
)

_delete_node_runs = _node_runs.delete().where(_node_runs.c.execution_id == bindparam('b_execution_id'))
# the node runs just written of an execution deleted since it ended (retention pruned it between its end and this
# write, in a transaction of its own): none may outlive it
_delete_orphaned_node_runs = _node_runs.delete().where(
    _node_runs.c.execution_id == bindparam('b_execution_id'),
    ~exists().where(_executions.c.id == _node_runs.c.execution_id),
)
# the count an execution that ended without its node runs lacks (migration 0006 counts node runs)
_fill_succeeded = (
    _executions.update()
    .where(_executions.c.id == bindparam('b_id'), _executions.c.nodes_succeeded.is_(None))
    .values(nodes_succeeded=bindparam('b_nodes_succeeded'))
)


class NodeRunWriter:
    """Writes the ``node_runs`` rows of finished executions for an :class:`~flowmon.store.recorder.EventRecorder`,
    with its ``writer``, its ``lock`` (one transaction of the recorder at a time) and its ``fence``;
    ``check_fenced`` is what the recorder does with an error that may say its lease is gone."""

    def __init__(
        self,
        db: Database,
        writer: BulkWriter,
        lock: asyncio.Lock,
        fence: WriteFence | None,
        check_fenced: Callable[[BaseException | None], None],
    ) -> None:
        self._db = db
        self._insert_node_runs = db.bulk_insert(_node_runs, NODE_RUN_COLUMNS)
        self._delete_node_runs = db.bulk_statement(_delete_node_runs, ('b_execution_id',), name='delete node runs')
        self._delete_orphaned_node_runs = db.bulk_statement(
            _delete_orphaned_node_runs, ('b_execution_id',), name='delete node runs of deleted executions'
        )
        self._fill_succeeded = db.bulk_statement(
            _fill_succeeded, ('b_nodes_succeeded', 'b_id'), name='fill nodes succeeded'
        )
        self._encode_time = self._insert_node_runs.encode_time
        # The recorder's: its writer (on SQLite, the connection it keeps), its lock (one transaction of the recorder
        # at a time) and its fence.
        self._writer = writer
        self._lock = lock
        self._fence = fence
        self._check_fenced = check_fenced
        # Finished executions whose node-run rows are still to be written (``first``: none written before).
        self.due: dict[str, tuple[ExecutionState, bool]] = {}
        # Called with the workflow ids whose node-run rows were just committed and, when those are the first rows of
        # executions that ran here (from the bus), their final states (cheap and synchronous: the application's node
        # statistics take the new runs in, or forget what they had of those workflows).
        self.listeners: list[Callable[[frozenset[str], Sequence[ExecutionState] | None], None]] = []

    def due_of(self, workflow_id: str) -> bool:
        """Whether finished executions of ``workflow_id`` have node-run rows still to be written."""
        return any(state.workflow_id == workflow_id for state, _ in self.due.values())

    async def flush(self, *, max_rows: int | None = None, only: Collection[str] | None = None) -> int:
        """Write the node-run rows of executions that finished since the last time; returns how many executions.

        ``max_rows``: stop taking executions once their rows reach this many (one execution at least); ``only``:
        of these executions alone."""
        due = self.due
        if not due:
            return 0
        async with self._lock:
            taken: dict[str, tuple[ExecutionState, bool]] = {}
            rows = 0
            for execution_id, (state, first) in due.items():
                if only is not None and execution_id not in only:
                    continue
                if taken and max_rows is not None and rows + len(state.nodes) > max_rows:
                    break
                taken[execution_id] = (state, first)
                rows += len(state.nodes)
            if not taken:
                return 0
            steps = self.steps(taken)
            if self._fence is not None:
                steps.insert(0, self._fence.check())
            error, cancelled = await to_the_end(self._writer.submit(steps))
            if error is None or isinstance(error, Fenced):  # (fenced: those rows are another process's to write)
                for execution_id in taken:
                    due.pop(execution_id, None)
                if error is None:  # (fenced: not written here, so nothing new to tell)
                    states = [state for state, _ in taken.values()]
                    self.written(states, first=all(first for _, first in taken.values()))
            self._check_fenced(error)
            if isinstance(error, Fenced):
                error = None
            if cancelled:
                raise asyncio.CancelledError from error
            if error is not None:
                raise error
            return len(taken)

    def steps(self, finished: Mapping[str, tuple[ExecutionState, bool]]) -> list[Step]:
        """Replace the node-run rows of finished executions with what their final state says.

        An execution flagged ``first`` is known to have no node-run rows yet: nothing is deleted for it. Rows of
        an execution that is no longer there (deleted since it ended) go again at once.
        """
        replaced = [(execution_id,) for execution_id, (_, first) in finished.items() if not first]
        return [
            (self._delete_node_runs, replaced),
            (self._insert_node_runs, node_run_rows((state for state, _ in finished.values()), self._encode_time)),
            (self._delete_orphaned_node_runs, [(execution_id,) for execution_id in finished]),
        ]

    def written(self, states: Iterable[ExecutionState], *, first: bool = False) -> None:
        """Tell the listeners which workflows' node-run rows were just committed (those of ``states``); ``first``: the
        first rows of executions that ran here, all of them said by ``states``."""
        states = list(states)
        workflows = frozenset(state.workflow_id for state in states if state.workflow_id)
        if not workflows:
            return
        for listener in list(self.listeners):
            try:
                listener(workflows, states if first else None)
            except Exception:
                log.exception('node-run listener failed')

    async def backfill(self) -> int:
        """Derive the node runs of finished executions that have none (a crash between the two transactions)."""
        missing = (
            select(_executions.c.id)
            .where(
                _executions.c.status.in_(sorted(TERMINAL_EXECUTION_STATUSES)),
                ~exists().where(_node_runs.c.execution_id == _executions.c.id),
            )
            .order_by(_executions.c.created_at)
        )
        async with self._db.engine.connect() as conn:
            ids = [row[0] for row in (await conn.execute(missing)).all()]
        history = History(self._db)
        repaired = 0
        for execution_id in ids:
            try:
                state = await history.load_state(execution_id)
                if state is None or not state.nodes:
                    continue
                steps = self.steps({execution_id: (state, True)})
                steps.append((self._fill_succeeded, [(state.ended_succeeded, execution_id)]))
                await self._writer.write(steps)
                self.written([state])
            except Exception:  # one odd history must not keep flowmon from starting
                log.exception('could not derive the node runs of execution %s', execution_id)
                continue
            repaired += 1
        if repaired:
            log.warning('derived the node runs of %d finished execution(s) the last shutdown left without', repaired)
        return repaired


def node_run_rows(states: Iterable[ExecutionState], encode_time: TimeEncoder) -> list[tuple[Any, ...]]:
    """The ``node_runs`` rows of finished executions, in :data:`NODE_RUN_COLUMNS` order."""
    return [
        (
            state.id,
            node.id,
            state.workflow_id,
            node.status,
            node.attempts,
            encode_time(node.started_at),
            encode_time(node.finished_at),
            node.ran_ms,  # the time its attempts ran, added up: what "slower than usual" compares (not the waits)
            node.reused,
            node.error,
        )
        for state in states
        for node in state.nodes.values()
    ]
