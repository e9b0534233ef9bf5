"""The event recorder: group commits, timely and complete flushes, derived rows, no loss on failed writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from flowmon.engine import Engine, Event, EventBus, EventType, ExecutionState, Workflow, default_registry, fold
from flowmon.engine import parse_workflow as _parse
from flowmon.store import Database, EventRecorder, History
from flowmon.store import recorder as recorder_module
from flowmon.store.codec import from_db_time, loads
from flowmon.store.tables import EventRow, ExecutionRow, NodeRunRow, WorkflowSnapshotRow

EVENTS = EventRow.__table__  # type: ignore[attr-defined]
EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]
NODE_RUNS = NodeRunRow.__table__  # type: ignore[attr-defined]

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def parse(raw: dict[str, Any]) -> Workflow:
    return _parse(raw, default_registry())


def fan_out(width: int, workflow_id: str = 'fan') -> Workflow:
    """start -> n0..n{width-1} (delay 0) -> join: many events in very little time."""
    branches = [f'n{i}' for i in range(width)]
    return parse(
        {
            'id': workflow_id,
            'name': 'Fan out',
            'nodes': [
                {'id': 'start', 'type': 'log', 'config': {'message': 'go'}},
                *({'id': b, 'type': 'delay', 'config': {'seconds': 0}} for b in branches),
                {'id': 'join', 'type': 'log', 'config': {'message': 'joined'}},
            ],
            'edges': [
                *({'source': 'start', 'target': b} for b in branches),
                *({'source': b, 'target': 'join'} for b in branches),
            ],
        }
    )


# prepare -> flaky (fails once, then succeeds) -> finish; every kind of payload on the way.
FLAKY = {
    'id': 'flaky',
    'name': 'Flaky chain',
    'nodes': [
        {'id': 'prepare', 'type': 'transform', 'config': {'expression': "{order: input.order, note: 'héllo ✓'}"}},
        {
            'id': 'flaky',
            'type': 'fail',
            'config': {'message': 'gateway timeout', 'times': 1},
            'retry': {'max_attempts': 3, 'backoff_seconds': 0},
        },
        {'id': 'finish', 'type': 'delay', 'config': {'seconds': 0.01}},
    ],
    'edges': [{'source': 'prepare', 'target': 'flaky'}, {'source': 'flaky', 'target': 'finish'}],
}

BROKEN = {
    'id': 'broken',
    'name': 'Always fails',
    'nodes': [
        {'id': 'load', 'type': 'delay', 'config': {'seconds': 0}},
        {'id': 'parse', 'type': 'fail', 'config': {'message': "bad column 'x'"}},
        {'id': 'after', 'type': 'log', 'config': {'message': 'never'}},
    ],
    'edges': [{'source': 'load', 'target': 'parse'}, {'source': 'parse', 'target': 'after'}],
}

SLOW = {
    'id': 'slow',
    'name': 'Slow',
    'nodes': [
        {'id': 'wait', 'type': 'delay', 'config': {'seconds': 30}},
        {'id': 'after', 'type': 'log', 'config': {'message': 'late'}},
    ],
    'edges': [{'source': 'wait', 'target': 'after'}],
}


@dataclass
class Rig:
    db: Database
    bus: EventBus
    recorder: EventRecorder
    history: History
    engine: Engine
    published: list[Event] = field(default_factory=list)

    def by_execution(self, execution_id: str) -> list[Event]:
        return [event for event in self.published if event.execution_id == execution_id]

    def state(self, execution_id: str) -> ExecutionState:
        state = fold(self.by_execution(execution_id))
        assert state is not None
        return state


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(database: Database) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """``await make_rig(**recorder_options)``: a started recorder, an engine and a record of every event.

    Teardown stops every rig's engine and recorder (stopping twice is harmless)."""
    rigs: list[Rig] = []

    async def make(**options: Any) -> Rig:
        bus = EventBus()
        rig = Rig(
            db=database,
            bus=bus,
            recorder=EventRecorder(database, bus, **options),
            history=History(database),
            engine=Engine(bus=bus, registry=default_registry()),
        )
        bus.subscribe(rig.published.append)
        await rig.recorder.start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.engine.stop()
        await rig.recorder.stop()


@pytest.fixture
async def rig(make_rig: MakeRig) -> Rig:
    return await make_rig()


async def count_events(db: Database, execution_id: str | None = None) -> int:
    query = select(func.count()).select_from(EVENTS)
    if execution_id is not None:
        query = query.where(EVENTS.c.execution_id == execution_id)
    async with db.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def execution_row(db: Database, execution_id: str) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(EXECUTIONS).where(EXECUTIONS.c.id == execution_id))).first()


async def node_run_rows(db: Database, execution_id: str) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(NODE_RUNS).where(NODE_RUNS.c.execution_id == execution_id))).all()
    return {row.node_id: row for row in rows}


