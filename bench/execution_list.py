"""Execution list and dashboard queries with 100,000 executions in the database.

Issue 3 asks for ``/executions`` "served from SQL (indexes), fast with 100,000 rows". This inserts 100,000
executions (10 workflows, realistic status mix, spread over 30 days with a busy last hour) into a fresh
SQLite database and times what the pages run: one page of ``History.list_executions`` plus its COUNT for
the filters the UI offers, a deep page, and the dashboard's metrics snapshot (cold: a new instance; warm:
what every later refresh costs once the closed minutes of the series are sealed).
Run it with ``python -m bench.execution_list``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowmon.store import Database, History
from flowmon.store.metrics import ExecutionMetrics, utc_midnight
from flowmon.store.tables import ExecutionRow

ROWS = 100_000
WORKFLOWS = [f'workflow-{n}' for n in range(10)]
STATUSES = [('succeeded', 0.86), ('failed', 0.1), ('cancelled', 0.03), ('interrupted', 0.01)]
PAGE = 25
REPEAT = 15
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-list-') as tmp:
        db = Database(f'sqlite+aiosqlite:///{Path(tmp) / "bench.db"}')
        await db.start()
        now = datetime.now(UTC)
        started = time.perf_counter()
        await _fill(db, now)
        print(f'inserted {ROWS:,} executions in {time.perf_counter() - started:.1f} s')
        history = History(db)
        cases: dict[str, Callable[[], Awaitable[Any]]] = {
            'page 1, no filter': lambda: history.list_executions(limit=PAGE),
            'status=failed': lambda: history.list_executions(status='failed', limit=PAGE),
            'workflow': lambda: history.list_executions(workflow_id='workflow-3', limit=PAGE),
            'workflow + status': lambda: history.list_executions(workflow_id='workflow-3', status='failed', limit=PAGE),
            'since=today': lambda: history.list_executions(since=utc_midnight(now), limit=PAGE),
            'status + last 7 days': lambda: history.list_executions(
                status='succeeded', since=now - timedelta(days=7), limit=PAGE
            ),
            'page 2000 (offset 49,975)': lambda: history.list_executions(limit=PAGE, offset=49_975),
            'dashboard metrics (cold)': lambda: ExecutionMetrics(db).compute(now),
            'dashboard metrics (warm)': lambda: warm.compute(now),
        }
        warm = ExecutionMetrics(db)
        await warm.compute(now)  # seals the closed minutes of the series once
        print(f'{"query (page + COUNT)":<32}{"p50 ms":>10}{"max ms":>10}{"total":>10}')
        for name, run in cases.items():
            timings: list[float] = []
            total = ''
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                result = await run()
                timings.append((time.perf_counter() - t0) * 1000)
                if isinstance(result, tuple):
                    total = f'{result[1]:,}'
            p50 = statistics.median(timings)
            print(f'{name:<32}{p50:>10.1f}{max(timings):>10.1f}{total:>10}')
        await db.stop()
    return 0


async def _fill(db: Database, now: datetime) -> None:
    rng = random.Random(7)
    statuses, weights = zip(*STATUSES, strict=True)
    batch: list[dict[str, Any]] = []
    async with db.engine.begin() as conn:
        for n in range(ROWS):
            # a tenth of the rows in the last hour (a busy dashboard), the rest over 30 days
            age = rng.uniform(0, 3600) if n % 10 == 0 else rng.uniform(0, 30 * 86_400)
            created = now - timedelta(seconds=age)
            duration = rng.lognormvariate(0.5, 1.0)
            batch.append(
                {
                    'id': f'{n:021x}',
                    'workflow_id': rng.choice(WORKFLOWS),
                    'status': rng.choices(statuses, weights)[0],
                    'created_at': created,
                    'started_at': created,
                    'finished_at': created + timedelta(seconds=duration),
                    'duration_ms': duration * 1000,
                    'nodes_done': 5,
                    'nodes_total': 5,
                }
            )
            if len(batch) == 10_000:
                await conn.execute(_executions.insert(), batch)
                batch.clear()
        if batch:
            await conn.execute(_executions.insert(), batch)


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
