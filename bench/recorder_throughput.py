"""Events persisted per second by the EventRecorder, beside raw aiosqlite ``executemany`` in the same run.

Target (issue 2): the recorder persists at least 50% as many events per second as raw ``executemany``.

* Recorder: 100,000 synthetic events of 100 executions (249 nodes each, interleaved as concurrent
  executions interleave) are published on the real bus, in slices of 1,000 with a yield to the loop between
  slices (and the bus's back-pressure wait, as the engine does). Timed from the first publish until
  ``recorder.flush()`` has committed the last event. The bus feeds the live projector too, as in the app:
  every event is folded with the reducer (once, by the projector, whose states the recorder writes), and the
  ``executions`` rows are kept up to date in the same transactions. The events carry no pre-encoded JSON (the
  engine's events carry it for node payloads): the recorder encodes every event's data. The ``node_runs``
  rows of the finished executions, which the recorder writes after the events off the hot path, are timed
  apart (for information) after the timed window.
* Raw: the very rows the recorder stored in ``events`` (read back first, untimed) inserted with aiosqlite
  ``executemany`` into a fresh database of the same schema and pragmas, in batches of the recorder's
  ``batch_limit`` with a commit per batch: the driver's ceiling for the same work on the events table.

Each side runs ``REPEATS`` times, alternating, each time into a fresh database; the headline figures are
the best runs (slower ones are other processes' interference), with the medians beside them.
The pre-built inputs (100,000 events, or rows) are frozen out of the garbage collector's view while timed:
the engine creates events as it goes, so collections that walk a benchmark's stockpile would bill the
recorder for an artefact of the benchmark.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
from started import started

from flowmon.engine import Event, EventType
from flowmon.store import Database, EventRecorder

from .harness import queued_data, recording
from .report import Row

EXECUTIONS = 100
NODES = 249  # 3 execution events + 3 per node + 250 data.flow = 1,000 events per execution
EXTRA_EDGES = 2  # beyond the chain's NODES - 1 edges, to make it exactly 1,000
SLICE = 1_000
REPEATS = 3
TARGET_SHARE = 0.5
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
COLUMNS = ('execution_id', 'seq', 'ts', 'type', 'node_id', 'data')


def definition(nodes: int = NODES) -> dict[str, Any]:
    """A chain of ``nodes`` log nodes plus a few shortcut edges from the first node."""
    ids = [f'n{i:03d}' for i in range(nodes)]
    edges = [{'source': a, 'target': b} for a, b in itertools.pairwise(ids)]
    edges += [{'source': ids[0], 'target': ids[2 + i]} for i in range(EXTRA_EDGES)]
    return {
        'id': 'bench-recorder',
        'name': 'Recorder benchmark',
        'nodes': [{'id': node_id, 'type': 'log', 'config': {'message': f'step {node_id}'}} for node_id in ids],
        'edges': edges,
    }


def execution_events(execution_id: str, workflow: dict[str, Any], start: datetime) -> list[Event]:
    """One successful execution of ``workflow``, shaped like the engine's events."""
    ids = [node['id'] for node in workflow['nodes']]
    parents: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for edge in workflow['edges']:
        parents[edge['target']].append(edge['source'])
    events: list[Event] = []

    def emit(event_type: EventType, node_id: str | None = None, **data: Any) -> None:
        seq = len(events) + 1
        ts = start + timedelta(microseconds=250 * seq)
        events.append(Event(execution_id=execution_id, seq=seq, type=event_type, ts=ts, node_id=node_id, data=data))

    emit(EventType.EXECUTION_QUEUED, **queued_data(workflow, {'batch': 7}))
    emit(EventType.EXECUTION_STARTED)
    for done, node_id in enumerate(ids, start=1):
        node_input: dict[str, Any] = {'input': {'batch': 7}}
        for parent in parents[node_id]:
            emit(EventType.DATA_FLOW, parent, target=node_id, bytes=48)
            node_input[parent] = {'message': f'step {parent}', 'level': 'info'}
        emit(EventType.NODE_STARTED, node_id, attempt=1, input=node_input)
        emit(EventType.NODE_COMPLETED, node_id, attempt=1, output={'message': f'step {node_id}', 'level': 'info'})
        emit(EventType.EXECUTION_PROGRESS, done=done, total=len(ids))
    emit(EventType.EXECUTION_COMPLETED, output={ids[-1]: {'message': f'step {ids[-1]}', 'level': 'info'}})
    return events


def synthetic_events(executions: int = EXECUTIONS) -> list[Event]:
    """Every execution's events, interleaved round-robin as concurrent executions publish them."""
    workflow = definition()
    streams = [execution_events(f'bench-rec-{i:04d}', workflow, T0 + timedelta(seconds=i)) for i in range(executions)]
    interleaved = [event for group in zip(*streams, strict=True) for event in group]
    assert len(interleaved) == sum(len(stream) for stream in streams)
    return interleaved


async def recorder_run(
    events: Sequence[Event],
    path: Path,
    *,
    url: str | None = None,
    configure: Callable[[EventRecorder], None] | None = None,
) -> tuple[float, float, EventRecorder]:
    """Seconds from the first publish to the last event committed, then seconds for the node runs after it.

    Into the SQLite file ``path``, or the database of ``url``; ``configure`` may adjust the recorder first."""
    async with recording(path, url=url, configure=configure) as (_, bus, _, recorder):
        started = time.perf_counter()
        for i in range(0, len(events), SLICE):
            for event in events[i : i + SLICE]:
                bus.publish(event)
            await bus.wait_ready()
            await asyncio.sleep(0)
        await recorder.flush()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        await recorder.drain()
        node_runs_s = time.perf_counter() - started
    return seconds, node_runs_s, recorder


