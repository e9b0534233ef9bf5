"""The event recorder: group commits, timely and complete flushes, derived rows, no loss on failed writes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from sample_workflows import chain, delay, fail, log, transform
from sqlalchemy import func, select, update
from waiting import until

from flowmon.engine import Engine, Event, EventBus, EventType, ExecutionState, Workflow, default_registry, fold
from flowmon.engine import parse_workflow as _parse
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History
from flowmon.store import database as database_module
from flowmon.store import node_runs as node_runs_module
from flowmon.store import recorder_batches as recorder_batches_module
from flowmon.store import recorder_rows as recorder_rows_module
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
FLAKY = chain(
    'flaky',
    'Flaky chain',
    transform('prepare', "{order: input.order, note: 'héllo ✓'}"),
    fail('flaky', 'gateway timeout', times=1, retry={'max_attempts': 3, 'backoff_seconds': 0}),
    delay('finish', 0.01),
)
BROKEN = chain('broken', 'Always fails', delay('load', 0), fail('parse', "bad column 'x'"), log('after', 'never'))
SLOW = chain('slow', 'Slow', delay('wait', 30), log('after', 'late'))


@dataclass
class Rig:
    db: Database
    bus: EventBus
    recorder: EventRecorder
    history: History
    engine: Engine
    projector: Projector | None
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

    The recorder writes from a live projection, as the app wires it (``projector=False``: without one, folding
    the events itself). Teardown stops every rig's engine and recorder (stopping twice is harmless)."""
    rigs: list[Rig] = []

    async def make(*, projector: bool = True, **options: Any) -> Rig:
        bus = EventBus()
        projection = Projector(bus) if projector else None
        rig = Rig(
            db=database,
            bus=bus,
            recorder=EventRecorder(database, bus, projection=projection, **options),
            history=History(database),
            engine=Engine(bus=bus, registry=default_registry()),
            projector=projection,
        )
        bus.subscribe(rig.published.append)
        if projection is not None:
            projection.start()
        await rig.recorder.start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.engine.stop()
        await rig.recorder.stop()


@pytest.fixture(params=['projection', 'own fold'])
async def rig(make_rig: MakeRig, request: pytest.FixtureRequest) -> Rig:
    """A rig whose recorder writes from the live projection, and one whose recorder folds on its own."""
    return await make_rig(projector=request.param == 'projection')


async def count_events(db: Database, execution_id: str | None = None) -> int:
    query = select(func.count()).select_from(EVENTS)
    if execution_id is not None:
        query = query.where(EVENTS.c.execution_id == execution_id)
    async with db.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def one_run_unflushed(make_rig: MakeRig) -> tuple[Rig, str]:
    """A rig whose flush loop never fires on its own during the test, and a finished run of FLAKY not yet written."""
    rig = await make_rig(flush_interval=60)
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    return rig, execution_id


