"""The engine with a worker pool: events and their order for nodes that run on a worker, driven by a pool the test
controls (no processes). The real pools are tested in tests/integration (test_local_pool.py, test_dask_cluster.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from worker_fakes import FakePool, Heavy

from flowmon.engine import Engine, Event, EventBus, ExecutionState, fold
from flowmon.engine.model import Workflow, parse_workflow
from flowmon.engine.nodes import NodeError, default_registry
from flowmon.engine.runtime.executor import WorkerError, WorkerLost

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class Harness:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        self.pool = FakePool()
        self.registry = default_registry()
        self.registry.register(Heavy)
        self.engine = Engine(bus=self.bus, registry=self.registry, clock=FakeClock(), workers=self.pool)

    def workflow(self, *nodes: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> Workflow:
        return parse_workflow({'id': 'wf', 'name': 'W', 'nodes': list(nodes), 'edges': edges or []}, self.registry)

    def node_events(self, node_id: str) -> list[tuple[str, Any]]:
        return [(str(e.type), e.data.get('worker', '-')) for e in self.events if e.node_id == node_id]

    def state(self, execution_id: str) -> ExecutionState:
        state = fold([e for e in self.events if e.execution_id == execution_id])
        assert state is not None
        return state


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.engine.stop()
    seqs = [event.seq for event in harness.events]
    assert seqs == list(range(1, len(seqs) + 1))  # one execution per test: gap-free
    for event in harness.events:  # the JSON each event carries is its data's encoding
        if event.data_json is not None:
            assert event.data_json == json.dumps(dict(event.data), separators=(',', ':'), default=str)


def heavy(node_id: str, **extra: Any) -> dict[str, Any]:
    return {'id': node_id, 'type': 'heavy', 'config': {'n': 1}, **extra}


async def test_node_started_is_raised_when_a_worker_takes_the_task_and_both_events_name_it(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a')), {'x': 1})
    job = await h.pool.next_job(f'{execution_id}-a-1')
    assert h.node_events('a') == []  # queued on the pool: not started yet
    assert job.task.input == {'input': {'x': 1}} and job.task.attempt == 1 and job.task.node_type.type_name == 'heavy'
    job.started('tcp://10.0.0.7:4001')
    assert h.node_events('a') == [('node.started', 'tcp://10.0.0.7:4001')]
    job.future.set_result(('tcp://10.0.0.7:4001', {'done': True}))
    await h.engine.wait_idle()
    assert h.node_events('a') == [('node.started', 'tcp://10.0.0.7:4001'), ('node.completed', 'tcp://10.0.0.7:4001')]
    state = h.state(execution_id)
    assert state.status == 'succeeded'
    node = state.nodes['a']
    assert (node.worker, node.output, node.input) == ('tcp://10.0.0.7:4001', {'done': True}, {'input': {'x': 1}})
    assert [attempt.worker for attempt in node.attempt_log] == ['tcp://10.0.0.7:4001']


async def test_a_result_before_the_announcement_starts_the_node_with_the_worker_it_names(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a')))
    job = await h.pool.next_job(f'{execution_id}-a-1')
    job.future.set_result(('local:4242', 7))
    await h.engine.wait_idle()
    job.started('local:4242')  # arrives late: ignored
    assert h.node_events('a') == [('node.started', 'local:4242'), ('node.completed', 'local:4242')]


async def test_a_lost_worker_fails_the_attempt_and_the_retry_runs_on_another(h: Harness) -> None:
    retry = {'max_attempts': 2, 'backoff_seconds': 0}
    execution_id = h.engine.submit(h.workflow(heavy('a', retry=retry)))
    first = await h.pool.take(f'{execution_id}-a-1', 'tcp://w1:1')
    first.future.set_exception(NodeError('the Dask worker tcp://w1:1 died while running the node'))
    second = await h.pool.take(f'{execution_id}-a-2', 'tcp://w2:1')
    second.future.set_result(('tcp://w2:1', 'ok'))
    await h.engine.wait_idle()
    assert h.node_events('a') == [
        ('node.started', 'tcp://w1:1'),
        ('node.retrying', '-'),
        ('node.started', 'tcp://w2:1'),
        ('node.completed', 'tcp://w2:1'),
    ]
    node = h.state(execution_id).nodes['a']
    assert node.status == 'succeeded'
    assert [(a.outcome, a.worker) for a in node.attempt_log] == [('retried', 'tcp://w1:1'), ('succeeded', 'tcp://w2:1')]
    assert 'died while running the node' in (node.attempt_log[0].error or '')


async def test_an_attempt_that_ends_before_any_worker_took_it_still_starts_first(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a')))
    job = await h.pool.next_job(f'{execution_id}-a-1')
    job.future.set_exception(NodeError('the Dask scheduler at tcp://nowhere:8786 is unreachable'))
    await h.engine.wait_idle()
    assert h.node_events('a') == [('node.started', None), ('node.failed', '-')]
    state = h.state(execution_id)
    assert state.status == 'failed'
    assert state.nodes['a'].error == 'the Dask scheduler at tcp://nowhere:8786 is unreachable'
    assert state.nodes['a'].worker is None


async def test_a_worker_lost_before_its_announcement_arrived_is_named_by_the_error(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a')))
    job = await h.pool.next_job(f'{execution_id}-a-1')
    job.future.set_exception(WorkerLost('the Dask worker tcp://w9:1 died while running the node', 'tcp://w9:1'))
    await h.engine.wait_idle()
    assert h.node_events('a') == [('node.started', 'tcp://w9:1'), ('node.failed', '-')]
    assert h.state(execution_id).nodes['a'].attempt_log[0].worker == 'tcp://w9:1'


async def test_an_unexpected_exception_on_the_worker_keeps_its_text_and_traceback(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a')))
    job = await h.pool.take(f'{execution_id}-a-1', 'local:1')
    job.future.set_exception(WorkerError('ZeroDivisionError: division by zero', 'Traceback (most recent call last):'))
    await h.engine.wait_idle()
    node = h.state(execution_id).nodes['a']
    assert (node.error, node.traceback) == ('ZeroDivisionError: division by zero', 'Traceback (most recent call last):')


async def test_a_timeout_cancels_the_pool_task_and_fails_the_node(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a', timeout_seconds=0.05)))
    await h.pool.take(f'{execution_id}-a-1', 'local:9')
    await h.engine.wait_idle()  # nothing finishes the job: the node's timeout ends it
    assert h.pool.cancelled == [f'{execution_id}-a-1']
    assert h.node_events('a') == [('node.started', 'local:9'), ('node.failed', '-')]
    assert h.state(execution_id).nodes['a'].error == 'timed out after 0.05s'


async def test_a_timeout_while_queued_on_the_pool_starts_the_node_without_a_worker(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a', timeout_seconds=0.05)))
    await h.engine.wait_idle()
    assert h.pool.cancelled == [f'{execution_id}-a-1']
    assert h.node_events('a') == [('node.started', None), ('node.failed', '-')]


async def test_cancel_cancels_the_pool_task_and_a_late_announcement_is_ignored(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a'), heavy('b')))
    job_a = await h.pool.take(f'{execution_id}-a-1', 'local:1')
    job_b = await h.pool.next_job(f'{execution_id}-b-1')  # still queued on the pool
    assert h.engine.cancel(execution_id)
    await h.engine.wait_idle()
    assert sorted(h.pool.cancelled) == sorted([f'{execution_id}-a-1', f'{execution_id}-b-1'])
    job_b.started('local:2')  # the worker took it after all: too late, the node has been cancelled
    job_a.started('local:1')
    assert h.node_events('a') == [('node.started', 'local:1'), ('node.cancelled', '-')]
    assert h.node_events('b') == [('node.cancelled', '-')]
    state = h.state(execution_id)
    assert (state.status, state.nodes['a'].status, state.nodes['b'].status) == ('cancelled', 'cancelled', 'cancelled')


async def test_equal_inputs_are_separate_tasks(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow(heavy('a'), heavy('b')))
    jobs = [await h.pool.take(f'{execution_id}-{node}-1', f'local:{i}') for i, node in enumerate('ab')]
    assert jobs[0].task.input == jobs[1].task.input and jobs[0].task.key != jobs[1].task.key
    for job in jobs:
        job.future.set_result((f'local:{job.task.node_id}', job.task.node_id))
    await h.engine.wait_idle()
    assert h.state(execution_id).status == 'succeeded'


async def test_loop_nodes_do_not_go_to_the_pool_and_carry_no_worker(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow({'id': 't', 'type': 'transform', 'config': {'expression': 'input'}}))
    await h.engine.wait_idle()
    assert h.pool.jobs == {}
    assert h.node_events('t') == [('node.started', '-'), ('node.completed', '-')]
    assert h.state(execution_id).nodes['t'].worker is None


async def test_without_a_pool_a_worker_type_runs_on_the_loop() -> None:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    registry = default_registry()
    registry.register(Heavy)
    engine = Engine(bus=bus, registry=registry, clock=FakeClock())
    workflow = parse_workflow({'id': 'wf', 'name': 'W', 'nodes': [heavy('a')]}, registry)
    engine.submit(workflow)
    await engine.wait_idle()
    state = fold(events)
    assert state is not None and state.nodes['a'].output == {'n': 1, 'on': 'loop'}
    assert all('worker' not in event.data for event in events)
