"""Retention in the store: what a pruning deletes and keeps, in paced steps, and the space it gives back.

Histories are written through the recorder's Core path with timestamps in the past; the pruner gets a fake clock
(each step "takes" a fixed time) and a fake sleep (the pauses are recorded, nothing waits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from flowmon.application.replays import ReplayLoader
from flowmon.engine import Event, EventType
from flowmon.engine.core.snapshot import definition_hash
from flowmon.store import Database, EventRecorder, History
from flowmon.store.retention import (
    MIN_PAUSE_S,
    STEP_TARGET_S,
    Pacer,
    PruneCounts,
    Pruner,
    RetentionPolicy,
)
from flowmon.store.tables import EventRow, ExecutionRow, NodeRunRow, WorkflowSnapshotRow
from flowmon.store.webhook_tables import attempts, deliveries

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FINAL = ['cancelled', 'exhausted', 'failed', 'succeeded']
DEFINITION = {'id': 'wf', 'name': 'WF', 'nodes': [{'id': 'n', 'type': 'log', 'config': {}}]}
DIGEST = definition_hash(DEFINITION)


class FakeTime:
    """A clock that moves ``step_s`` per reading pair (one step), and a sleep that only records."""

    def __init__(self, step_s: float = 0.004) -> None:
        self.now = 0.0
        self.step_s = step_s
        self.readings = 0
        self.pauses: list[float] = []

    def clock(self) -> float:
        self.readings += 1
        if self.readings % 2 == 0:
            self.now += self.step_s
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def database(db: Database) -> Database:
    """A started database of each dialect (``db``, tests/conftest.py): the pruning is portable SQL. The ``recorder``
    of tests/conftest.py writes to it."""
    return db


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def pruner(database: Database, fake: FakeTime, max_step_rows: int = 2000) -> Pruner:
    return Pruner(
        database, delivery_final_statuses=FINAL, max_step_rows=max_step_rows, sleep=fake.sleep, clock=fake.clock
    )


def run_events(
    execution_id: str, *, at: datetime, events: int = 6, end: EventType | None = EventType.EXECUTION_COMPLETED
) -> list[Event]:
    """``events`` events of a one-node execution queued at ``at``: queued, started, node events, then ``end``
    (None: still running)."""
    queued = {'workflow_id': 'wf', 'nodes': ['n'], 'input': {}, 'workflow_hash': DIGEST, 'trigger': {'type': 'api'}}
    made = [
        Event(execution_id=execution_id, seq=1, type=EventType.EXECUTION_QUEUED, ts=at, data=queued),
        Event(execution_id=execution_id, seq=2, type=EventType.EXECUTION_STARTED, ts=at),
    ]
    body = events - len(made) - (1 if end is not None else 0)
    for index in range(body):
        kind = EventType.NODE_STARTED if index % 2 == 0 else EventType.NODE_RETRYING
        data = {'attempt': index // 2 + 1, 'error': 'again'} if kind == EventType.NODE_RETRYING else {}
        made.append(Event(execution_id=execution_id, seq=len(made) + 1, type=kind, ts=at, node_id='n', data=data))
    if end is not None:
        made.append(Event(execution_id=execution_id, seq=len(made) + 1, type=end, ts=at, data={'output': {}}))
    return made


async def record(recorder: EventRecorder, execution_id: str, **options: Any) -> None:
    await recorder.write(run_events(execution_id, **options), snapshots={DIGEST: DEFINITION})


async def count(database: Database, table: Any, *conditions: Any) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*conditions))).scalar_one())


async def ids(database: Database) -> list[str]:
    table = ExecutionRow.__table__  # type: ignore[attr-defined]
    async with database.engine.connect() as conn:
        return list((await conn.execute(select(table.c.id).order_by(table.c.id))).scalars())


_events = EventRow.__table__  # type: ignore[attr-defined]
_node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]
_snapshots = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]


# --- one execution ------------------------------------------------------------------------------------------------


async def test_deleting_an_execution_takes_its_events_and_node_runs_and_leaves_the_others(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    await record(recorder, 'a', at=NOW)
    await record(recorder, 'b', at=NOW)
    deleting = pruner(database, fake)
    deleted = await deleting.delete_execution('a')

    assert deleted is not None and deleting.deleted_executions == 1  # (what the dashboard's cache watches)
    assert (deleted.executions, deleted.events, deleted.node_runs) == (1, 6, 1)
    assert await ids(database) == ['b']
    assert await count(database, _events, _events.c.execution_id == 'a') == 0
    assert await count(database, _node_runs, _node_runs.c.execution_id == 'a') == 0
    assert await count(database, _events, _events.c.execution_id == 'b') == 6
    assert await pruner(database, fake).delete_execution('a') is None  # gone: nothing to delete
    assert await pruner(database, fake).delete_execution('never') is None


async def test_many_executions_are_deleted_together_in_shared_steps(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    """Twenty small executions (eight rows each) fit one step of 200 rows: one step and one pause, not twenty. Ids
    that are not finished, not there or asked twice are left out of the answer; the rest keep the order asked."""
    for n in range(20):
        await record(recorder, f'e{n:02d}', at=NOW)
    await record(recorder, 'live', at=NOW, end=None)
    asked = ['e05', 'never', 'live', *(f'e{n:02d}' for n in range(20)), 'e05']
    seen: list[tuple[str, ...]] = []

    deleted, counts = await pruner(database, fake).delete_executions(
        asked, on_deleted=lambda gone: seen.append(tuple(gone))
    )

    assert deleted == ['e05', *(f'e{n:02d}' for n in range(20) if n != 5)]
    assert (counts.executions, counts.events, counts.node_runs) == (20, 120, 20)
    assert counts.steps == 1 and len(fake.pauses) == 1
    assert [sorted(gone) for gone in seen] == [sorted(deleted)]
    assert await ids(database) == ['live']
    assert await pruner(database, fake).delete_executions(['e01', 'live']) == ([], PruneCounts())


async def test_a_running_execution_is_never_deleted(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    await record(recorder, 'live', at=NOW - timedelta(days=400), end=None)
    assert await pruner(database, fake).delete_execution('live') is None
    counts = await pruner(database, fake).prune_executions(RetentionPolicy(days=1, max_executions=1), NOW)
    assert counts.executions == 0 and await ids(database) == ['live']


async def test_a_big_execution_goes_in_steps_unreadable_from_the_first(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    """Steps of at most 10 rows: 35 events take four steps, lowest seq first; after the first the history no
    longer opens (and the callback hears of it once), the row goes with the last events."""
    await record(recorder, 'big', at=NOW, events=35)
    loader = ReplayLoader(History(database))
    assert await loader.open('big') is not None
    seen: list[tuple[str, ...]] = []
    remaining: list[int] = []

    async def look(seconds: float) -> None:  # between steps, as another reader would
        fake.pauses.append(seconds)
        remaining.append(await count(database, _events, _events.c.execution_id == 'big'))
        assert await ReplayLoader(History(database)).open('big') is None

    slow = Pruner(database, delivery_final_statuses=FINAL, max_step_rows=10, sleep=look, clock=fake.clock)
    deleted = await slow.delete_execution('big', on_deleted=lambda gone: seen.append(tuple(gone)))

    assert deleted is not None and deleted.events == 35 and deleted.steps == len(remaining) >= 4
    assert seen == [('big',)]
    assert remaining[-1] == 0 and remaining == sorted(remaining, reverse=True)
    assert await ids(database) == []


async def test_each_step_is_followed_by_a_pause_at_least_as_long(database: Database, recorder: EventRecorder) -> None:
    slow = FakeTime(step_s=0.012)
    for n in range(30):
        await record(recorder, f'e{n:02d}', at=NOW - timedelta(days=90))
    counts = await pruner(database, slow, max_step_rows=20).prune_executions(
        RetentionPolicy(days=30, max_executions=0), NOW
    )
    assert counts.executions == 30 and counts.steps == len(slow.pauses) > 1
    assert all(pause >= max(MIN_PAUSE_S, 0.012) - 1e-9 for pause in slow.pauses)
    assert counts.longest_step_ms == pytest.approx(12.0)


# --- what a policy keeps ------------------------------------------------------------------------------------------


async def test_the_age_limit_deletes_what_finished_before_the_horizon(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    await record(recorder, 'old', at=NOW - timedelta(days=31))
    await record(recorder, 'recent', at=NOW - timedelta(days=29))
    await record(recorder, 'old-running', at=NOW - timedelta(days=90), end=None)
    await record(recorder, 'old-cancelled', at=NOW - timedelta(days=40), end=EventType.EXECUTION_CANCELLED)

    counts = await pruner(database, fake).prune_executions(RetentionPolicy(days=30, max_executions=0), NOW)

    assert counts.executions == 2
    assert await ids(database) == ['old-running', 'recent']


async def test_the_count_limit_keeps_the_newest_finished_executions(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    for n in range(8):
        await record(recorder, f'run{n}', at=NOW - timedelta(minutes=10 - n))
    await record(recorder, 'running', at=NOW - timedelta(hours=5), end=None)  # not counted, not deleted
    policy = RetentionPolicy(days=0, max_executions=3)

    counts = await pruner(database, fake).prune_executions(policy, NOW)

    assert counts.executions == 5 and counts.events == 5 * 6
    assert await ids(database) == ['run5', 'run6', 'run7', 'running']
    assert (await pruner(database, fake).prune_executions(policy, NOW)).executions == 0


def test_the_policy_says_what_it_keeps() -> None:
    assert RetentionPolicy(days=0, max_executions=0).keeps_everything
    assert RetentionPolicy(days=0, max_executions=0).horizon(NOW) is None
    assert RetentionPolicy(days=30, max_executions=0).horizon(NOW) == NOW - timedelta(days=30)
    assert RetentionPolicy(days=10**9, max_executions=0).horizon(NOW) is None  # beyond the calendar: nothing that old
    assert not RetentionPolicy(days=0, max_executions=5).keeps_everything


# --- deliveries and snapshots -------------------------------------------------------------------------------------


async def test_settled_deliveries_older_than_the_horizon_go_with_their_attempts(
    database: Database, fake: FakeTime
) -> None:
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
    rows = [('d-old', 'succeeded', old), ('d-exhausted', 'exhausted', old), ('d-recent', 'failed', recent),
            ('d-pending', 'retrying', old)]  # fmt: skip
    async with database.engine.begin() as conn:
        for delivery_id, status, when in rows:
            await conn.execute(
                deliveries.insert().values(
                    id=delivery_id, webhook_id=f'msg_{delivery_id}', source='api', url='https://example.org/',
                    headers='{}', body=b'{}', status=status, attempts=2, round_base=0, max_attempts=3,
                    created_at=when, updated_at=when, finished_at=None if status == 'retrying' else when,
                )
            )  # fmt: skip
            for n in (1, 2):
                await conn.execute(
                    attempts.insert().values(
                        delivery_id=delivery_id, webhook_id=f'msg_{delivery_id}', n=n, trigger='first',
                        started_at=when, url='https://example.org/', body_sha256='0' * 64,
                    )
                )  # fmt: skip

    counts = await pruner(database, fake).prune_deliveries(NOW - timedelta(days=30))

    assert (counts.deliveries, counts.attempts) == (2, 4)
    async with database.engine.connect() as conn:
        left = set((await conn.execute(select(deliveries.c.id))).scalars())
        logged = set((await conn.execute(select(attempts.c.delivery_id))).scalars())
    assert left == logged == {'d-recent', 'd-pending'}


async def test_a_snapshot_goes_once_no_execution_names_it(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    await record(recorder, 'a', at=NOW)
    await record(recorder, 'b', at=NOW)
    other = {**DEFINITION, 'name': 'Orphan'}
    async with database.engine.begin() as conn:
        await conn.execute(_snapshots.insert().values(hash=definition_hash(other), definition='{}', created_at=NOW))
    assert await count(database, _snapshots) == 2

    assert (await pruner(database, fake).prune_snapshots()).snapshots == 1  # the orphan; 'a' and 'b' name DIGEST
    await pruner(database, fake).delete_execution('a')
    assert (await pruner(database, fake).prune_snapshots()).snapshots == 0  # 'b' still names it
    await pruner(database, fake).delete_execution('b')
    assert (await pruner(database, fake).prune_snapshots()).snapshots == 1
    assert await count(database, _snapshots) == 0


# --- space ----------------------------------------------------------------------------------------------------------


async def old_big_runs(database: Database, recorder: EventRecorder) -> int:
    """40 finished executions of 60 days ago with 20 KB of data each; the size of the SQLite file they grew."""
    for n in range(40):
        events = run_events(f'r{n:02d}', at=NOW - timedelta(days=60))
        events[1] = Event(
            execution_id=events[1].execution_id, seq=2, type=EventType.EXECUTION_STARTED, ts=events[1].ts,
            data={'note': 'x' * 20_000},
        )  # fmt: skip
        await recorder.write(events, snapshots={DIGEST: DEFINITION})
    await database.checkpoint()
    return Path(str(database.engine.url.database)).stat().st_size


async def test_freed_pages_are_given_back_and_the_file_shrinks(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    if not database.is_sqlite:
        assert await database.give_back(100) == 0  # PostgreSQL's autovacuum reuses freed space on its own
        return
    path = Path(str(database.engine.url.database))
    grown = await old_big_runs(database, recorder)

    counts = await pruner(database, fake).prune_executions(RetentionPolicy(days=30, max_executions=0), NOW)
    assert counts.executions == 40
    assert await database.free_pages() > 100
    given = await pruner(database, fake).give_back_space()

    assert given.pages_given_back > 100 and await database.free_pages() == 0
    assert path.stat().st_size < grown - given.pages_given_back * 4096 // 2


@pytest.mark.parametrize('database_url', ['sqlite'], indirect=True)  # the SQLite file: PostgreSQL has none to shrink
async def test_the_file_shrinks_once_a_reader_of_an_older_snapshot_lets_go(
    database: Database, recorder: EventRecorder, fake: FakeTime
) -> None:
    """A passive checkpoint stops short of the end of the log while someone reads an older snapshot, and only one
    that gets to the end shrinks the file: giving space back tries again until the file has shrunk."""
    path = Path(str(database.engine.url.database))
    grown = await old_big_runs(database, recorder)
    assert (await pruner(database, fake).prune_executions(RetentionPolicy(days=30, max_executions=0), NOW)).executions
    await database.checkpoint()

    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute('BEGIN')
    assert reader.execute('SELECT count(*) FROM executions').fetchone() == (0,)  # holds this snapshot until COMMIT
    asyncio.get_running_loop().call_later(0.3, reader.execute, 'COMMIT')
    try:
        given = await Pruner(database, delivery_final_statuses=FINAL).give_back_space()
    finally:
        reader.close()
    assert given.pages_given_back > 100
    assert path.stat().st_size < grown - given.pages_given_back * 4096 // 2


async def test_an_older_file_is_switched_to_incremental_vacuum_at_start(tmp_path: Path) -> None:
    path = tmp_path / 'old.db'
    with closing(sqlite3.connect(path)) as conn:  # as an earlier flowmon made it: no auto_vacuum, WAL
        conn.execute('PRAGMA journal_mode=WAL')
        conn.execute('CREATE TABLE leftover (x INTEGER)')
        assert conn.execute('PRAGMA auto_vacuum').fetchone() == (0,)
    database = Database(f'sqlite+aiosqlite:///{path}')
    try:
        await database.start()
        async with database.engine.connect() as conn:
            assert (await conn.execute(text('PRAGMA auto_vacuum'))).scalar_one() == 2
        fresh = Database(f'sqlite+aiosqlite:///{tmp_path}/new.db')
        await fresh.start()
        async with fresh.engine.connect() as conn:
            assert (await conn.execute(text('PRAGMA auto_vacuum'))).scalar_one() == 2  # made so: no VACUUM needed
        await fresh.stop()
    finally:
        await database.stop()


# --- pacing ---------------------------------------------------------------------------------------------------------


def test_the_pacer_grows_while_steps_are_quick_and_shrinks_after_a_slow_one() -> None:
    pacer = Pacer(size=200, maximum=2000)
    assert pacer.took(STEP_TARGET_S / 10) == MIN_PAUSE_S and pacer.size == 300
    for _ in range(10):
        pacer.took(STEP_TARGET_S / 10)
    assert pacer.size == 2000
    pause = pacer.took(STEP_TARGET_S * 4)  # rows with big payloads: four times the target
    assert pacer.size == 500 and pause == STEP_TARGET_S * 4
    pacer.took(STEP_TARGET_S * 0.75)  # within the target: stays
    assert pacer.size == 500
    for _ in range(20):
        pacer.took(100.0)
    assert pacer.size == 1  # never below one row


def test_counts_add_up_and_keep_the_longest_step() -> None:
    total = PruneCounts(events=3, steps=1, longest_step_ms=4.0)
    total.add(PruneCounts(events=2, executions=1, steps=2, longest_step_ms=9.5))
    assert (total.events, total.executions, total.steps, total.longest_step_ms) == (5, 1, 3, 9.5)
    assert total.rows()['events'] == 5
