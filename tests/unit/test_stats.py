"""Node statistics: each node's last 50 successful runs (count, p50, p95), cached per workflow and forgotten when a
run of it is written, and the "slower than usual" flag that compares a node with the runs of other executions.

Histories are written with their own timestamps (the recorder writes their node runs at once), so every duration
is exact and no test waits on a clock."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from flowmon.application import Application
from flowmon.application.errors import NotFound
from flowmon.application.stats import REREAD_SECONDS, NodeStatistics, NodeStats, is_slow, percentile
from flowmon.bootstrap import System
from flowmon.engine import Event, EventBus, EventType
from flowmon.engine.core.reducer import fold
from flowmon.settings import Settings, load_settings
from flowmon.store import EventRecorder
from flowmon.store.node_stats import NodeRunStats
from flowmon.store.retention import Pruner, RetentionPolicy
from flowmon.store.tables import NodeRunRow

NODE_RUNS = NodeRunRow.__table__  # type: ignore[attr-defined]

T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
PIPE = b"""{"id": "pipe", "name": "Pipe", "nodes": [
  {"id": "load", "type": "log", "config": {"message": "load"}},
  {"id": "work", "type": "log", "config": {"message": "work"}}],
  "edges": [{"source": "load", "target": "work"}]}"""


def run_events(execution_id: str, start: datetime, seconds: dict[str, float], *, end: bool = True) -> list[Event]:
    """An execution of ``pipe`` whose nodes ran one after the other for the given seconds (the last one still
    running when ``end`` is False)."""
    events: list[Event] = []

    def add(type_: EventType, at: datetime, node_id: str | None = None, **data: object) -> None:
        events.append(
            Event(execution_id=execution_id, seq=len(events) + 1, type=type_, ts=at, node_id=node_id, data=data)
        )

    add(EventType.EXECUTION_QUEUED, start, workflow_id='pipe', nodes=list(seconds), input={})
    add(EventType.EXECUTION_STARTED, start)
    at = start
    for index, (node_id, took) in enumerate(seconds.items()):
        add(EventType.NODE_STARTED, at, node_id, attempt=1, input={})
        if not end and index == len(seconds) - 1:
            return events
        at += timedelta(seconds=took)
        add(EventType.NODE_COMPLETED, at, node_id, attempt=1, output={})
    add(EventType.EXECUTION_COMPLETED, at)
    return events


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The system of these tests on SQLite and on PostgreSQL: the statistics are queries of the store."""
    return load_settings(
        {
            'FLOWMON_DATA_DIR': str(tmp_path / 'data'),
            'FLOWMON_WORKFLOWS_DIR': str(tmp_path / 'no-workflows'),
            'FLOWMON_DATABASE_URL': database_url,
        }
    )


@pytest.fixture
async def application(system: System) -> Application:
    await system.application.workflows.put('pipe', PIPE)
    return system.application


async def record(system: System, execution_id: str, start: datetime, seconds: dict[str, float]) -> None:
    await system.recorder.write(run_events(execution_id, start, seconds))


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1.0], 0.95) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert NodeStats.of([]) == NodeStats(0, None, None)
    assert NodeStats.of([2.0, 1.0]) == NodeStats(2, 1.5, 1.95)


def test_slow_needs_five_earlier_runs_and_a_duration_above_their_p95() -> None:
    usual = NodeStats.of([1.0, 1.1, 1.2, 1.0, 1.1])
    assert usual.count == 5 and usual.p95_seconds == pytest.approx(1.18)
    assert is_slow(1.9, usual) and not is_slow(1.1, usual) and not is_slow(None, usual)
    assert not is_slow(1.9, NodeStats.of([1.0, 1.0, 1.0, 1.0]))  # four runs say nothing about "usual"
    assert not is_slow(1.9, None)


