"""Store contract: the recorder's group commits (executemany on SQLite, COPY on PostgreSQL) write every event of live
executions, their ``executions`` and ``node_runs`` rows, keep a batch that failed and write it once it can."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from store_samples import T0, chain, run_events

from flowmon.engine import Engine, Event, EventBus, default_registry, fold
from flowmon.engine import parse_workflow as _parse
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History
from flowmon.store.tables import EventRow, ExecutionRow, NodeRunRow

EVENTS = EventRow.__table__  # type: ignore[attr-defined]
EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]
NODE_RUNS = NodeRunRow.__table__  # type: ignore[attr-defined]

MIXED = {
    'id': 'mixed',
    'name': 'Mixed outcomes',
    'nodes': [
        {'id': 'start', 'type': 'transform', 'config': {'expression': '{n: input.n, text: `"ü\\n✓"`}'}},
        {'id': 'flaky', 'type': 'fail', 'config': {'times': 1}, 'retry': {'max_attempts': 2, 'backoff_seconds': 0}},
        {'id': 'branch', 'type': 'condition', 'config': {'expression': 'input.n > `2`'}},
        {'id': 'big', 'type': 'log', 'config': {'message': 'big'}},
        {'id': 'small', 'type': 'fail', 'config': {'message': 'too small'}},
    ],
    'edges': [
        {'source': 'start', 'target': 'flaky'},
        {'source': 'flaky', 'target': 'branch'},
        {'source': 'branch', 'target': 'big', 'when': True},
        {'source': 'branch', 'target': 'small', 'when': False},
    ],
}


class Rig:
    """An engine whose events a started recorder writes from the live projection, as the app wires them."""

    def __init__(
        self, db: Database, ids: Any = None, *, keep_finished: int = 200, flush_interval: float = 0.02
    ) -> None:
        self.bus = EventBus()
        self.projector = Projector(self.bus, keep_finished=keep_finished)
        self.recorder = EventRecorder(db, self.bus, projection=self.projector, flush_interval=flush_interval)
        options = {'id_factory': ids} if ids is not None else {}
        self.engine = Engine(bus=self.bus, registry=default_registry(), **options)
        self.published: list[Event] = []
        self.bus.subscribe(self.published.append)

    async def start(self) -> Rig:
        self.projector.start()
        await self.recorder.start()
        return self

    async def stop(self) -> None:
        await self.engine.stop()
        await self.recorder.stop()
        self.projector.stop()


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    started = await Rig(db).start()
    yield started
    await started.stop()


async def rows(db: Database, query: Any) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def test_live_executions_are_written_whole(db: Database, rig: Rig) -> None:
    workflow = _parse(MIXED, default_registry())
    ids = [rig.engine.submit(workflow, {'n': n}) for n in range(6)]
    await rig.engine.wait_idle()
    await rig.recorder.drain()

    history = History(db)
    for execution_id in ids:
        published = [event for event in rig.published if event.execution_id == execution_id]
        stored = await history.events(execution_id)
        assert [(e.seq, e.type, e.node_id, e.data) for e in stored] == [
            (e.seq, e.type, e.node_id, e.data) for e in published
        ]
        state = fold(published)
        assert state is not None
        record = await history.get_execution(execution_id)
        assert record is not None
        assert (record.status, record.error, record.nodes_done, record.nodes_total) == (
            state.status,
            state.error,
            state.done,
            state.total,
        )
        assert record.finished_at == state.finished_at
        succeeded = sum(1 for node in state.nodes.values() if node.status == 'succeeded')
        assert record.nodes_succeeded == succeeded  # written as it ended: a failed node is done, not succeeded
        assert succeeded < state.done or state.status == 'succeeded'
        runs = await rows(db, select(NODE_RUNS).where(NODE_RUNS.c.execution_id == execution_id))
        assert {(r.node_id, r.status, r.attempts, r.reused) for r in runs} == {
            (node.id, node.status, node.attempts, node.reused) for node in state.nodes.values()
        }
    statuses = sorted(r.status for r in await rows(db, select(EXECUTIONS.c.status)))
    assert statuses == ['failed'] * 3 + ['succeeded'] * 3  # n <= 2 takes the failing branch


async def test_node_runs_of_an_execution_deleted_since_it_ended_are_not_kept(db: Database) -> None:
    """Retention may prune an execution between its end and the write of its node runs (a transaction of its own):
    the node runs written after that must not outlive it."""
    rig = await Rig(db, flush_interval=60).start()  # (no flush but the test's)
    try:
        workflow = _parse(MIXED, default_registry())
        gone, kept = rig.engine.submit(workflow, {'n': 1}), rig.engine.submit(workflow, {'n': 3})
        await rig.engine.wait_idle()
        await rig.recorder.flush()  # the events and the executions rows; the node runs are still to be written
        assert rig.recorder.node_runs_due('mixed')
        async with db.engine.begin() as conn:
            await conn.execute(delete(EXECUTIONS).where(EXECUTIONS.c.id == gone))
        await rig.recorder.settle()

        runs = await rows(db, select(NODE_RUNS.c.execution_id, NODE_RUNS.c.node_id))
        state = fold([event for event in rig.published if event.execution_id == kept])
        assert state is not None
        assert sorted(runs) == sorted((kept, node_id) for node_id in state.nodes)
    finally:
        await rig.stop()


async def test_the_live_view_lets_go_of_ended_executions_once_written(db: Database) -> None:
    """The live projection keeps the latest ``keep_finished`` ended executions, each until the recorder has written
    its end: it does not grow with every execution the process ever ran."""
    rig = await Rig(db, keep_finished=2).start()
    try:
        workflow = _parse(chain('chain', 'a', 'b'), default_registry())
        ids = [rig.engine.submit(workflow, {}) for _ in range(6)]
        await rig.engine.wait_idle()
        await rig.recorder.drain()
        held = [execution_id for execution_id in ids if rig.projector.holds(execution_id)]
        assert held == ids[-2:]
        assert all(await History(db).get_executions(ids[:4]))  # let go of, and in the store
        assert rig.projector.workflow_of(ids[0]) is None  # what names a run's workflow for webhooks: the store
        assert await History(db).workflows_of([ids[0], ids[5], 'unknown']) == {ids[0]: 'chain', ids[5]: 'chain'}
    finally:
        await rig.stop()


async def test_a_batch_that_fails_is_kept_and_written_once_it_can_be(db: Database) -> None:
    """A conflicting row (here: left by someone else) fails the flush; nothing of the batch is lost or doubled."""
    ids = (f'blocked{n}' for n in itertools.count())
    rig = await Rig(db, ids=lambda: next(ids)).start()
    try:
        blocker = run_events('blocked0', 'chain', T0, 'queued')[0]
        await EventRecorder(db, EventBus()).write([blocker])  # seq 1 of the execution the engine is about to run
        execution_id = rig.engine.submit(_parse(chain('chain', 'a', 'b', 'c'), default_registry()), {})
        await rig.engine.wait_idle()
        with pytest.raises(IntegrityError, match=r'(?i)unique|duplicate'):
            await rig.recorder.flush()
        assert rig.recorder.backlog == len(rig.published)  # kept, in order

        async with db.engine.begin() as conn:
            await conn.execute(delete(EVENTS).where(EVENTS.c.execution_id == execution_id))
            await conn.execute(delete(EXECUTIONS).where(EXECUTIONS.c.id == execution_id))
        await rig.recorder.drain()
        assert rig.recorder.backlog == 0
        stored = await History(db).events(execution_id)
        assert [e.seq for e in stored] == [e.seq for e in rig.published]
        assert stored[-1].type == rig.published[-1].type
    finally:
        await rig.stop()


async def test_imports_carry_their_extra_columns_and_node_runs(db: Database) -> None:
    events = run_events('imported', 'w', T0, 'succeeded')
    await EventRecorder(db, EventBus()).write(events, new_execution_columns={'imported': {'imported_from': 'orig-1'}})
    (row,) = await rows(db, select(EXECUTIONS).where(EXECUTIONS.c.id == 'imported'))
    assert (row.imported_from, row.owner, row.status) == ('orig-1', None, 'succeeded')
    runs = await rows(db, select(NODE_RUNS.c.node_id, NODE_RUNS.c.status))
    assert [tuple(r) for r in runs] == [('a', 'succeeded')]


async def test_node_runs_a_crash_left_out_are_derived_at_start(db: Database) -> None:
    await EventRecorder(db, EventBus()).write(run_events('done', 'w', T0, 'failed'))
    async with db.engine.begin() as conn:
        await conn.execute(delete(NODE_RUNS))  # as if the crash came between the two transactions
    restarted = EventRecorder(db, EventBus())
    await restarted.start()
    await restarted.stop()
    runs = await rows(db, select(NODE_RUNS.c.node_id, NODE_RUNS.c.status))
    assert [tuple(r) for r in runs] == [('a', 'failed')]
    assert (await rows(db, select(func.count()).select_from(EVENTS)))[0][0] == 5