def event(execution_id: str, seq: int, type_: EventType, node_id: str | None = None, **data: Any) -> Event:
    return Event(
        execution_id=execution_id, seq=seq, type=type_, ts=T0 + timedelta(seconds=seq), node_id=node_id, data=data
    )


def queued(execution_id: str, *nodes: str) -> Event:
    return event(execution_id, 1, EventType.EXECUTION_QUEUED, workflow_id='wf', nodes=list(nodes), input={})


# --- batching and flushing --------------------------------------------------------------------------


async def test_many_events_are_written_in_few_group_commits(rig: Rig) -> None:
    workflow = fan_out(60)
    ids = [rig.engine.submit(workflow) for _ in range(5)]
    await rig.engine.wait_idle()
    await rig.recorder.flush()

    total = len(rig.published)
    assert total > 1000  # 5 x (62 nodes x ~4 events + progress + data.flow)
    assert await count_events(rig.db) == total
    assert rig.recorder.written == total
    assert rig.recorder.flushes * 20 <= total, f'{rig.recorder.flushes} flushes for {total} events'
    for execution_id in ids:
        assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_events_reach_the_database_without_an_explicit_flush(rig: Rig) -> None:
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 7})
    await rig.engine.wait_idle()
    expected = len(rig.by_execution(execution_id))

    deadline = asyncio.get_running_loop().time() + 2.0
    while await count_events(rig.db, execution_id) < expected:
        assert asyncio.get_running_loop().time() < deadline, 'the recorder did not flush on its own within 2 s'
        await asyncio.sleep(0.02)
    assert rig.recorder.backlog == 0
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_a_batch_limit_flushes_early_and_in_bounded_batches(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60, batch_limit=50)
    execution_id = rig.engine.submit(fan_out(40))
    await rig.engine.wait_idle()
    total = len(rig.by_execution(execution_id))
    deadline = asyncio.get_running_loop().time() + 2.0
    # With a 60 s interval only a full batch can have woken the flush loop; what is left is under a batch.
    while rig.recorder.backlog >= 50 or await count_events(rig.db, execution_id) + rig.recorder.backlog < total:
        assert asyncio.get_running_loop().time() < deadline, 'a full batch did not wake the flush loop'
        await asyncio.sleep(0.02)
    assert await count_events(rig.db, execution_id) >= total - 49
    await rig.recorder.stop()
    assert await count_events(rig.db, execution_id) == total
    assert rig.recorder.flushes * 50 >= total  # every transaction held at most one batch of 50


async def test_stop_writes_everything_still_pending(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60)  # the loop never fires on its own during the test
    ids = [rig.engine.submit(parse(FLAKY), {'order': n}) for n in range(3)]
    await rig.engine.wait_idle()
    assert rig.recorder.backlog == len(rig.published)
    assert await count_events(rig.db) == 0

    await rig.recorder.stop()

    assert rig.recorder.backlog == 0
    assert await count_events(rig.db) == len(rig.published)
    for execution_id in ids:
        assert (await execution_row(rig.db, execution_id)).status == 'succeeded'
    # Stopped means unsubscribed: later events are not taken any more.
    rig.bus.publish(queued('late', 'a'))
    assert rig.recorder.backlog == 0


# --- what is written --------------------------------------------------------------------------------


async def test_events_round_trip_unchanged(rig: Rig) -> None:
    ids = [
        rig.engine.submit(parse(FLAKY), {'order': {'id': 'ORD-1', 'lines': [1, 2.5, None, True], 'note': 'ünï ✓'}}),
        rig.engine.submit(parse(BROKEN)),
        rig.engine.submit(fan_out(5)),
    ]
    await rig.engine.wait_idle()
    await rig.recorder.flush()

    for execution_id in ids:
        stored = await rig.history.events(execution_id)
        published = rig.by_execution(execution_id)
        assert [e.marshal() for e in stored] == [e.marshal() for e in published]
        assert [e.seq for e in stored] == list(range(1, len(published) + 1))
        assert stored == published  # same frozen values, timestamps included