async def test_stats_take_each_nodes_last_fifty_successful_runs(system: System, application: Application) -> None:
    for n in range(60):  # the ten oldest (10 s each) fall out of the sample
        took = 10.0 if n < 10 else 1.0 + (n % 5) / 10
        await record(system, f'run{n:02d}', T0 + timedelta(minutes=n), {'load': 0.5, 'work': took})
    failed = run_events('failed', T0 + timedelta(hours=2), {'load': 0.5, 'work': 0}, end=False)
    at = failed[-1].ts + timedelta(seconds=99)  # work fails after 99 s: not a successful run
    failed += [
        Event(execution_id='failed', seq=6, type=EventType.NODE_FAILED, ts=at, node_id='work',
              data={'attempt': 1, 'error': 'boom'}),
        Event(execution_id='failed', seq=7, type=EventType.EXECUTION_FAILED, ts=at, data={'error': 'boom'}),
    ]  # fmt: skip
    await system.recorder.write(failed)

    stats = await application.stats.nodes('pipe')

    assert set(stats) == {'load', 'work'}
    assert stats['load'] == NodeStats(50, 0.5, 0.5)
    assert stats['work'].count == 50
    assert stats['work'].p50_seconds == pytest.approx(1.2)
    assert stats['work'].p95_seconds == pytest.approx(1.4)
    with pytest.raises(NotFound, match="workflow 'nope' not found"):
        await application.stats.nodes('nope')


async def test_a_finished_run_replaces_what_was_cached(system: System, application: Application) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats(5, 1.0, 1.0)
    calls = 0
    latest = system.application.stats._runs.latest

    async def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await latest(*args, **kwargs)  # type: ignore[arg-type]

    system.application.stats._runs.latest = counting  # type: ignore[method-assign]
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats(5, 1.0, 1.0)
    assert calls == 0  # cached

    await record(system, 'run5', T0 + timedelta(minutes=5), {'load': 1.0, 'work': 3.0})
    assert (await application.stats.nodes('pipe'))['work'].count == 6
    assert calls == 1


async def test_runs_in_imported_executions_are_not_part_of_the_baseline(
    system: System, application: Application
) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    for n in range(3):  # another instance's history, imported: it says nothing of how long work takes here
        imported = run_events(f'imp{n}', T0 + timedelta(hours=1, minutes=n), {'load': 1.0, 'work': 9.0})
        await system.recorder.write(imported, new_execution_columns={f'imp{n}': {'imported_from': 'elsewhere'}})

    assert (await application.stats.nodes('pipe'))['work'] == NodeStats(5, 1.0, 1.0)
    assert await application.history.usual_duration_ms('pipe') == 2000.0


async def test_an_execution_is_compared_with_the_runs_of_other_executions(
    system: System, application: Application
) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0 + n / 10})
    slow_run = run_events('slow', T0 + timedelta(hours=1), {'load': 1.0, 'work': 1.9})
    await system.recorder.write(slow_run)

    state = fold(slow_run)
    assert state is not None
    assert await application.stats.slow_nodes(state) == {'work'}  # its own 1.9 s is not part of its baseline
    baseline = await application.stats.baselines('pipe', ['work'], excluding='slow')
    assert baseline['work'].count == 5 and baseline['work'].p95_seconds == pytest.approx(1.38)
    # an earlier run is compared with the others, this slow one included: it is not slow
    earlier = await application.stats.slow_nodes(fold(run_events('run4', T0, {'load': 1.0, 'work': 1.4})))  # type: ignore[arg-type]
    assert earlier == frozenset()


async def test_a_running_node_is_slow_once_its_time_so_far_passes_the_p95(
    system: System, application: Application
) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    running = fold(run_events('live', T0 + timedelta(hours=1), {'load': 1.0, 'work': 0}, end=False))
    assert running is not None and running.nodes['work'].status == 'running'
    started = running.nodes['work'].started_at
    assert started is not None
    assert await application.stats.slow_nodes(running, started + timedelta(seconds=0.9)) == frozenset()
    assert await application.stats.slow_nodes(running, started + timedelta(seconds=1.5)) == {'work'}