def count_folds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one item each time the recorder folds events itself."""
    folds: list[int] = []
    original_fold = recorder_batches_module.fold
    monkeypatch.setattr(recorder_batches_module, 'fold', lambda *args: folds.append(1) or original_fold(*args))
    return folds


def all_stored(rig: Rig, execution_id: str, count: int) -> Callable[[], Awaitable[bool]]:
    """A condition for :func:`until`: ``count`` events of the execution stored and nothing left to write."""

    async def stored() -> bool:
        return not rig.recorder.backlog and await count_events(rig.db, execution_id) >= count

    return stored


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

    await until(all_stored(rig, execution_id, expected), f'{expected} events stored without a flush')
    assert rig.recorder.backlog == 0
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_a_batch_limit_flushes_early_and_in_bounded_batches(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60, batch_limit=50)
    execution_id = rig.engine.submit(fan_out(40))
    await rig.engine.wait_idle()
    total = len(rig.by_execution(execution_id))
    # With a 60 s interval only a full batch can have woken the flush loop; what is left is under a batch.

    async def under_a_batch_left() -> bool:
        backlog = rig.recorder.backlog
        return backlog < 50 and await count_events(rig.db, execution_id) + backlog >= total

    await until(under_a_batch_left, 'a full batch to wake the flush loop', seen=lambda: rig.recorder.backlog)
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
    await rig.recorder.drain()  # the events, then the node runs of the finished executions

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
            assert run.duration_ms == pytest.approx(node.ran_ms)  # its tries' time, the waits between them left out

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
    await until(lambda: rig.state(execution_id).nodes['wait'].status == 'running', 'the slow node to run')
    await rig.recorder.flush()
    row = await execution_row(rig.db, execution_id)
    assert row.status == 'running'
    assert row.finished_at is None
    assert await node_run_rows(rig.db, execution_id) == {}

    assert rig.engine.cancel(execution_id)
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert (await execution_row(rig.db, execution_id)).status == 'cancelled'
    # (its node runs follow in a later transaction: the recorder's own loop may have written them by now, so
    # whether they are there yet is not asserted; drain waits for them)
    await rig.recorder.drain()
    runs = await node_run_rows(rig.db, execution_id)
    assert {k: r.status for k, r in runs.items()} == {'wait': 'cancelled', 'after': 'cancelled'}


# --- failures and back-pressure ---------------------------------------------------------------------


def fail_once(monkeypatch: pytest.MonkeyPatch, name: str, module: ModuleType = recorder_batches_module) -> list[int]:
    """Make ``module.<name>`` (by default the recorder's) raise the first time it is called; returns a call
    counter."""
    original = getattr(module, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError('disk on fire')
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return calls


def break_execution_row_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the first ``executions`` row the recorder builds violate NOT NULL: the database refuses it inside the
    transaction, after the events were inserted. Returns a call counter. (Fault injection: the row builder, patched
    where the recorder calls it, is the one place a bad row can come from; what the tests assert is what the database
    then holds.)"""
    original = recorder_batches_module.execution_insert
    calls: list[int] = []

    def broken(*args: Any) -> tuple[Any, ...]:
        row = original(*args)
        calls.append(1)
        if len(calls) == 1:
            status = recorder_batches_module.EXECUTION_COLUMNS.index('status')
            return (*row[:status], None, *row[status + 1 :])
        return row

    monkeypatch.setattr(recorder_batches_module, 'execution_insert', broken)
    return calls


@pytest.mark.parametrize('batch_limit', [5000, 10], ids=['one batch', 'batches of 10'])
@pytest.mark.parametrize(
    ('where', 'error'),
    [
        ('before the transaction', 'disk on fire'),  # building an executions row fails
        ('inside the transaction', 'NOT NULL'),  # the database refuses a row, after the event inserts
    ],
)
async def test_a_failed_write_keeps_the_batch_and_a_later_flush_loses_nothing(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch, where: str, error: str, batch_limit: int
) -> None:
    """In batches of 10, the batch after the failed one was prepared as if that one had committed (its executions
    UPDATEd, not inserted): it must be prepared again, and written after it."""
    rig = await make_rig(flush_interval=60)
    ids = [rig.engine.submit(parse(FLAKY), {'order': 1}), rig.engine.submit(parse(BROKEN))]
    await rig.engine.wait_idle()
    rig.recorder.batch_limit = batch_limit  # (only now: a full batch wakes the flush loop)
    total = len(rig.published)
    calls = (
        fail_once(monkeypatch, 'execution_insert')
        if where == 'before the transaction'
        else break_execution_row_once(monkeypatch)
    )

    with pytest.raises(Exception, match=error):
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
    calls = fail_once(monkeypatch, 'execution_insert')
    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.flush()
    assert calls and await snapshot_hashes(rig.db) == []  # nothing of the failed batch was written

    await rig.recorder.flush()

    assert await snapshot_hashes(rig.db) == [workflow.definition_hash]
    assert (await execution_row(rig.db, execution_id)).workflow_hash == workflow.definition_hash
    assert rig.recorder._snapshots == {}


async def test_events_never_to_be_written_let_go_of_the_definition(make_rig: MakeRig) -> None:
    """This process lost its lease: the events not written yet are dropped (``disown``), and with them the hold on
    the definitions their queued events named (else each was kept for as long as the process ran)."""
    rig = await make_rig(flush_interval=60)
    rig.engine.snapshots = rig.recorder.keep_snapshot
    workflow = parse(FLAKY)
    execution_id = rig.engine.submit(workflow, {'order': 1})
    await rig.engine.wait_idle()
    assert rig.recorder._snapshots  # held for the queued event, not written yet
    assert await rig.recorder.disown([execution_id]) == len(rig.by_execution(execution_id))
    assert rig.recorder._snapshots == {}
    again = rig.engine.submit(workflow, {'order': 2})  # a later run of the same version is written as usual
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert (await execution_row(rig.db, again)).workflow_hash == workflow.definition_hash
    assert rig.recorder._snapshots == {}


async def test_a_run_begun_while_its_process_lets_go_of_its_work_is_not_written_in_part(make_rig: MakeRig) -> None:
    """A run starts between the moment the process lists its active runs and the moment the recorder drops what it
    has not written (``disown``): its first events are dropped with the rest, so none of it is written, rather
    than its later events without its first (a history that starts in the middle)."""
    rig = await make_rig(flush_interval=60)
    workflow = parse(FLAKY)
    late = rig.engine.submit(workflow, {'order': 1})  # not in the list the process took
    await asyncio.sleep(0)
    await rig.recorder.disown([])
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert await count_events(rig.db, late) == 0
    assert await rig.history.get_execution(late) is None
    again = rig.engine.submit(workflow, {'order': 2})  # the runs after it are written as usual
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert await count_events(rig.db, again) == len(rig.by_execution(again))


async def snapshot_hashes(db: Database) -> list[str]:
    table = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(table.c.hash))).scalars())