def stored_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT {", ".join(COLUMNS)} FROM events ORDER BY rowid').fetchall()


Rows = Sequence[tuple[Any, ...]]


async def empty_schema(url: str) -> None:
    """flowmon's schema, with nothing in it, in the new database at ``url``: where raw inserts go."""
    async with started(Database(url)):
        pass


async def raw_inserts(
    rows: Rows, batch: int, insert: Callable[[Rows], Awaitable[None]], count: Callable[[], Awaitable[int]]
) -> float:
    """Seconds to store ``rows`` in the ``events`` table by ``insert``, a batch of ``batch`` rows (committed) a call;
    then ``count`` must find them all."""
    begun = time.perf_counter()
    for i in range(0, len(rows), batch):
        await insert(rows[i : i + batch])
    seconds = time.perf_counter() - begun
    stored = await count()
    if stored != len(rows):
        raise AssertionError(f'raw insert stored {stored} rows of {len(rows)}')
    return seconds


async def raw_run(rows: Rows, path: Path, batch: int) -> float:
    await empty_schema(f'sqlite+aiosqlite:///{path}')
    statement = f'INSERT INTO events ({", ".join(COLUMNS)}) VALUES ({", ".join("?" * len(COLUMNS))})'
    async with aiosqlite.connect(path) as conn:

        async def insert(batch_rows: Rows) -> None:
            await conn.executemany(statement, batch_rows)
            await conn.commit()

        async def count() -> int:
            async with conn.execute('SELECT count(*) FROM events') as cursor:
                return int((await cursor.fetchone() or (0,))[0])

        await conn.execute('PRAGMA journal_mode=WAL')  # the same pragmas as flowmon.store.database
        await conn.execute('PRAGMA synchronous=NORMAL')
        return await raw_inserts(rows, batch, insert, count)


@dataclass(frozen=True)
class Result:
    events: int
    recorder_s: Sequence[float]
    node_runs_s: Sequence[float]
    raw_s: Sequence[float]
    flushes: int
    batch_limit: int

    @property
    def recorder_rate(self) -> float:
        """Events per second of the best run (the least disturbed by other processes)."""
        return self.events / min(self.recorder_s)

    @property
    def raw_rate(self) -> float:
        return self.events / min(self.raw_s)

    @property
    def median_share(self) -> float:
        return statistics.median(self.raw_s) / statistics.median(self.recorder_s)


async def measure(repeats: int = REPEATS) -> Result:
    events = synthetic_events()
    recorder_s: list[float] = []
    node_runs_s: list[float] = []
    raw_s: list[float] = []
    flushes = batch_limit = 0
    try:
        for i in range(repeats):
            with tempfile.TemporaryDirectory(prefix='flowmon-bench-recorder-') as tmp:
                recorded, raw = Path(tmp) / 'recorder.db', Path(tmp) / 'raw.db'
                freeze()
                seconds, node_runs_seconds, recorder = await recorder_run(events, recorded)
                recorder_s.append(seconds)
                node_runs_s.append(node_runs_seconds)
                flushes, batch_limit = recorder.flushes, recorder.batch_limit
                rows = stored_rows(recorded)
                if len(rows) != len(events) or recorder.written != len(events):
                    raise AssertionError(f'the recorder stored {len(rows)} of {len(events)} events (run {i + 1})')
                freeze()
                raw_s.append(await raw_run(rows, raw, batch_limit))
                del rows
    finally:
        gc.unfreeze()
    return Result(len(events), recorder_s, node_runs_s, raw_s, flushes, batch_limit)


def freeze() -> None:
    """Collect, then move everything alive now out of the collector's view (until ``gc.unfreeze``)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def rows(result: Result) -> list[Row]:
    share = result.recorder_rate / result.raw_rate
    median_rate = result.events / statistics.median(result.recorder_s)
    median_raw = result.events / statistics.median(result.raw_s)
    runs = f'best of {len(result.recorder_s)} runs'
    return [
        Row(
            measurement=f'Recorder: events persisted per second ({result.events:,} events, {EXECUTIONS} executions)',
            figure=f'{result.recorder_rate:,.0f} /s (median {median_rate:,.0f})',
            note=(
                f'publish on the bus -> last commit, {runs} '
                f'({", ".join(f"{s:.2f}" for s in result.recorder_s)} s); {result.flushes} group commits of up '
                f"to {result.batch_limit:,} events; includes the reducer (the projector's fold) and the executions "
                f'rows. The node_runs rows of the 100 finished executions, written after the events off the hot '
                f'path, took {", ".join(f"{s:.2f}" for s in result.node_runs_s)} s more, after the timed window.'
            ),
        ),
        Row(
            measurement='Raw aiosqlite executemany, same rows',
            figure=f'{result.raw_rate:,.0f} /s (median {median_raw:,.0f})',
            note=(
                f'the stored event rows re-inserted into a fresh database, batches of {result.batch_limit:,}, '
                f'commit per batch, {runs} ({", ".join(f"{s:.2f}" for s in result.raw_s)} s).'
            ),
        ),
        Row(
            measurement='Recorder / raw',
            figure=f'{share:.0%} (medians {result.median_share:.0%})',
            target=f'>= {TARGET_SHARE:.0%}',
            met=share >= TARGET_SHARE,
            note='best recorder run / best raw run.',
        ),
    ]


def run() -> list[Row]:
    return rows(asyncio.run(measure()))


if __name__ == '__main__':
    from .report import table

    print(table(run()))