async def test_runs_that_end_while_the_statistics_are_read_are_not_left_out_for_good(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(system, 'one', T0, {'load': 1.0, 'work': 1.0})
    latest = NodeRunStats.latest

    async def a_run_ends_meanwhile(self: NodeRunStats, *args: Any, **kwargs: Any) -> Any:
        read = await latest(self, *args, **kwargs)
        await record(system, 'two', T0 + timedelta(minutes=1), {'load': 1.0, 'work': 2.0})
        return read

    monkeypatch.setattr(NodeRunStats, 'latest', a_run_ends_meanwhile)
    assert (await application.stats.nodes('pipe'))['work'].count == 1  # what the read found
    monkeypatch.setattr(NodeRunStats, 'latest', latest)
    assert (await application.stats.nodes('pipe'))['work'].count == 2  # not kept: read again


async def test_forgetting_many_workflows_keeps_nothing_of_them(application: Application) -> None:
    """Node runs of a workflow written here (or announced by another process) make the statistics forget what they
    had of it; what they keep for that is bounded, not one entry per workflow ever run."""
    application.stats.announce = lambda _workflow_ids: None  # (telling other processes is not what is measured)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(50_000):
            application.stats.written({f'workflow-{n}'})
        await application.stats.refresh(None)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 500_000, f'{grown:,} bytes kept after forgetting 50,000 workflows'


async def test_processes_sharing_a_database_tell_each_other_about_node_runs(
    system: System, application: Application
) -> None:
    told: list[set[str]] = []
    application.stats.announce = lambda workflow_ids: told.append(set(workflow_ids))  # the cluster's change feed
    if system.cluster is not None:  # (PostgreSQL) the listener's first connect refreshes everything: let it land first
        assert system.cluster.listener is not None
        await system.cluster.listener.connected.wait()
        await system.cluster.feed.settled()
    await record(system, 'here', T0, {'load': 1.0, 'work': 1.0})
    assert told == [{'pipe'}]  # written here: the other processes are told
    assert (await application.stats.nodes('pipe'))['work'].count == 1

    elsewhere = EventRecorder(system.db, EventBus())  # another process's recorder on the same database
    await elsewhere.write(run_events('there', T0 + timedelta(minutes=1), {'load': 1.0, 'work': 2.0}))
    assert (await application.stats.nodes('pipe'))['work'].count == 1  # not known here until it is told
    await application.stats.refresh('pipe')
    assert (await application.stats.nodes('pipe'))['work'].count == 2
    await elsewhere.write(run_events('again', T0 + timedelta(minutes=2), {'load': 1.0, 'work': 2.0}))
    await application.stats.refresh(None)  # the feed reconnected: forget every workflow
    assert (await application.stats.nodes('pipe'))['work'].count == 3
    assert told == [{'pipe'}]  # what others wrote is not announced again


async def test_deleted_executions_leave_the_statistics_at_once(system: System, application: Application) -> None:
    for n in range(6):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0 + n})
    assert (await application.stats.nodes('pipe'))['work'].count == 6  # read, and kept

    await application.executions.delete('run5')
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats.of([1.0, 2.0, 3.0, 4.0, 5.0])
    await application.executions.delete_many(['run0', 'run1'])
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats.of([3.0, 4.0, 5.0])
    assert (await application.stats.baselines('pipe', ['work']))['work'].count == 3


async def test_a_baseline_is_read_as_stored_without_waiting_for_the_recorder(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    settle = system.recorder.settle
    waited: list[str] = []

    async def settle_for_a_reader() -> None:
        waited.append('settle')
        await settle()

    monkeypatch.setattr(system.recorder, 'settle', settle_for_a_reader)
    slow = fold(run_events('slow', T0 + timedelta(hours=1), {'load': 1.0, 'work': 3.0}))
    assert await application.stats.slow_nodes(slow) == {'work'}  # type: ignore[arg-type]
    assert (await application.stats.baselines('pipe', ['work']))['work'].count == 5
    assert waited == []  # a busy recorder would have kept the reader waiting
    for event in run_events('live', T0 + timedelta(hours=2), {'load': 1.0, 'work': 1.0}):
        system.bus.publish(event)  # a run that ends here: its node runs are written after its events
    await system.recorder.flush()
    assert (await application.stats.nodes('pipe'))['work'].count == 6  # the statistics read their writes


async def test_a_run_pruned_in_several_steps_is_not_counted_between_them(
    system: System, application: Application
) -> None:
    for n in range(6):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0 + n})
    assert (await application.stats.nodes('pipe'))['work'].count == 6
    between: list[int] = []

    async def read_while_paused(_seconds: float) -> None:  # GET /api/workflows/pipe/stats between two steps
        between.append((await application.stats.nodes('pipe'))['work'].count)

    retention = application.retention
    retention.pruner = Pruner(
        system.db, delivery_final_statuses=['delivered'], max_step_rows=3, sleep=read_while_paused
    )
    retention.policy = RetentionPolicy(days=0, max_executions=5)  # run0 goes, a few of its rows a step
    result = await retention.prune()
    assert result.error is None and result.counts.executions == 1 and len(between) > 1
    assert set(between) == {5}  # reported deleted at its first step: its node runs went in that step
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats.of([2.0, 3.0, 4.0, 5.0, 6.0])


