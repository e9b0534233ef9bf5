"""PostgreSQL (issue 13): the recorder's events per second beside raw asyncpg, and the lag of the live view of a run
that another process runs. Both start a throwaway PostgreSQL server of their own (as the tests do: initdb and pg_ctl
from /usr/lib/postgresql/<version>/bin, ``fsync=off``); without PostgreSQL installed the rows say so.

* **Recorder.** The 100,000 synthetic events of :mod:`bench.recorder_throughput` (100 executions, interleaved)
  published on the real bus and written by the recorder, into a fresh PostgreSQL database: group commits of up to
  5,000 events, the events by ``COPY``, the ``executions`` rows in the same transactions. Raw: the very rows it
  stored, read back (untimed) and inserted into a fresh ``events`` table of the same schema with asyncpg, batches of
  the recorder's ``batch_limit``, one transaction each: once by ``copy_records_to_table`` and once by
  ``executemany``. The recorder is also timed with its INSERTs switched to asyncpg's ``executemany`` (everything else
  as in the app), which is why the app uses COPY. Each is run ``REPEATS`` times, alternating; best runs are the
  headline figures, medians beside them. Target: the recorder at least 50% of raw; the share is reported against
  raw ``executemany`` and against raw ``COPY`` (the path the recorder itself takes). Most of the recorder's time per
  event is Python's (encoding the data, the reducer's fold, the row), not the database's.
* **Live view of another process's run.** Process A (a subprocess: a flowmon system without its web layer) runs
  executions of a 10-node workflow (20 ms per node, four at a time); this process, B, follows them as its pages do
  (the recorder's notification after each of A's writes, and B's poll). The lag of an event is the time from its
  timestamp (taken by A when the engine raised it) to when B's projector holds it (both on this machine's clock):
  A's group commit (every 100 ms at most), the notification, and B's read. Target: p95 below 500 ms.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from flowmon.engine.core.provenance import api_trigger
from flowmon.store import EventRecorder

from .harness import p50_p95_max
from .recorder_throughput import COLUMNS, Rows, empty_schema, freeze, raw_inserts, recorder_run, synthetic_events
from .report import Row

REPEATS = 3
TARGET_SHARE = 0.5
LAG_TARGET_MS = 500.0
LAG_EXECUTIONS = 40
REPO_ROOT = Path(__file__).resolve().parents[1]
PEER_WORKFLOW = {
    'id': 'lag',
    'name': 'Lag',
    'nodes': [{'id': f'n{i}', 'type': 'delay', 'config': {'seconds': 0.02}} for i in range(10)],
    'edges': [{'source': f'n{i}', 'target': f'n{i + 1}'} for i in range(9)],
}


def _support() -> ModuleType:
    """tests/postgres_support.py (the throwaway server of the tests), loaded by its path."""
    spec = importlib.util.spec_from_file_location('postgres_support', REPO_ROOT / 'tests' / 'postgres_support.py')
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault('postgres_support', importlib.util.module_from_spec(spec))
    if not hasattr(module, 'throwaway_server'):
        spec.loader.exec_module(module)
    return module


@contextmanager
def _server() -> Iterator[str | None]:
    """A throwaway server ('host:port'), or None when PostgreSQL is not installed."""
    support = _support()
    try:
        with support.throwaway_server() as server:
            yield server
    except support.PostgresMissing:
        yield None


# --- recorder throughput ------------------------------------------------------------------------------------------


def _by_executemany(recorder: EventRecorder) -> None:
    """The recorder's INSERTs by asyncpg's executemany instead of COPY (for comparison only)."""
    for statement in (recorder._insert_events, recorder._insert_executions):
        statement.copy_into = None


async def _stored_rows(url: str) -> list[tuple[Any, ...]]:
    import asyncpg

    connection = await asyncpg.connect(_plain(url))
    try:
        return [tuple(row) for row in await connection.fetch(f'SELECT {", ".join(COLUMNS)} FROM events')]
    finally:
        await connection.close()


async def _raw_run(rows: Rows, url: str, batch: int, *, copy: bool) -> float:
    import asyncpg

    await empty_schema(url)
    connection = await asyncpg.connect(_plain(url))
    sql = f'INSERT INTO events ({", ".join(COLUMNS)}) VALUES ({", ".join(f"${i + 1}" for i in range(len(COLUMNS)))})'

    async def insert(batch_rows: Rows) -> None:
        async with connection.transaction():
            if copy:
                await connection.copy_records_to_table('events', records=batch_rows, columns=COLUMNS)
            else:
                await connection.executemany(sql, batch_rows)

    async def count() -> int:
        return int(await connection.fetchval('SELECT count(*) FROM events'))

    try:
        return await raw_inserts(rows, batch, insert, count)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Throughput:
    events: int
    recorder_s: Sequence[float]
    recorder_executemany_s: Sequence[float]
    copy_s: Sequence[float]
    executemany_s: Sequence[float]
    flushes: int
    batch_limit: int

    def rate(self, seconds: Sequence[float]) -> float:
        return self.events / min(seconds)

    def median_rate(self, seconds: Sequence[float]) -> float:
        return self.events / statistics.median(seconds)


async def _throughput(server: str, repeats: int = REPEATS) -> Throughput:
    support = _support()
    events = synthetic_events()
    times: dict[str, list[float]] = {'recorder': [], 'recorder_executemany': [], 'copy': [], 'executemany': []}
    flushes = batch_limit = 0
    try:
        for i in range(repeats):
            urls = [await support.create_database(server) for _ in range(4)]
            try:
                freeze()
                seconds, _, recorder = await recorder_run(events, Path(), url=urls[0])
                times['recorder'].append(seconds)
                flushes, batch_limit = recorder.flushes, recorder.batch_limit
                rows = await _stored_rows(urls[0])
                if len(rows) != len(events) or recorder.written != len(events):
                    raise AssertionError(f'the recorder stored {len(rows)} of {len(events)} events (run {i + 1})')
                freeze()
                times['copy'].append(await _raw_run(rows, urls[1], batch_limit, copy=True))
                freeze()
                times['executemany'].append(await _raw_run(rows, urls[2], batch_limit, copy=False))
                del rows
                freeze()
                run = await recorder_run(events, Path(), url=urls[3], configure=_by_executemany)
                times['recorder_executemany'].append(run[0])
            finally:
                for url in urls:
                    await support.drop_database(url)
    finally:
        gc.unfreeze()
    return Throughput(
        len(events), times['recorder'], times['recorder_executemany'], times['copy'], times['executemany'],
        flushes, batch_limit,
    )  # fmt: skip


def _throughput_rows(result: Throughput) -> list[Row]:
    runs = f'best of {len(result.recorder_s)} runs'

    def seconds(values: Sequence[float]) -> str:
        return ', '.join(f'{value:.2f}' for value in values) + ' s'

    def figure(values: Sequence[float]) -> str:
        return f'{result.rate(values):,.0f} /s (median {result.median_rate(values):,.0f})'

    return [
        Row(
            measurement=f'PostgreSQL recorder: events persisted per second ({result.events:,} events)',
            figure=figure(result.recorder_s),
            note=(
                f'publish on the bus -> last commit, {runs} ({seconds(result.recorder_s)}); {result.flushes} group '
                f'commits of up to {result.batch_limit:,} events by COPY through the connection of the pool, with the '
                "reducer (the projector's fold) and the executions rows in the same transactions."
            ),
        ),
        Row(
            measurement='PostgreSQL recorder with executemany instead of COPY',
            figure=figure(result.recorder_executemany_s),
            note=f'with the INSERTs by asyncpg executemany, {runs} ({seconds(result.recorder_executemany_s)}).',
        ),
        Row(
            measurement='Raw asyncpg copy_records_to_table, same rows',
            figure=figure(result.copy_s),
            note=(
                f'the stored event rows into a fresh events table, batches of {result.batch_limit:,}, a transaction '
                f'each, {runs} ({seconds(result.copy_s)}).'
            ),
        ),
        Row(
            measurement='Raw asyncpg executemany, same rows',
            figure=figure(result.executemany_s),
            note=f'as above by executemany, {runs} ({seconds(result.executemany_s)}).',
        ),
        *(
            Row(
                measurement=f'PostgreSQL recorder / raw {name}',
                figure=f'{result.rate(result.recorder_s) / result.rate(raw):.0%} '
                f'(medians {result.median_rate(result.recorder_s) / result.median_rate(raw):.0%})',
                target=f'>= {TARGET_SHARE:.0%}',
                met=result.rate(result.recorder_s) / result.rate(raw) >= TARGET_SHARE,
                note=f'best recorder run / best raw {name} run, the same rows in the same run.',
            )
            for name, raw in (('executemany', result.executemany_s), ('COPY', result.copy_s))
        ),
    ]


# --- the live view of another process's run -----------------------------------------------------------------------


async def _lag(server: str) -> list[float]:
    """Milliseconds from each event of process A to its arrival in this process's projector."""
    from flowmon.bootstrap import System
    from flowmon.settings import load_settings

    support = _support()
    url = await support.create_database(server)
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    lags: list[float] = []
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-lag-') as tmp:
        env = {'FLOWMON_DATABASE_URL': url, 'FLOWMON_SECRET_KEY': key, 'FLOWMON_WORKFLOWS_DIR': str(Path(tmp) / 'none')}
        settings = load_settings({**env, 'FLOWMON_DATA_DIR': str(Path(tmp) / 'b')})
        b = System.build(settings, token='bench-token-0123456789')
        await b.start()
        taken = b.projector.take_stored

        def arrived(events: Any) -> int:
            events = list(events)
            now = datetime.now(UTC)
            lags.extend((now - event.ts).total_seconds() * 1000 for event in events)
            return taken(events)

        b.projector.take_stored = arrived  # type: ignore[method-assign]
        try:
            # not subprocess.run: this process's event loop goes on following A meanwhile
            command = [sys.executable, '-m', 'bench.postgres', 'peer', str(Path(tmp) / 'a'), str(LAG_EXECUTIONS)]
            peer = await asyncio.create_subprocess_exec(
                *command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            async with asyncio.timeout(300):
                out, err = await peer.communicate()
            if peer.returncode != 0:
                raise RuntimeError(f'process A failed: {err.decode(errors="replace")[-2000:]}')
            expected = int(out.split()[-1])
            async with asyncio.timeout(10):
                while len(lags) < expected:
                    await asyncio.sleep(0.05)
        finally:
            await b.stop()
            await support.drop_database(url)
    return lags


async def _peer(data_dir: str, executions: int) -> int:
    """Process A: run ``executions`` of the lag workflow, four at a time; prints how many events it raised."""
    from flowmon.bootstrap import System
    from flowmon.settings import load_settings

    settings = load_settings({**os.environ, 'FLOWMON_DATA_DIR': data_dir, 'FLOWMON_MAX_CONCURRENT_EXECUTIONS': '4'})
    a = System.build(settings, token='bench-token-0123456789')
    await a.start()
    try:
        await a.application.workflows.put('lag', json.dumps(PEER_WORKFLOW).encode())
        await asyncio.sleep(0.5)  # B's listener and tail are up
        for _ in range(executions):
            await a.application.executions.start('lag', {}, trigger=api_trigger())
            await asyncio.sleep(0.05)
        await a.engine.wait_idle()
        await a.recorder.drain()
        return a.recorder.written
    finally:
        await a.stop()


def _lag_rows(lags: Sequence[float]) -> list[Row]:
    p50, p95, worst = p50_p95_max(lags)
    return [
        Row(
            measurement="Live view of another process's run: event -> other process (p50 / p95 / max)",
            figure=f'{p50:.0f} / {p95:.0f} / {worst:.0f} ms',
            target=f'p95 < {LAG_TARGET_MS:.0f} ms',
            met=p95 < LAG_TARGET_MS,
            note=(
                f'{len(lags):,} events of {LAG_EXECUTIONS} executions run by process A (a subprocess), timed from '
                "the engine's timestamp in A to the projector of this process holding them: A's group commit, "
                'its notification, and the read here.'
            ),
        )
    ]


def _plain(url: str) -> str:
    return url.replace('postgresql+asyncpg://', 'postgresql://', 1)


def run() -> list[Row]:
    with _server() as server:
        if server is None:
            return [Row(measurement='PostgreSQL benchmarks', figure='not run: PostgreSQL is not installed')]
        rows = _throughput_rows(asyncio.run(_throughput(server)))
        return rows + _lag_rows(asyncio.run(_lag(server)))


if __name__ == '__main__':
    if sys.argv[1:2] == ['peer']:
        print(asyncio.run(_peer(sys.argv[2], int(sys.argv[3]))))
    else:
        from .report import table

        print(table(run()))