async def test_execution_and_node_run_rows_follow_the_events(rig: Rig) -> None:
    ok = rig.engine.submit(parse(FLAKY), {'order': 42})
    failed = rig.engine.submit(parse(BROKEN))
    await rig.engine.wait_idle()
    rerun = rig.engine.rerun(rig.state(ok), parse(FLAKY), from_node='finish')
    await rig.engine.wait_idle()
    await rig.recorder.flush()

    for execution_id in (ok, failed, rerun):
        state = rig.state(execution_id)
        row = await execution_row(rig.db, execution_id)
        assert row.workflow_id == state.workflow_id
        assert row.status == state.status
        assert loads(row.input) == state.input
        assert loads(row.output) == state.output
        assert row.error == state.error
        assert from_db_time(row.created_at) == state.created_at
        assert from_db_time(row.started_at) == state.started_at
        assert from_db_time(row.finished_at) == state.finished_at
        assert row.duration_ms == pytest.approx(state.duration_ms)
        assert row.retry_of == state.retry_of
        assert (row.nodes_done, row.nodes_total, row.last_seq) == (state.done, state.total, state.last_seq)

        runs = await node_run_rows(rig.db, execution_id)
        assert set(runs) == set(state.nodes)
        for node_id, node in state.nodes.items():
            run = runs[node_id]
            assert (run.status, run.attempts, run.reused, run.error) == (
                node.status,
                node.attempts,
                node.reused,
                node.error,
            ), node_id
            assert from_db_time(run.started_at) == node.started_at
            assert from_db_time(run.finished_at) == node.finished_at
            assert run.duration_ms == pytest.approx(node.duration_ms)

    ok_row = await execution_row(rig.db, ok)
    assert ok_row.status == 'succeeded'
    assert ok_row.duration_ms > 0
    ok_runs = await node_run_rows(rig.db, ok)
    assert ok_runs['flaky'].attempts == 2
    assert ok_runs['flaky'].status == 'succeeded'
    assert ok_runs['finish'].duration_ms >= 10  # a 0.01 s delay
    assert not any(run.reused for run in ok_runs.values())

    failed_row = await execution_row(rig.db, failed)
    assert failed_row.status == 'failed'
    assert "bad column 'x'" in failed_row.error
    failed_runs = await node_run_rows(rig.db, failed)
    assert {k: r.status for k, r in failed_runs.items()} == {'load': 'succeeded', 'parse': 'failed', 'after': 'skipped'}
    assert failed_runs['parse'].error == "bad column 'x'"

    rerun_row = await execution_row(rig.db, rerun)
    assert (rerun_row.status, rerun_row.retry_of) == ('succeeded', ok)
    rerun_runs = await node_run_rows(rig.db, rerun)
    assert {k: r.reused for k, r in rerun_runs.items()} == {'prepare': True, 'flaky': True, 'finish': False}


async def test_running_executions_have_a_row_but_no_node_runs_yet(rig: Rig) -> None:
    execution_id = rig.engine.submit(parse(SLOW))
    deadline = asyncio.get_running_loop().time() + 2.0
    while rig.state(execution_id).nodes['wait'].status != 'running':
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    await rig.recorder.flush()
    row = await execution_row(rig.db, execution_id)
    assert row.status == 'running'
    assert row.finished_at is None
    assert await node_run_rows(rig.db, execution_id) == {}

    assert rig.engine.cancel(execution_id)
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert (await execution_row(rig.db, execution_id)).status == 'cancelled'
    runs = await node_run_rows(rig.db, execution_id)
    assert {k: r.status for k, r in runs.items()} == {'wait': 'cancelled', 'after': 'cancelled'}


# --- failures and back-pressure ---------------------------------------------------------------------