async def test_the_statistics_count_a_run_that_ended_a_moment_ago(system: System, application: Application) -> None:
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    assert (await application.stats.nodes('pipe'))['work'].count == 5  # cached
    for event in run_events('live', T0 + timedelta(hours=2), {'load': 1.0, 'work': 1.0}):
        system.bus.publish(event)  # it ends here; the recorder's next group commit is up to 100 ms away
    assert (await application.stats.baselines('pipe', ['work'], fresh=True))['work'].count == 6  # as a page opens
    assert (await application.stats.nodes('pipe'))['work'].count == 6


async def test_an_answer_read_while_a_run_is_deleted_does_not_keep_it_from_the_cache(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(6):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0 + n})
    assert (await application.stats.baselines('pipe', ['work']))['work'].count == 6  # work cached, load not
    latest = NodeRunStats.latest
    deleted: list[str] = []

    async def deleted_meanwhile(self: NodeRunStats, *args: Any, **kwargs: Any) -> Any:
        read = await latest(self, *args, **kwargs)
        if not deleted:
            deleted.append('run5')
            await application.executions.delete('run5')
        return read

    monkeypatch.setattr(NodeRunStats, 'latest', deleted_meanwhile)
    stats = await application.stats.nodes('pipe')  # reads load; run5 goes meanwhile
    assert deleted and stats['work'].count == 5  # what was cached of work is not answered as it was
    monkeypatch.setattr(NodeRunStats, 'latest', latest)
    assert (await application.stats.nodes('pipe'))['load'].count == 5


