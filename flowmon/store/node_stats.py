"""Each node's latest successful runs in its workflow, read from ``node_runs`` (what "slower than usual" compares to).

One index range per node (``ix_node_runs_workflow_node``: workflow, node, status, finish time, newest first), all
of a workflow's nodes in one trip to the database's thread, so a 300-node workflow costs one round trip, not 300.
Runs in imported executions (``imported_from`` set) are left out: they are another instance's history, and this
instance's usual durations are what "slower than usual" compares with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, false, select
from sqlalchemy.engine import Connection

from flowmon.engine.core.state import ExecutionState

from .codec import from_db_time
from .database import Database
from .tables import ExecutionRow, NodeRunRow

_node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]

_latest = (
    select(_node_runs.c.execution_id, _node_runs.c.duration_ms, _node_runs.c.finished_at)
    .where(
        _node_runs.c.workflow_id == bindparam('workflow_id'),
        _node_runs.c.node_id == bindparam('node_id'),
        _node_runs.c.status == 'succeeded',
        _node_runs.c.reused == false(),
        _node_runs.c.duration_ms.is_not(None),
        ~exists().where(_executions.c.id == _node_runs.c.execution_id, _executions.c.imported_from.is_not(None)),
    )
    .order_by(_node_runs.c.finished_at.desc())
    .limit(bindparam('limit'))
)


@dataclass(frozen=True, slots=True)
class NodeRun:
    """One successful run of a node: in which execution, how long its attempts ran (added up), when it finished."""

    execution_id: str
    seconds: float
    finished_at: datetime


class NodeRunStats:
    """Reads the latest successful runs of a workflow's nodes (reused outputs, which did not run, are left out)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def latest(self, workflow_id: str, node_ids: Sequence[str], limit: int) -> dict[str, list[NodeRun]]:
        """Per node id, its latest ``limit`` successful runs in ``workflow_id``, newest first."""
        if not node_ids:
            return {}
        async with self._db.engine.connect() as conn:
            rows = await conn.run_sync(_read, workflow_id, list(node_ids), limit)
        return {
            node_id: [
                NodeRun(execution_id, duration_ms / 1000, finished)
                for execution_id, duration_ms, finished_at in runs
                if duration_ms is not None and (finished := from_db_time(finished_at)) is not None
            ]
            for node_id, runs in rows.items()
        }


def runs_of(states: Iterable[ExecutionState]) -> dict[str, dict[str, list[NodeRun]]]:
    """The successful runs the final states of executions that ran here hold, by workflow and node: the rows of them
    that :meth:`NodeRunStats.latest` reads back (an execution that ran here is not an imported one)."""
    runs: dict[str, dict[str, list[NodeRun]]] = {}
    for state in states:
        if not state.workflow_id:
            continue
        of_workflow = runs.setdefault(state.workflow_id, {})
        for node in state.nodes.values():
            ran = node.ran_ms  # what the row holds: the time its attempts ran (see node_run_rows)
            if node.status == 'succeeded' and not node.reused and ran is not None and node.finished_at:
                of_workflow.setdefault(node.id, []).append(NodeRun(state.id, ran / 1000, node.finished_at))
    return runs


def _read(conn: Connection, workflow_id: str, node_ids: list[str], limit: int) -> dict[str, Sequence[Any]]:
    """In the database's thread: one indexed query per node."""
    return {
        node_id: conn.execute(_latest, {'workflow_id': workflow_id, 'node_id': node_id, 'limit': limit}).all()
        for node_id in node_ids
    }
