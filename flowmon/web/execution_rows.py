"""One execution as a list row, from either source: a stored record (SQL) or a live state (projector).

Lists are served from SQL and kept live from the projector: :func:`merge_live` lays the live states over a
page of stored rows, so an execution that has just been queued shows up before its row is committed, and a
running one shows its current status rather than the one committed a moment ago.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flowmon.application.history import ExecutionRecord
from flowmon.engine.core.provenance import trigger_type
from flowmon.engine.core.state import ExecutionState

from .filters import ExecutionFilter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Statuses of a run that ended before all its nodes succeeded: its progress counts the nodes that succeeded
ENDED_SHORT = frozenset({'failed', 'cancelled', 'interrupted'})


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionSummary:
    id: str
    workflow_id: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    done: int
    total: int
    error: str | None = None
    trigger_type: str | None = None  # how it was started (api, ui, schedule, hook, rerun; None: not recorded)
    succeeded: int | None = None  # nodes that succeeded, once it has ended (None while it runs, or not recorded)
    imported: bool = False  # imported from an export file: history of another run, read-only

    @classmethod
    def from_record(cls, record: ExecutionRecord) -> ExecutionSummary:
        return cls(
            id=record.id,
            workflow_id=record.workflow_id,
            status=record.status,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            duration_ms=record.duration_ms,
            done=record.nodes_done,
            total=record.nodes_total,
            error=record.error,
            trigger_type=record.trigger_type,
            succeeded=record.nodes_succeeded,
            imported=record.imported_from is not None,
        )

    @classmethod
    def from_state(cls, state: ExecutionState) -> ExecutionSummary:
        return cls(
            id=state.id,
            workflow_id=state.workflow_id or '',
            status=state.status,
            created_at=state.created_at or state.last_ts,
            started_at=state.started_at,
            finished_at=state.finished_at,
            duration_ms=state.duration_ms,
            done=state.done,
            total=state.total,
            error=state.error,
            trigger_type=trigger_type(state.trigger),
            succeeded=state.ended_succeeded,
        )

    def elapsed_ms(self, now: datetime) -> float | None:
        """The final duration, or the time running so far."""
        if self.duration_ms is not None or self.finished_at is not None:
            return self.duration_ms
        if self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds() * 1000)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return self.created_at or _EPOCH, self.id


def merge_live(
    rows: Sequence[ExecutionSummary],
    live: Iterable[ExecutionState],
    flt: ExecutionFilter,
    now: datetime,
    *,
    limit: int,
    add_new: bool,
) -> tuple[list[ExecutionSummary], int]:
    """Rows updated from ``live``; with ``add_new`` (first page) live executions matching ``flt`` join.

    Returns the merged rows (newest first, at most ``limit``) and how many executions were added.
    """
    merged = {row.id: row for row in rows}
    added = 0
    for state in live:
        if state.id in merged:
            merged[state.id] = ExecutionSummary.from_state(state)
        elif add_new and flt.matches(state, now):
            oldest = min((row.sort_key for row in rows), default=None)
            summary = ExecutionSummary.from_state(state)
            if oldest is None or len(rows) < limit or summary.sort_key > oldest:
                merged[state.id] = summary
                added += 1
    ordered = sorted(merged.values(), key=lambda row: row.sort_key, reverse=True)
    return ordered[:limit], added