class Release:
    """Lets the held transactions go on (see :func:`hold_transactions`)."""

    def __init__(self) -> None:
        self.inside, self.gate = threading.Event(), threading.Event()

    def set(self) -> None:
        self.gate.set()

    def wait(self) -> None:
        self.inside.set()
        self.gate.wait(timeout=10)


def before_each_transaction(monkeypatch: pytest.MonkeyPatch, wait: Callable[[], object]) -> None:
    """Call ``wait`` in the database's thread before each transaction of the recorder. (Fault injection through
    the private transaction runner: no public hook holds a transaction midway.)"""
    original = database_module._transaction

    def held(*args: Any) -> None:
        wait()
        original(*args)

    monkeypatch.setattr(database_module, '_transaction', held)


def hold_transactions(monkeypatch: pytest.MonkeyPatch) -> Release:
    """Make every database transaction of the recorder wait, in the database's thread, until released."""
    release = Release()
    before_each_transaction(monkeypatch, release.wait)
    return release


async def started_and_cancelled(write: Awaitable[Any], release: Release) -> asyncio.Future[Any]:
    """Start ``write``, wait until its transaction is under way (held), then cancel the caller."""
    caller = asyncio.ensure_future(write)
    assert await asyncio.to_thread(release.inside.wait, 10)
    caller.cancel()
    return caller


