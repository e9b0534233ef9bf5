"""Searching executions by content with 100,000 executions in the database (issue 15: <= 100 ms per query).

A fresh SQLite database at the schema's head gets 100,000 executions (10 workflows, a realistic status mix, over 30
days) and their searchable text as the recorder writes it (:func:`flowmon.engine.core.search_text.execution_text`
of an input, node outputs and, for failed ones, an error), seeded with driver-level ``executemany`` (the FTS5 trigram
index fills through its triggers, as in the app). Then it times what ``GET /api/executions?q=`` runs
(:meth:`flowmon.store.History.list_executions`: one page of 25 and its COUNT) for searches from rare (one order id)
to common (a tenth of the executions), alone and with the list's other filters.
Run it with ``python -m bench search``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowmon.engine.core.search_text import MAX_VALUE_CHARS
from flowmon.store import Database, History
from flowmon.store.codec import dumps
from flowmon.store.database import sqlite_time

from .harness import percentile
from .report import Row

ROWS = 100_000
BATCH = 10_000
WORKFLOWS = [f'workflow-{n}' for n in range(10)]
STATUSES = [('succeeded', 0.86), ('failed', 0.1), ('cancelled', 0.03), ('interrupted', 0.01)]
ERRORS = ['card declined by issuer', 'timeout after 30 s calling partner', "unexpected column 'x' in row 7"]
PAGE = 25
REPEAT = 15
TARGET_MS = 100.0

INSERT_EXECUTION = (
    'INSERT INTO executions (id, workflow_id, status, priority, input, error, created_at, started_at, finished_at, '
    'duration_ms, nodes_done, nodes_total, last_seq, trigger_type) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, 5, 5, 12, ?)'
)
INSERT_TEXT = 'INSERT INTO execution_search (execution_id, text) VALUES (?, ?)'


@dataclass(frozen=True)
class Case:
    name: str
    query: Callable[[History], Awaitable[tuple[list[Any], int]]]


def cases(now: datetime) -> list[Case]:
    return [
        Case('one order id', lambda h: h.list_executions(q='A-0042137', limit=PAGE)),
        Case('a customer (~10 executions)', lambda h: h.list_executions(q='cust-04213', limit=PAGE)),
        Case('an error message (~3% of executions)', lambda h: h.list_executions(q='declined by', limit=PAGE)),
        Case('a common value (~10%)', lambda h: h.list_executions(q='express', limit=PAGE)),
        Case(
            'common value + workflow + status',
            lambda h: h.list_executions(q='express', workflow_id='workflow-3', status='succeeded', limit=PAGE),
        ),
        Case(
            'common value + last 7 days',
            lambda h: h.list_executions(q='express', since=now - timedelta(days=7), limit=PAGE),
        ),
        Case('no match', lambda h: h.list_executions(q='zzz-nothing', limit=PAGE)),
        Case('common value, page 100', lambda h: h.list_executions(q='express', limit=PAGE, offset=99 * PAGE)),
    ]


def _rows(now: datetime) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    rng = random.Random(15)
    statuses, weights = zip(*STATUSES, strict=True)
    executions: list[tuple[Any, ...]] = []
    texts: list[tuple[str, str]] = []
    for n in range(ROWS):
        execution_id = f'{n:021x}'
        created = now - timedelta(seconds=rng.uniform(0, 30 * 86_400))
        duration = rng.lognormvariate(0.5, 1.0)
        status = rng.choices(statuses, weights)[0]
        shipping = 'express' if rng.random() < 0.1 else 'standard'
        data = {'order': f'A-{n:07d}', 'customer': f'cust-{n // 10:05d}', 'amount': rng.randint(1, 5000),
                'shipping': shipping, 'items': [f'sku-{rng.randint(1, 20_000)}' for _ in range(3)]}  # fmt: skip
        error = rng.choice(ERRORS) if status == 'failed' else None
        outputs = [f'charge-{n:07d}', 'ok' if error is None else 'rejected', f'{duration:.3f}', 'warehouse-eu-2']
        lines = [*_values(data), *([error] if error else []), *outputs]
        executions.append((
            execution_id, rng.choice(WORKFLOWS), status, dumps(data), error, sqlite_time(created),
            sqlite_time(created), sqlite_time(created + timedelta(seconds=duration)), duration * 1000, 'api',
        ))  # fmt: skip
        texts.append((execution_id, '\n'.join(dict.fromkeys(line[:MAX_VALUE_CHARS] for line in lines))))
    return executions, texts


def _values(data: dict[str, Any]) -> list[str]:
    """Keys and scalars, as :func:`flowmon.engine.core.search_text.input_text` lists them."""
    values: list[str] = []
    for key, value in data.items():
        values.append(key)
        values.extend(str(item) for item in (value if isinstance(value, list) else [value]))
    return values


async def _seed(db: Database, now: datetime) -> float:
    executions, texts = _rows(now)
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for first in range(0, ROWS, BATCH):
            await raw.executemany(INSERT_EXECUTION, executions[first : first + BATCH])
            await raw.executemany(INSERT_TEXT, texts[first : first + BATCH])
        await raw.commit()
        await raw.execute('ANALYZE')
        await raw.commit()
    return time.perf_counter() - started


async def measure() -> tuple[float, list[tuple[str, list[float], int]]]:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-search-') as tmp:
        db = Database(f'sqlite+aiosqlite:///{Path(tmp) / "bench.db"}')
        await db.start()  # the schema at head: revision 0003's FTS5 table and triggers included
        try:
            now = datetime.now(UTC)
            seeded = await _seed(db, now)
            history = History(db)
            results = []
            for case in cases(now):
                await case.query(history)  # warm: the first query of a kind reads its pages from disk
                timings: list[float] = []
                total = 0
                for _ in range(REPEAT):
                    t0 = time.perf_counter()
                    _, total = await case.query(history)
                    timings.append((time.perf_counter() - t0) * 1000)
                results.append((case.name, timings, total))
            return seeded, results
        finally:
            await db.stop()


def run() -> list[Row]:
    seeded, results = asyncio.run(measure())
    rows = [
        Row(
            measurement=f'Search over {ROWS:,} executions: {name} ({total:,} found), page of {PAGE} + COUNT',
            figure=f'p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms',
            target=f'<= {TARGET_MS:.0f} ms',
            met=percentile(timings, 95) <= TARGET_MS,
        )
        for name, timings, total in results
    ]
    rows.append(Row(
        measurement=f'Seeding {ROWS:,} executions with their search text (FTS5 trigram index via triggers)',
        figure=f'{seeded:.1f} s',
        note='driver-level executemany in one transaction, then ANALYZE; the query figures are p50/p95 of '
        f'{REPEAT} runs after one warm-up run of each query',
    ))  # fmt: skip
    return rows


if __name__ == '__main__':
    from .report import table

    print(table(run()))