def fail_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Make ``recorder_module.<name>`` raise the first time it is called; returns a call counter."""
    original = getattr(recorder_module, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError('disk on fire')
        return original(*args, **kwargs)

    monkeypatch.setattr(recorder_module, name, flaky)
    return calls


@pytest.mark.parametrize(
    'where',
    [
        '_event_row',  # fails before the transaction starts
        'write_node_runs',  # fails inside the transaction, after the event and execution inserts
    ],
)
async def test_a_failed_write_keeps_the_batch_and_a_later_flush_loses_nothing(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    rig = await make_rig(flush_interval=60)
    ids = [rig.engine.submit(parse(FLAKY), {'order': 1}), rig.engine.submit(parse(BROKEN))]
    await rig.engine.wait_idle()
    total = len(rig.published)
    calls = fail_once(monkeypatch, where)

    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.flush()
    assert calls
    assert rig.recorder.backlog == total
    assert await count_events(rig.db) == 0  # the failed transaction left nothing behind

    assert await rig.recorder.flush() == total
    await rig.recorder.stop()

    assert rig.recorder.backlog == 0
    for execution_id in ids:
        stored = await rig.history.events(execution_id)
        assert stored == rig.by_execution(execution_id)  # nothing lost, nothing duplicated
        state = rig.state(execution_id)
        row = await execution_row(rig.db, execution_id)
        assert row is not None, f'execution row of {execution_id} missing after the retried write'
        assert (row.status, row.last_seq) == (state.status, state.last_seq)
        assert set(await node_run_rows(rig.db, execution_id)) == set(state.nodes)


async def test_a_definition_is_stored_once_with_the_first_event_that_names_it(make_rig: MakeRig) -> None:
    """Runs of one workflow share one snapshot row, written in the transaction of a queued event that names it;
    the recorder lets go of the definition once every event that names it is stored."""
    rig = await make_rig(batch_limit=3)  # batches of three events: the queued events land in different ones
    rig.engine.snapshots = rig.recorder.keep_snapshot  # as the composition root wires it
    workflow = parse(FLAKY)
    ids = [rig.engine.submit(workflow, {'order': n}) for n in range(3)]
    await rig.engine.wait_idle()
    await rig.recorder.flush()

    assert await snapshot_hashes(rig.db) == [workflow.definition_hash]
    assert rig.recorder._snapshots == {}
    for execution_id in ids:
        row = await execution_row(rig.db, execution_id)
        assert row.workflow_hash == workflow.definition_hash
        assert (await rig.history.events(execution_id, limit=1))[0].data['workflow_hash'] == workflow.definition_hash
    assert await rig.history.get_snapshot(workflow.definition_hash) == workflow.definition()


async def test_a_failed_write_keeps_the_definition_for_the_retry(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await make_rig(flush_interval=60)
    rig.engine.snapshots = rig.recorder.keep_snapshot
    workflow = parse(FLAKY)
    execution_id = rig.engine.submit(workflow, {'order': 1})
    await rig.engine.wait_idle()
    calls = fail_once(monkeypatch, '_event_row')
    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.flush()
    assert calls and await snapshot_hashes(rig.db) == []  # nothing of the failed batch was written

    await rig.recorder.flush()

    assert await snapshot_hashes(rig.db) == [workflow.definition_hash]
    assert (await execution_row(rig.db, execution_id)).workflow_hash == workflow.definition_hash
    assert rig.recorder._snapshots == {}


async def snapshot_hashes(db: Database) -> list[str]:
    table = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(table.c.hash))).scalars())


async def test_a_cancelled_flush_still_finishes_the_batch_in_flight(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Abandoning a transaction midway would keep its write lock or commit it behind the recorder's back."""
    rig = await make_rig(flush_interval=60)
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    inside, release = asyncio.Event(), asyncio.Event()
    original = recorder_module.write_node_runs

    async def held(*args: Any) -> None:  # runs inside the transaction, after the inserts
        inside.set()
        await release.wait()
        await original(*args)

    monkeypatch.setattr(recorder_module, 'write_node_runs', held)
    caller = asyncio.create_task(rig.recorder.flush())
    await inside.wait()
    caller.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not caller.done()  # the cancelled caller waits for the transaction in flight
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller

    assert rig.recorder.backlog == 0
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'
    await rig.recorder.stop()
    assert await count_events(rig.db) == len(rig.published)  # written once, not again


async def test_the_flush_loop_retries_a_failed_write_on_its_own(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fail_once(monkeypatch, 'write_node_runs')
    rig = await make_rig()
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    expected = rig.by_execution(execution_id)
    deadline = asyncio.get_running_loop().time() + 2.0
    while await count_events(rig.db, execution_id) < len(expected) or rig.recorder.backlog:
        assert asyncio.get_running_loop().time() < deadline, 'the failed batch was not retried'
        await asyncio.sleep(0.02)
    assert len(calls) >= 2
    assert await rig.history.events(execution_id) == expected
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_a_long_backlog_puts_the_bus_under_pressure_until_flushed(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60, max_backlog=5)
    rig.bus.publish(queued('x1', 'a'))
    for seq in range(2, 6):
        rig.bus.publish(event('x1', seq, EventType.EXECUTION_PROGRESS, done=0, total=1))
    assert rig.recorder.backlog == 5
    assert not rig.bus.under_pressure()  # at the limit is fine; past it is not
    rig.bus.publish(event('x1', 6, EventType.EXECUTION_PROGRESS, done=0, total=1))
    assert rig.bus.under_pressure()

    await rig.recorder.flush()
    assert not rig.bus.under_pressure()
    assert await count_events(rig.db, 'x1') == 6


async def test_the_engine_waits_for_the_recorder_instead_of_growing_the_backlog(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60, max_backlog=10)
    execution_id = rig.engine.submit(fan_out(30))
    for _ in range(20):  # give the engine every chance to run ahead
        await asyncio.sleep(0.005)
    assert rig.bus.under_pressure()
    assert rig.state(execution_id).status == 'running'
    # The limit plus what one scheduling step emits ungated (30 data.flow hand-overs at most);
    # a free run of this workflow produces about 190 events.
    assert rig.recorder.backlog <= 10 + 30 + 5

    deadline = asyncio.get_running_loop().time() + 5.0
    while not rig.state(execution_id).is_terminal:
        assert asyncio.get_running_loop().time() < deadline
        await rig.recorder.flush()
        await asyncio.sleep(0.005)
    assert rig.state(execution_id).status == 'succeeded'
    await rig.recorder.stop()
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)
