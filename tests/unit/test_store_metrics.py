"""Dashboard metrics from the executions table (flowmon.store.metrics), against a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowmon.store import Database
from flowmon.store.metrics import ExecutionMetrics, minute_floor
from flowmon.store.tables import ExecutionRow

NOW = datetime(2025, 3, 4, 15, 30, 20, tzinfo=UTC)
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]


def _row(n: int, status: str, created: datetime, duration_s: float | None) -> dict[str, object]:
    finished = created + timedelta(seconds=duration_s) if duration_s is not None else None
    return {
        'id': f'e{n:04d}',
        'workflow_id': 'w',
        'status': status,
        'created_at': created,
        'started_at': created,
        'finished_at': finished,
        'duration_ms': duration_s * 1000 if duration_s is not None else None,
    }


async def _insert(database: Database, rows: list[dict[str, object]]) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(_executions.insert(), rows)


async def test_today_counts_rates_durations_and_throughput(database: Database) -> None:
    rows = [_row(i, 'succeeded', NOW - timedelta(minutes=10 + i), duration_s=float(i + 1)) for i in range(20)]
    rows += [_row(100 + i, 'failed', NOW - timedelta(minutes=3), duration_s=30.0) for i in range(5)]
    rows += [_row(200, 'cancelled', NOW - timedelta(minutes=2), duration_s=1.0)]
    rows += [_row(300, 'running', NOW - timedelta(minutes=1), duration_s=None)]
    rows += [_row(400, 'succeeded', NOW - timedelta(days=1), duration_s=999.0)]  # yesterday: not today
    await _insert(database, rows)

    snapshot = await ExecutionMetrics(database).compute(NOW)

    assert snapshot.succeeded_today == 20
    assert snapshot.failed_today == 5
    assert snapshot.success_rate == 80.0  # cancelled runs are not counted against the workflow
    assert snapshot.avg_duration_ms == (sum(range(1, 21)) + 5 * 30) * 1000 / 25
    assert snapshot.p95_duration_ms == 30_000.0  # nearest rank 24 of 25 sorted durations
    # ended in the last 15 minutes: succeeded rows created 10..14 min ago that finished within the window,
    # the 5 failed, the cancelled one
    ended = sum(1 for row in rows if row['finished_at'] and row['finished_at'] >= NOW - timedelta(minutes=15))
    assert snapshot.throughput_per_min == round(ended / 15, 2)
    assert len(snapshot.per_minute) == 60
    assert snapshot.per_minute[-1].start == minute_floor(NOW)
    assert sum(m.succeeded for m in snapshot.per_minute) == 20
    assert sum(m.failed for m in snapshot.per_minute) == 5


async def test_imported_executions_are_not_counted(database: Database) -> None:
    """An imported execution is another run's history: no count, rate, duration, throughput or minute has it."""
    ran = [_row(1, 'succeeded', NOW - timedelta(minutes=5), 2.0), _row(2, 'failed', NOW - timedelta(minutes=4), 1.0)]
    imported = [
        {**_row(10 + i, 'failed', NOW - timedelta(minutes=3), 30.0), 'imported_from': 'e0002'} for i in range(5)
    ]
    await _insert(database, ran)
    await _insert(database, imported)  # (one insert takes the columns of its first row)

    snapshot = await ExecutionMetrics(database).compute(NOW)

    assert (snapshot.succeeded_today, snapshot.failed_today) == (1, 1)
    assert snapshot.success_rate == 50.0
    assert snapshot.avg_duration_ms == 1500.0 and snapshot.p95_duration_ms == 2000.0
    assert snapshot.throughput_per_min == round(2 / 15, 2)
    assert sum(m.failed for m in snapshot.per_minute) == 1


async def test_empty_database_has_no_rate_and_no_durations(database: Database) -> None:
    snapshot = await ExecutionMetrics(database).compute(NOW)
    assert (snapshot.succeeded_today, snapshot.failed_today) == (0, 0)
    assert snapshot.success_rate is None
    assert snapshot.avg_duration_ms is None and snapshot.p95_duration_ms is None
    assert snapshot.throughput_per_min == 0
    assert all(m.succeeded == m.failed == 0 for m in snapshot.per_minute)


async def test_snapshot_is_shared_and_requeried_only_when_the_data_changed(database: Database) -> None:
    clock = {'t': 0.0}
    changes = {'n': 0}
    metrics = ExecutionMetrics(
        database, change_counter=lambda: changes['n'], min_interval=0.5, max_age=5.0, monotonic=lambda: clock['t']
    )
    first = await metrics.snapshot(NOW)
    await _insert(database, [_row(1, 'succeeded', NOW - timedelta(minutes=1), 2.0)])

    clock['t'] = 1.0
    assert await metrics.snapshot(NOW) is first  # the recorder has not written: nothing to re-read
    changes['n'] = 1
    clock['t'] = 1.2
    second = await metrics.snapshot(NOW)
    assert second.succeeded_today == 1
    changes['n'] = 2
    clock['t'] = 1.3
    assert await metrics.snapshot(NOW) is second  # within min_interval: even a change waits
    clock['t'] = 7.0
    assert await metrics.snapshot(NOW) is not second  # aged out


async def test_closed_minutes_are_counted_once_and_kept(database: Database) -> None:
    metrics = ExecutionMetrics(database)
    old = NOW - timedelta(minutes=30)
    await _insert(database, [_row(1, 'failed', old, 5.0)])
    first = await metrics.compute(NOW)
    bucket = next(m for m in first.per_minute if m.failed)
    # a row arriving late for a sealed minute is not re-counted: sealed minutes are final
    await _insert(database, [_row(2, 'failed', old, 5.0)])
    second = await metrics.compute(NOW + timedelta(seconds=1))
    assert next(m for m in second.per_minute if m.start == bucket.start).failed == 1
    # a fresh instance counts it
    fresh = await ExecutionMetrics(database).compute(NOW + timedelta(seconds=1))
    assert next(m for m in fresh.per_minute if m.start == bucket.start).failed == 2


async def test_slow_duration_statistics_are_refreshed_less_often(database: Database) -> None:
    clock = {'t': 0.0}

    def monotonic() -> float:
        clock['t'] += 0.02  # every reading 20 ms later: the duration queries look slow
        return clock['t']

    metrics = ExecutionMetrics(database, slow_query=0.01, slow_refresh=5.0, monotonic=monotonic)
    await _insert(database, [_row(1, 'succeeded', NOW - timedelta(minutes=1), 2.0)])
    first = await metrics.compute(NOW)
    await _insert(database, [_row(2, 'succeeded', NOW - timedelta(minutes=1), 4.0)])
    second = await metrics.compute(NOW)
    assert second.succeeded_today == 2  # counts are always fresh
    assert second.avg_duration_ms == first.avg_duration_ms == 2000.0  # durations reused while slow
    clock['t'] += 10
    third = await metrics.compute(NOW)
    assert third.avg_duration_ms == 3000.0