async def test_runs_that_end_here_enter_the_cached_runs_without_a_read(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a sustained load of one workflow's runs, reading its runs again after each write would follow every
    write (each read slowed by the busy loop): the runs written of an execution that ran here are put in instead."""
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0})
    assert (await application.stats.nodes('pipe'))['work'].count == 5  # cached
    reads: list[str] = []
    latest = NodeRunStats.latest

    async def counted(self: NodeRunStats, *args: Any, **kwargs: Any) -> Any:
        reads.append('read')
        return await latest(self, *args, **kwargs)

    monkeypatch.setattr(NodeRunStats, 'latest', counted)
    for event in run_events('live', T0 + timedelta(hours=2), {'load': 1.5, 'work': 2.5}):
        system.bus.publish(event)  # a run that ends here
    await system.recorder.settle()  # its events, then its node runs
    taken = await application.stats.nodes('pipe')
    assert reads == [] and taken['work'] == NodeStats.of([1.0] * 5 + [2.5])
    assert (await application.stats.baselines('pipe', ['work'], excluding='live'))['work'].count == 5

    again = fold(run_events('live', T0 + timedelta(hours=2), {'load': 1.5, 'work': 2.5}))
    application.stats.written({'pipe'}, [again])  # told twice (a read after the write had it already): once
    ghost = fold(run_events('ghost', T0 + timedelta(hours=3), {'load': 1.0, 'work': 9.0}))
    application.stats.deleted('ghost')
    application.stats.written({'pipe'}, [ghost])  # deleted before its node runs were written: they went with it
    assert (await application.stats.nodes('pipe')) == taken and reads == []

    application.stats.written({'pipe'})  # (written elsewhere than here: read again)
    assert (await application.stats.nodes('pipe')) == taken and reads == ['read']  # what the database says too


async def test_runs_put_into_the_cached_runs_keep_nothing_of_those_that_fell_out_of_the_sample(
    system: System, application: Application
) -> None:
    """A workflow that runs on a schedule, its statistics read once: each run is put into its cached runs, and what
    the statistics keep of it stays the size of the sample, not one entry more per run."""
    await record(system, 'first', T0, {'load': 1.0, 'work': 1.0})
    assert (await application.stats.nodes('pipe'))['work'].count == 1  # read, and kept
    application.stats.announce = lambda _workflow_ids: None  # (telling other processes is not what is measured)

    def take(n: int) -> None:
        execution_id = f'scheduled-run-{n:08d}-of-the-nightly-job'
        ran = fold(run_events(execution_id, T0 + timedelta(minutes=n + 1), {'load': 1.0, 'work': 2.0}))
        application.stats.written({'pipe'}, [ran])

    for n in range(200):  # the sample is full from here on: a run put in is one dropped
        take(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(200, 2_200):
            take(n)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # (kept: about 0.1 MB; one id a run kept: about 0.4 MB)
    assert grown < 200_000, f'{grown:,} bytes kept after 2,000 runs put into the cached runs'
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats.of([2.0] * 50)


async def test_runs_a_deletion_has_not_reached_yet_are_not_cached_and_the_cache_is_read_again_in_time(
    system: System, application: Application
) -> None:
    """Runs put into the cache stand in for reads; what no news reached (a deletion whose notice was lost, rows that a
    paced deletion removes at a later step) cannot keep the cache from the database for longer than a re-read."""
    now = [0.0]
    stats = NodeStatistics(
        runs=NodeRunStats(system.db), recorder=system.recorder, history=system.history, clock=lambda: now[0]
    )
    for n in range(5):
        await record(system, f'run{n}', T0 + timedelta(minutes=n), {'load': 1.0, 'work': 1.0 + n})
    stats.deleted('run4')  # its deletion began; its rows go at a later step
    assert (await stats.nodes('pipe'))['work'] == NodeStats.of([1.0, 2.0, 3.0, 4.0])

    async with system.db.engine.begin() as conn:  # run0's rows go, and no news of it comes
        await conn.execute(delete(NODE_RUNS).where(NODE_RUNS.c.execution_id == 'run0'))
    now[0] += REREAD_SECONDS
    assert (await stats.nodes('pipe'))['work'].count == 4  # cached
    now[0] += 0.1
    assert (await stats.nodes('pipe'))['work'] == NodeStats.of([2.0, 3.0, 4.0])  # read again


def retried_events(execution_id: str, start: datetime, tries: float, wait: float) -> list[Event]:
    """An execution of ``pipe`` whose ``work`` succeeded at its second try, each try ``tries`` seconds, ``wait``
    seconds apart (the backoff)."""
    events = run_events(execution_id, start, {'load': 0.0, 'work': 0.0}, end=False)
    at = events[-1].ts

    def add(type_: EventType, after: float, node_id: str | None = None, **data: object) -> None:
        nonlocal at
        at += timedelta(seconds=after)
        events.append(
            Event(execution_id=execution_id, seq=len(events) + 1, type=type_, ts=at, node_id=node_id, data=data)
        )

    add(EventType.NODE_RETRYING, tries, 'work', attempt=1, error='flaky', delay_seconds=wait)
    add(EventType.NODE_STARTED, wait, 'work', attempt=2, input={})
    add(EventType.NODE_COMPLETED, tries, 'work', attempt=2, output={})
    add(EventType.EXECUTION_COMPLETED, 0)
    return events


async def test_runs_are_measured_by_the_time_their_tries_ran_not_the_waits_between_them(
    system: System, application: Application
) -> None:
    """The baseline and the node it is compared with are both the time the node's tries ran (what its card shows):
    a node retried after a 10 s backoff, its two tries of 0.5 s each, is 1 s in the statistics and is not slower
    than runs of 1 s; its span of 11 s made it slow, and made the p95 of runs like it 11 s."""
    for n in range(5):
        await system.recorder.write(retried_events(f'run{n}', T0 + timedelta(minutes=n), 0.5, 10.0))
    assert (await application.stats.nodes('pipe'))['work'] == NodeStats(5, 1.0, 1.0)
    trend = await application.stats.trend('pipe')
    assert [run.seconds for run in trend['work']] == [1.0] * 5

    retried = retried_events('retried', T0 + timedelta(hours=1), 0.4, 10.0)
    await system.recorder.write(retried)
    state = fold(retried)
    assert state is not None and state.nodes['work'].duration_ms == 10_800.0
    assert await application.stats.slow_nodes(state) == frozenset()
    baseline = await application.stats.baselines('pipe', ['work'], excluding='none', fresh=True)
    assert baseline['work'] == NodeStats(6, 1.0, 1.0)  # (0.8 s, written and read back as such)
    assert NodeStats.of(run.seconds for run in (await application.stats.trend('pipe'))['work']).p50_seconds == 1.0

    waiting = fold(retried[:-3])  # waiting 10 s for its second try: the wait is not it being slow
    assert waiting is not None and waiting.nodes['work'].status == 'retrying'
    assert await application.stats.slow_nodes(waiting, T0 + timedelta(hours=1, seconds=9)) == frozenset()
    second = fold(retried[:-2])  # its second try running: 0.4 s and what it has run so far
    assert second is not None and second.nodes['work'].status == 'running'
    started = second.nodes['work'].attempt_log[-1].started_at
    assert await application.stats.slow_nodes(second, started + timedelta(seconds=0.5)) == frozenset()
    assert await application.stats.slow_nodes(second, started + timedelta(seconds=0.7)) == {'work'}
