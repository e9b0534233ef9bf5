"""Dashboard numbers from the executions table: today's outcomes, durations, throughput, a per-minute series.

They count the executions this instance ran: imported ones (``imported_from`` set) are another run's history and
are left out of every figure (the execution list shows them, with ``origin=imported``).

Every query is a range scan on an index (``status, created_at`` / ``finished_at``) in portable SQL: counting,
averaging and an ``ORDER BY ... LIMIT 1 OFFSET k`` percentile, with minute buckets counted per range
instead of a dialect-specific date function. :meth:`ExecutionMetrics.snapshot` is shared by every open
dashboard: it reuses the last result until the database has changed (the recorder's write counter moved)
or it is ``max_age`` old, and never queries more often than ``min_interval`` — so N dashboards polling
twice a second cost the database at most two small sets of queries a second, and nothing while idle.
The duration statistics (average, p95) read every finished execution of the day; when that gets expensive
(over ``slow_query`` seconds) they are refreshed at most every ``slow_refresh`` seconds instead of each time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES

from .codec import to_db_time
from .database import Database
from .tables import ExecutionRow

_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_LOCAL = _executions.c.imported_from.is_(None)  # imported executions are another run's history: never counted

THROUGHPUT_WINDOW = timedelta(minutes=15)
SERIES_MINUTES = 60
# A minute is final once this long has passed after its end (the recorder commits within ~0.1 s).
SEAL_AFTER = timedelta(seconds=10)
DURATION_STATUSES = ('succeeded', 'failed')


@dataclass(frozen=True, kw_only=True, slots=True)
class MinuteCount:
    """Executions that ended in the minute starting at ``start`` (UTC)."""

    start: datetime
    succeeded: int
    failed: int


@dataclass(frozen=True, kw_only=True, slots=True)
class MetricsSnapshot:
    """The dashboard's SQL-backed numbers at ``taken_at``. "Today" is since UTC midnight, by creation time.

    Durations cover today's succeeded and failed executions; the success rate is succeeded over
    succeeded + failed (cancelled and interrupted runs say nothing about the workflow's health).
    """

    taken_at: datetime
    succeeded_today: int
    failed_today: int
    success_rate: float | None  # 0..100, None when nothing finished today
    avg_duration_ms: float | None
    p95_duration_ms: float | None
    throughput_per_min: float  # executions that ended per minute over the last 15 minutes
    per_minute: tuple[MinuteCount, ...]  # the last hour, oldest first


def utc_midnight(now: datetime) -> datetime:
    """The start of ``now``'s UTC day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class ExecutionMetrics:
    """Dashboard metrics over the executions table, cached and shared by all clients of the process."""

    def __init__(
        self,
        db: Database,
        *,
        change_counter: Callable[[], int] = lambda: 0,
        min_interval: float = 0.5,
        max_age: float = 5.0,
        slow_query: float = 0.01,
        slow_refresh: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._change_counter, self._monotonic = db, change_counter, monotonic
        self.min_interval, self.max_age = min_interval, max_age
        self._last: MetricsSnapshot | None = None
        self._last_at = -math.inf
        self._last_changes: int | None = None
        self._lock = asyncio.Lock()
        self._sealed: dict[datetime, MinuteCount] = {}  # bounded: pruned to the series window
        self.slow_query = slow_query
        self.slow_refresh = slow_refresh
        self._durations: tuple[datetime, float, float | None, float | None] | None = None  # day, at, avg, p95
        self._durations_cost = 0.0

    async def snapshot(self, now: datetime | None = None) -> MetricsSnapshot:
        """The latest numbers, re-queried only when the data changed (or aged) and not too often."""
        async with self._lock:  # concurrent callers wait for one query instead of issuing their own
            elapsed = self._monotonic() - self._last_at
            changes = self._change_counter()
            if self._last is not None and (
                elapsed < self.min_interval or (changes == self._last_changes and elapsed < self.max_age)
            ):
                return self._last
            snapshot = await self.compute(now or datetime.now(UTC))
            self._last, self._last_at, self._last_changes = snapshot, self._monotonic(), changes
            return snapshot

    async def compute(self, now: datetime) -> MetricsSnapshot:
        """Query afresh (sealed minutes of the series, and durations while they are slow, are reused)."""
        midnight = utc_midnight(now)
        async with self._db.engine.connect() as conn:
            counts = await _status_counts_since(conn, midnight)
            duration_avg, p95 = await self._duration_figures(conn, midnight)
            ended_recently = await _ended_between(conn, now - THROUGHPUT_WINDOW, None)
            series = await self._per_minute(conn, now)
        succeeded, failed = counts.get('succeeded', 0), counts.get('failed', 0)
        decided = succeeded + failed
        return MetricsSnapshot(
            taken_at=now,
            succeeded_today=succeeded,
            failed_today=failed,
            success_rate=round(100.0 * succeeded / decided, 1) if decided else None,
            avg_duration_ms=duration_avg,
            p95_duration_ms=p95,
            throughput_per_min=round(ended_recently / (THROUGHPUT_WINDOW.total_seconds() / 60), 2),
            per_minute=series,
        )

    async def _duration_figures(self, conn: AsyncConnection, midnight: datetime) -> tuple[float | None, float | None]:
        cached = self._durations
        at = self._monotonic()
        if (
            cached is not None
            and cached[0] == midnight
            and self._durations_cost > self.slow_query
            and at - cached[1] < self.slow_refresh
        ):
            return cached[2], cached[3]
        count, average = await _duration_stats(conn, midnight)
        p95 = await _duration_percentile(conn, midnight, count, 0.95)
        self._durations_cost = self._monotonic() - at
        self._durations = (midnight, at, average, p95)
        return average, p95

    async def _per_minute(self, conn: AsyncConnection, now: datetime) -> tuple[MinuteCount, ...]:
        current = minute_floor(now)
        starts = [current - timedelta(minutes=offset) for offset in range(SERIES_MINUTES - 1, -1, -1)]
        for stale in [start for start in self._sealed if start < starts[0]]:
            del self._sealed[stale]
        series: list[MinuteCount] = []
        for start in starts:
            bucket = self._sealed.get(start)
            if bucket is None:
                by_status = await _ended_by_status(conn, start, start + timedelta(minutes=1))
                bucket = MinuteCount(
                    start=start, succeeded=by_status.get('succeeded', 0), failed=by_status.get('failed', 0)
                )
                if now >= start + timedelta(minutes=1) + SEAL_AFTER:
                    self._sealed[start] = bucket
            series.append(bucket)
        return tuple(series)


async def _status_counts_since(conn: AsyncConnection, since: datetime) -> dict[str, int]:
    """Executions created since ``since`` per terminal status (one index range per status)."""
    counts: dict[str, int] = {}
    for status in sorted(TERMINAL_EXECUTION_STATUSES):
        query = (
            select(func.count())
            .select_from(_executions)
            .where(_executions.c.status == status, _executions.c.created_at >= to_db_time(since), _LOCAL)
        )
        counts[status] = int((await conn.execute(query)).scalar_one())
    return counts


def _duration_filter(since: datetime) -> list[ColumnElement[bool]]:
    return [
        _executions.c.status.in_(DURATION_STATUSES),
        _executions.c.created_at >= to_db_time(since),
        _executions.c.duration_ms.is_not(None),
        _LOCAL,
    ]


async def _duration_stats(conn: AsyncConnection, since: datetime) -> tuple[int, float | None]:
    query = select(func.count(_executions.c.duration_ms), func.avg(_executions.c.duration_ms)).where(
        *_duration_filter(since)
    )
    count, average = (await conn.execute(query)).one()
    return int(count or 0), (float(average) if average is not None else None)


async def _duration_percentile(conn: AsyncConnection, since: datetime, count: int, fraction: float) -> float | None:
    """Nearest-rank percentile: the value at rank ceil(fraction * n), fetched with LIMIT 1 OFFSET."""
    if count <= 0:
        return None
    rank = max(1, math.ceil(fraction * count))
    query = (
        select(_executions.c.duration_ms)
        .where(*_duration_filter(since))
        .order_by(_executions.c.duration_ms)
        .limit(1)
        .offset(rank - 1)
    )
    value = (await conn.execute(query)).scalar_one_or_none()
    return float(value) if value is not None else None


async def _ended_between(conn: AsyncConnection, start: datetime, end: datetime | None) -> int:
    conditions = [_executions.c.finished_at >= to_db_time(start), _LOCAL]
    if end is not None:
        conditions.append(_executions.c.finished_at < to_db_time(end))
    query = select(func.count()).select_from(_executions).where(*conditions)
    return int((await conn.execute(query)).scalar_one())


async def _ended_by_status(conn: AsyncConnection, start: datetime, end: datetime) -> dict[str, int]:
    query = (
        select(_executions.c.status, func.count())
        .where(_executions.c.finished_at >= to_db_time(start), _executions.c.finished_at < to_db_time(end), _LOCAL)
        .group_by(_executions.c.status)
    )
    return {status: int(count) for status, count in (await conn.execute(query)).all()}


__all__ = ['ExecutionMetrics', 'MetricsSnapshot', 'MinuteCount', 'minute_floor', 'utc_midnight']