async def test_the_next_batch_is_prepared_while_one_is_written(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush of several batches takes the next one out of the backlog (and makes its rows) while the database's
    thread writes the one before: the two overlap instead of taking turns. All are written, in order."""
    rig = await make_rig(flush_interval=60)
    execution_id = rig.engine.submit(fan_out(12))
    await rig.engine.wait_idle()
    rig.recorder.batch_limit = 10  # (only now: a full batch wakes the flush loop)
    total = rig.recorder.backlog
    assert total > 30
    release = hold_transactions(monkeypatch)
    flush = asyncio.ensure_future(rig.recorder.flush())
    assert await asyncio.to_thread(release.inside.wait, 10)  # the first batch is in the database's thread

    assert rig.recorder.backlog == total - 20  # and the second is taken and prepared meanwhile
    release.set()
    assert await flush == total
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_a_flush_writes_what_came_before_it_not_what_keeps_coming(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's flush waits for the events received before it asked. Events that arrive while it writes are the
    next flush's: under sustained load, "until nothing is pending" would keep a reader waiting as long as the load
    lasts. A flush that finds its events written by the one it waited for returns at once; drain writes it all."""
    rig = await make_rig(flush_interval=60)
    first = rig.engine.submit(fan_out(12))
    await rig.engine.wait_idle()
    before = rig.recorder.backlog
    release = hold_transactions(monkeypatch)
    flush = asyncio.ensure_future(rig.recorder.flush())
    assert await asyncio.to_thread(release.inside.wait, 10)  # its batch is in the database's thread
    second = rig.engine.submit(fan_out(12, 'fan-2'))
    await rig.engine.wait_idle()
    later = len(rig.by_execution(second))
    assert rig.recorder.backlog == later
    waiting = asyncio.ensure_future(rig.recorder.flush())  # asked for after the second run's events came
    release.set()

    assert await flush == before  # the second run's events were left to the next flush
    assert await waiting == later
    assert await rig.history.events(first) == rig.by_execution(first)
    assert await rig.history.events(second) == rig.by_execution(second)
    assert await rig.recorder.flush() == 0

    release.gate.clear()
    release.inside.clear()
    third = rig.engine.submit(fan_out(3, 'fan-3'))
    await rig.engine.wait_idle()
    drain = asyncio.ensure_future(rig.recorder.drain())
    assert await asyncio.to_thread(release.inside.wait, 10)
    fourth = rig.engine.submit(fan_out(3, 'fan-4'))  # comes while drain writes: drain writes it too
    await rig.engine.wait_idle()
    release.set()
    await drain
    assert rig.recorder.backlog == 0
    assert await rig.history.events(third) == rig.by_execution(third)
    assert await rig.history.events(fourth) == rig.by_execution(fourth)
    assert set(await node_run_rows(rig.db, fourth)) == set(rig.state(fourth).nodes)


async def test_an_execution_is_unwritten_until_its_last_event_received_is_committed(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a read of one execution waits for: its events received and not committed yet (a batch in flight or put
    back after a failed write included); an execution received long since, or never, has nothing to wait for."""
    rig = await make_rig(flush_interval=60)
    first = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    assert rig.recorder.unwritten(first) and not rig.recorder.unwritten('never-received')
    release = hold_transactions(monkeypatch)
    flush = asyncio.ensure_future(rig.recorder.flush())
    assert await asyncio.to_thread(release.inside.wait, 10)  # its batch is in the database's thread
    assert rig.recorder.unwritten(first)  # taken, not committed
    second = rig.engine.submit(parse(BROKEN))
    await rig.engine.wait_idle()
    release.set()
    await flush
    assert not rig.recorder.unwritten(first) and rig.recorder.unwritten(second)

    fail_once(monkeypatch, 'execution_insert')
    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.flush()
    assert rig.recorder.unwritten(second)  # put back
    await rig.recorder.flush()
    assert not rig.recorder.unwritten(second) and not rig.recorder.unwritten(first)


async def test_a_flush_for_one_execution_writes_up_to_its_last_event_not_what_came_after(make_rig: MakeRig) -> None:
    rig = await make_rig(flush_interval=60)
    first = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    second = rig.engine.submit(fan_out(6, 'after'))
    await rig.engine.wait_idle()
    rig.recorder.batch_limit = 5  # (only now: a full batch wakes the flush loop)

    assert await rig.recorder.flush_for([first]) >= len(rig.by_execution(first))
    assert not rig.recorder.unwritten(first) and rig.recorder.unwritten(second)
    assert await rig.history.events(first) == rig.by_execution(first)
    assert await rig.recorder.flush_for([first, 'never-received']) == 0  # nothing of them left: at once
    assert await rig.recorder.flush_for([first, second]) > 0
    assert not rig.recorder.unwritten(second) and rig.recorder.backlog == 0


async def test_settle_writes_the_node_runs_of_runs_ended_before_it_not_of_those_ending_meanwhile(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a reader of node runs waits for (the slow-node baselines, a delete): the runs that had ended when it
    asked. A run ending while it writes is the flush loop's to write."""
    rig = await make_rig(flush_interval=60)
    first = rig.engine.submit(fan_out(4))
    await rig.engine.wait_idle()
    release = hold_transactions(monkeypatch)
    settle = asyncio.ensure_future(rig.recorder.settle())
    assert await asyncio.to_thread(release.inside.wait, 10)
    second = rig.engine.submit(fan_out(4, 'fan-2'))
    await rig.engine.wait_idle()
    release.set()
    await settle

    assert set(await node_run_rows(rig.db, first)) == set(rig.state(first).nodes)
    assert await node_run_rows(rig.db, second) == {}
    assert rig.recorder.backlog == len(rig.by_execution(second))
    await rig.recorder.settle()
    assert set(await node_run_rows(rig.db, second)) == set(rig.state(second).nodes)


class Turnstile:
    """Lets transactions through one at a time, each when the test says (``before_each_transaction(monkeypatch,
    turnstile.wait)``)."""

    def __init__(self) -> None:
        self.inside, self.gate = threading.Semaphore(0), threading.Semaphore(0)

    def wait(self) -> None:
        self.inside.release()
        self.gate.acquire(timeout=10)

    async def held(self) -> None:
        """Wait until a transaction is held."""
        assert await asyncio.to_thread(self.inside.acquire, True, 10), 'no transaction came'


async def test_the_flush_loop_writes_node_runs_while_events_keep_coming(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under sustained load events are pending whenever a flush ends; node runs still go, one transaction after
    each flush, instead of piling up until the load stops. (Every transaction of the flush loop is held until the
    test has published more events: the loop never finds the backlog empty.)"""
    turnstile = Turnstile()
    before_each_transaction(monkeypatch, turnstile.wait)
    rig = await make_rig(flush_interval=0.01)
    ended = rig.engine.submit(fan_out(4))
    await rig.engine.wait_idle()
    seq = iter(range(2, 1000))
    rig.bus.publish(queued('sustained', 'n'))

    def more_events() -> None:
        for _ in range(5):
            rig.bus.publish(event('sustained', next(seq), EventType.EXECUTION_PROGRESS, done=0, total=1))

    written = False
    for _ in range(8):  # each turn: a transaction held, more events meanwhile, then let through
        await turnstile.held()
        more_events()
        turnstile.gate.release()
        if await node_run_rows(rig.db, ended):
            written = True
            break
    monkeypatch.undo()
    turnstile.gate.release(100)
    assert written, 'the node runs of an execution that had ended were not written while events kept coming'
    assert set(await node_run_rows(rig.db, ended)) == set(rig.state(ended).nodes)


async def test_a_batch_prepared_ahead_whose_write_cannot_start_is_kept(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch of a flush, prepared while the first was written, fails to start its own write: it stays in
    the backlog, in its place, and the next flush writes it. (Fault injection: the private step that plans a
    transaction for the driver is the one place a write can fail before it starts.)"""
    rig = await make_rig(flush_interval=60)
    execution_id = rig.engine.submit(fan_out(12))
    await rig.engine.wait_idle()
    rig.recorder.batch_limit = 10  # (only now: a full batch wakes the flush loop)
    total = rig.recorder.backlog
    original = database_module._plan
    calls: list[int] = []

    def second_fails(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OSError('disk on fire')
        return original(*args)

    monkeypatch.setattr(database_module, '_plan', second_fails)
    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.flush()
    assert await count_events(rig.db) == 10  # the first batch
    assert rig.recorder.backlog == total - 10  # nothing else is gone

    assert await rig.recorder.flush() == total - 10
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)


async def test_a_cancelled_flush_still_finishes_the_batch_in_flight(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Abandoning a transaction midway would keep its write lock or commit it behind the recorder's back."""
    rig, execution_id = await one_run_unflushed(make_rig)
    release = hold_transactions(monkeypatch)
    caller = await started_and_cancelled(rig.recorder.flush(), release)
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


async def test_a_cancelled_node_run_write_is_not_written_twice(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stop`` cancels the flush loop, possibly in the middle of writing node runs: they must not be written again."""
    rig, execution_id = await one_run_unflushed(make_rig)
    await rig.recorder.flush()
    release = hold_transactions(monkeypatch)
    caller = await started_and_cancelled(rig.recorder.drain(), release)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await rig.recorder.stop()  # nothing left to write: no second insert of the same node runs
    assert set(await node_run_rows(rig.db, execution_id)) == set(rig.state(execution_id).nodes)


async def test_the_flush_loop_retries_a_failed_write_on_its_own(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = break_execution_row_once(monkeypatch)
    rig = await make_rig()
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    expected = rig.by_execution(execution_id)
    await until(all_stored(rig, execution_id, len(expected)), 'the failed batch to be written again')
    assert len(calls) >= 2
    assert await rig.history.events(execution_id) == expected
    assert (await execution_row(rig.db, execution_id)).status == 'succeeded'


async def test_a_failed_node_run_write_leaves_the_events_alone_and_is_retried(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, execution_id = await one_run_unflushed(make_rig)
    calls = fail_once(monkeypatch, 'node_run_rows', node_runs_module)
    await rig.recorder.flush()
    with pytest.raises(OSError, match='disk on fire'):
        await rig.recorder.drain()
    assert calls
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)
    assert await node_run_rows(rig.db, execution_id) == {}
    await rig.recorder.drain()
    assert set(await node_run_rows(rig.db, execution_id)) == set(rig.state(execution_id).nodes)


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

    async def flushed_to_the_end() -> bool:
        await rig.recorder.flush()  # the engine goes on only as the backlog is written
        return rig.state(execution_id).is_terminal

    await until(flushed_to_the_end, 'the execution to end as the backlog is written')
    assert rig.state(execution_id).status == 'succeeded'
    await rig.recorder.stop()
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)


# --- one fold per event, one encoding per payload ---------------------------------------------------


async def test_the_recorder_writes_the_projections_fold_and_folds_nothing_itself(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    folds = count_folds(monkeypatch)
    # One fold per event (issue 11) is about which object the rows are made from, so the spies sit on the row builders
    # the recorder calls: the behaviour under test is that internal.
    written: dict[str, ExecutionState] = {}
    for name in ('execution_insert', 'execution_update'):
        original = getattr(recorder_batches_module, name)

        def spy(state: ExecutionState, *args: Any, _original: Any = original) -> tuple[Any, ...]:
            written[state.id] = state
            return _original(state, *args)

        monkeypatch.setattr(recorder_batches_module, name, spy)
    rig = await make_rig(flush_interval=60)
    assert rig.projector is not None
    ids = [
        rig.engine.submit(parse(FLAKY), {'order': 1}),
        rig.engine.submit(fan_out(20)),
        rig.engine.submit(parse(BROKEN)),
    ]
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    slow = rig.engine.submit(parse(SLOW))  # a second flush updates the row of an execution still running
    await rig.recorder.flush()
    await until(lambda: rig.state(slow).nodes['wait'].status == 'running', 'the slow node to run')
    await rig.recorder.flush()

    assert folds == []  # every state written came from the projection
    for execution_id in [*ids, slow]:
        assert written[execution_id] is rig.projector.get(execution_id)  # the very state the pages read
        assert written[execution_id] == rig.state(execution_id)
        row = await execution_row(rig.db, execution_id)
        assert (row.status, row.last_seq, row.nodes_done) == (
            rig.state(execution_id).status,
            rig.state(execution_id).last_seq,
            rig.state(execution_id).done,
        )


async def test_a_batch_cut_where_a_reader_had_folded_further_is_folded_from_the_last_written_state(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    folds = count_folds(monkeypatch)
    rig = await make_rig(flush_interval=60)
    assert rig.projector is not None
    execution_id = rig.engine.submit(parse(FLAKY), {'order': 1})
    await rig.engine.wait_idle()
    assert rig.projector.get(execution_id) == rig.state(execution_id)  # a page read it: folded to the end
    rig.recorder.batch_limit = 7
    await rig.recorder.drain()  # batches of 7 end before the projection's state

    assert folds  # those batches were folded by the recorder
    assert await rig.history.events(execution_id) == rig.by_execution(execution_id)
    row = await execution_row(rig.db, execution_id)
    assert (row.status, row.last_seq) == ('succeeded', rig.state(execution_id).last_seq)
    assert set(await node_run_rows(rig.db, execution_id)) == set(rig.state(execution_id).nodes)


async def test_payloads_the_engine_encoded_are_stored_as_they_came(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[Any] = []
    original = recorder_batches_module.dumps
    for module in (recorder_batches_module, recorder_rows_module):  # the recorder's modules that encode with dumps
        monkeypatch.setattr(module, 'dumps', lambda value: encoded.append(value) or original(value))
    rig = await make_rig(flush_interval=60)
    execution_id = rig.engine.submit(fan_out(10), {'order': {'id': 'ORD-1', 'note': 'ünï ✓'}})
    await rig.engine.wait_idle()
    await rig.recorder.flush()

    events = rig.by_execution(execution_id)
    carried = [event for event in events if event.data_json is not None]
    assert len(carried) > len(events) * 0.9
    for event in carried:  # none of these was encoded again
        assert not any(value is event.data for value in encoded), f'{event.type} #{event.seq} encoded again'
    async with rig.db.engine.connect() as conn:
        stored = dict(
            (await conn.execute(select(EVENTS.c.seq, EVENTS.c.data).where(EVENTS.c.execution_id == execution_id))).all()
        )
    for event in events:  # byte for byte what encoding the data gives
        assert stored[event.seq] == original(dict(event.data)), f'{event.type} #{event.seq}'


async def test_start_derives_the_node_runs_a_crash_left_out(rig: Rig) -> None:
    """Node runs follow the events in a later transaction; a crash in between leaves finished executions without
    them (simulated by deleting them). The next start derives them from the events."""
    ok = rig.engine.submit(parse(FLAKY), {'order': 1})
    failed = rig.engine.submit(parse(BROKEN))
    running = rig.engine.submit(parse(SLOW))
    await until(lambda: rig.state(ok).is_terminal and rig.state(failed).is_terminal, 'two executions to end')
    await rig.recorder.drain()
    async with rig.db.engine.begin() as conn:
        await conn.execute(NODE_RUNS.delete().where(NODE_RUNS.c.execution_id.in_([ok, failed])))
        # as migration 0006 leaves such a run: its count of nodes that succeeded waits for its node runs
        await conn.execute(update(EXECUTIONS).where(EXECUTIONS.c.id.in_([ok, failed])).values(nodes_succeeded=None))

    restarted = EventRecorder(rig.db, EventBus())
    await restarted.start()
    await restarted.stop()

    for execution_id in (ok, failed):
        runs = await node_run_rows(rig.db, execution_id)
        state = rig.state(execution_id)
        assert {node_id: (run.status, run.attempts) for node_id, run in runs.items()} == {
            node_id: (node.status, node.attempts) for node_id, node in state.nodes.items()
        }
        assert (await execution_row(rig.db, execution_id)).nodes_succeeded == state.succeeded
    assert rig.state(failed).succeeded < rig.state(failed).done  # (the counts differ where it matters)
    assert await node_run_rows(rig.db, running) == {}  # still running: it has none until it ends
    assert (await execution_row(rig.db, running)).nodes_succeeded is None


async def test_an_event_whose_row_cannot_be_made_is_kept_not_dropped(make_rig: MakeRig) -> None:
    """The row is made as the event is taken; if that fails the event is still pending, and the flush fails."""
    rig = await make_rig(flush_interval=60)
    looped: dict[str, Any] = {}
    looped['self'] = looped  # JSON cannot encode it
    rig.bus.publish(queued('x1', 'a'))
    rig.bus.publish(event('x1', 2, EventType.EXECUTION_PROGRESS, done=0, total=1, odd=looped))
    assert rig.recorder.backlog == 2
    with pytest.raises(ValueError, match='Circular reference'):
        await rig.recorder.flush()
    assert rig.recorder.backlog == 2  # kept, in order, for a later flush
    assert await count_events(rig.db, 'x1') == 0
    del looped['self']  # (made encodable again: the retry writes both, made from the events themselves)
    assert await rig.recorder.flush() == 2
    assert [e.seq for e in await rig.history.events('x1')] == [1, 2]


async def test_node_runs_are_written_a_bounded_transaction_at_a_time(make_rig: MakeRig) -> None:
    """The flush loop writes node runs in transactions of at most a batch's worth of rows, so a flush asked for
    meanwhile waits for one of them at the most."""
    rig = await make_rig(flush_interval=60)
    ids = [rig.engine.submit(parse(BROKEN)) for _ in range(3)]  # 3 nodes each
    await rig.engine.wait_idle()
    await rig.recorder.flush()
    assert await rig.recorder.flush_node_runs(max_rows=4) == 1  # one execution (3 rows); a second would be 6
    assert await rig.recorder.flush_node_runs(max_rows=6) == 2
    assert await rig.recorder.flush_node_runs(max_rows=6) == 0
    for execution_id in ids:
        assert len(await node_run_rows(rig.db, execution_id)) == 3
