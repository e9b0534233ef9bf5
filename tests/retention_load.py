"""Pruning a database of old history while other work goes on: a writer commits a small transaction (what a recorder
flush or a saved workflow does) every 10 ms and a reader reads a page of the execution list, each timing itself.

Shared by the test that the pruning deletes everything and gives the space back under that load
(tests/integration/test_retention_load.py, on a small database) and by ``python -m bench retention``, which times the
writers' waits on a big one (600 finished executions of 200 events of 1 KiB: 167 MB with the indexes). The step
sizes of :mod:`flowmon.store.retention` come from there.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from flowmon.store import Database, History
from flowmon.store.retention import PruneCounts, Pruner, RetentionPolicy

DATA = '{"output":"' + 'x' * 1000 + '"}'
SMALL_WRITE = text(
    "INSERT INTO workflows (id, name, definition, created_at, updated_at) VALUES (:id, 'w', '{}', '2026', '2026')"
)
PAUSE_S = 0.01  # between two writes, and between two reads


@dataclass(frozen=True)
class PruneUnderLoad:
    """What a pruning did and how long each write and read beside it took (seconds)."""

    size_before: int
    size_after: int
    deleted: PruneCounts
    given: PruneCounts
    writes: list[float]
    reads: list[float]


def build(path: Path, executions: int, events: int) -> None:
    """``executions`` succeeded executions that finished 90 days ago, each with one node run and ``events`` events,
    written straight through sqlite3 into the database at ``path`` (already at the schema's head)."""
    finished = (datetime.now(UTC) - timedelta(days=90)).strftime('%Y-%m-%d %H:%M:%S.%f')
    with closing(sqlite3.connect(path)) as conn:
        conn.execute('BEGIN')
        conn.executemany(
            'INSERT INTO executions (id, workflow_id, status, priority, created_at, finished_at, nodes_done, '
            'nodes_total, last_seq) VALUES (?, ?, ?, 0, ?, ?, 1, 1, ?)',
            [(f'e{n:05d}', 'wf', 'succeeded', finished, finished, events) for n in range(executions)],
        )
        conn.executemany(
            'INSERT INTO node_runs (execution_id, node_id, status, attempts, reused) '
            "VALUES (?, 'n', 'succeeded', 1, 0)",
            [(f'e{n:05d}',) for n in range(executions)],
        )
        conn.executemany(
            'INSERT INTO events (execution_id, seq, ts, type, node_id, data) '
            "VALUES (?, ?, ?, 'node.completed', 'n', ?)",
            ((f'e{n:05d}', seq, finished, DATA) for n in range(executions) for seq in range(1, events + 1)),
        )
        conn.execute('COMMIT')
        conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')


async def prune_under_load(path: Path, executions: int, events: int) -> PruneUnderLoad:
    """Build the history at ``path``, then prune all of it (and give the space back) while a writer and a reader
    work; a write or read that fails fails this."""
    database = Database(f'sqlite+aiosqlite:///{path}')
    await database.start()
    try:
        build(path, executions, events)
        size = path.stat().st_size
        writes: list[float] = []
        reads: list[float] = []
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def writer() -> None:
            n = 0
            while not done.is_set():
                began = loop.time()
                async with database.engine.begin() as conn:
                    await conn.execute(SMALL_WRITE, {'id': f'w{n}'})
                writes.append(loop.time() - began)
                n += 1
                await asyncio.sleep(PAUSE_S)

        async def reader() -> None:
            history = History(database)
            while not done.is_set():
                began = loop.time()
                await history.list_executions(limit=25)
                reads.append(loop.time() - began)
                await asyncio.sleep(PAUSE_S)

        pruner = Pruner(database, delivery_final_statuses=['succeeded'])
        tasks = [asyncio.create_task(writer()), asyncio.create_task(reader())]
        try:
            deleted = await pruner.prune_executions(RetentionPolicy(days=30, max_executions=0), datetime.now(UTC))
            given = await pruner.give_back_space()
        finally:
            done.set()
            await asyncio.gather(*tasks)
        return PruneUnderLoad(size, path.stat().st_size, deleted, given, writes, reads)
    finally:
        await database.stop()
