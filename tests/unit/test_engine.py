"""The asyncio engine, observed only through the events it publishes (folded with the reducer).

The tests run on virtual time (looptime): a wait on the loop (a delay node, a timeout, a retry's back-off) takes no
wall-clock time, and the loop's time says exactly how long the engine waited.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from fake_clock import FakeClock
from waiting import until

from flowmon.application.views import execution_summary
from flowmon.engine import (
    Engine,
    Event,
    EventBus,
    EventType,
    ExecutionState,
    NodeConfig,
    NodeContext,
    NodeRegistry,
    NodeType,
    QueueFull,
    RerunError,
    Workflow,
    WorkflowError,
    default_registry,
    fold,
    parse_workflow,
)
from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.payload_values import PayloadInvalid, PayloadTooDeep, PayloadTooLarge
from flowmon.engine.core.snapshot import definition_hash
from flowmon.engine.runtime import execution as execution_module
from flowmon.engine.runtime import node_attempts as node_attempts_module
from flowmon.engine.runtime import scheduler as scheduler_module

pytestmark = pytest.mark.looptime


# --- node types for the tests -----------------------------------------------------------------------


class CountedConfig(NodeConfig):
    value: Any = None


class CountedNode(NodeType):
    """Counts its runs per node id; the output says which run it was and which inputs it got."""

    type_name = 'counted'
    Config = CountedConfig

    def __init__(self) -> None:
        self.calls: dict[str, int] = defaultdict(int)
        self.inputs: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def run(self, config: CountedConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        self.calls[ctx.node_id] += 1
        self.inputs[ctx.node_id].append(dict(input))
        return {'node': ctx.node_id, 'call': self.calls[ctx.node_id], 'value': config.value}


class GateConfig(NodeConfig):
    gate: str = 'default'


class GateNode(NodeType):
    """Waits until the test opens its gate: running nodes the test controls exactly."""

    type_name = 'gate'
    Config = GateConfig

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.entered: list[tuple[str, str]] = []

    def open(self, gate: str = 'default') -> None:
        self.gates[gate].set()

    async def run(self, config: GateConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        self.entered.append((ctx.execution_id, ctx.node_id))
        await self.gates[config.gate].wait()
        return {'gate': config.gate}


class OddOutputConfig(NodeConfig):
    kind: str


class OddOutputNode(NodeType):
    """Returns values JSON cannot encode."""

    type_name = 'odd'
    Config = OddOutputConfig

    async def run(self, config: OddOutputConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        if config.kind == 'set':
            return {3, 1, 2}
        if config.kind == 'datetime':
            return {'at': datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), 'n': 1}
        raise ValueError(config.kind)


class CrashNode(NodeType):
    """Raises an unexpected exception (not a NodeError)."""

    type_name = 'crash'

    async def run(self, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        known: dict[str, Any] = {}
        return known['missing']


class StubbornNode(NodeType):
    """Lets the first cancel pass (as a node busy cleaning up would): only the next one stops it."""

    type_name = 'stubborn'

    async def run(self, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            assert current is not None
            current.uncancel()
            await asyncio.sleep(3600)


# --- harness ----------------------------------------------------------------------------------------


class Harness:
    def __init__(
        self, *, max_concurrent: int = 8, max_queued: int | None = None, rand: Callable[[], float] = lambda: 0.5
    ) -> None:
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        self.clock = FakeClock()
        self.counted = CountedNode()
        self.gate = GateNode()
        self.registry = default_registry()
        for node_type in (self.counted, self.gate, OddOutputNode, CrashNode, StubbornNode):
            self.registry.register(node_type)
        self.engine = Engine(
            bus=self.bus,
            registry=self.registry,
            clock=self.clock,
            max_concurrent=max_concurrent,
            max_queued=max_queued,
            rand=rand,
        )

    def workflow(
        self, nodes: list[dict[str, Any]], edges: Sequence[tuple[str, str] | tuple[str, str, bool]] = (), **extra: Any
    ) -> Workflow:
        raw_edges = [{'source': e[0], 'target': e[1], **({'when': e[2]} if len(e) == 3 else {})} for e in edges]
        raw = {'id': extra.pop('id', 'wf'), 'name': 'Test', 'nodes': nodes, 'edges': raw_edges, **extra}
        return parse_workflow(raw, self.registry)

    def events_of(self, execution_id: str) -> list[Event]:
        return [event for event in self.events if event.execution_id == execution_id]

    def state(self, execution_id: str) -> ExecutionState:
        state = fold(self.events_of(execution_id))
        assert state is not None, f'no events for {execution_id}'
        return state

    def types(self, execution_id: str, node_id: str | None = None) -> list[str]:
        return [str(e.type) for e in self.events_of(execution_id) if node_id is None or e.node_id == node_id]

    async def run(self, workflow: Workflow, input: Any = None, **kwargs: Any) -> ExecutionState:
        execution_id = self.engine.submit(workflow, input, **kwargs)
        await self.idle()
        return self.state(execution_id)

    async def idle(self, timeout: float = 600.0) -> None:
        """Wait until nothing runs; ``timeout`` is virtual time (longer than any wait a test workflow makes)."""
        await asyncio.wait_for(self.engine.wait_idle(), timeout)


def loop_time() -> float:
    """The event loop's (virtual) time in seconds."""
    return asyncio.get_running_loop().time()


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.engine.stop()
    assert_data_json_is_the_data(harness.events)


def assert_data_json_is_the_data(events: Sequence[Event]) -> None:
    """Every JSON text an event carries is exactly the compact encoding of its data (what a store would write)."""
    for event in events:
        if event.data_json is not None:
            encoded = json.dumps(dict(event.data), separators=(',', ':'), default=str)
            assert event.data_json == encoded, f'{event.type} #{event.seq} of {event.execution_id}'


def counted(node_id: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {'id': node_id, 'type': 'counted', 'config': {'value': value}, **extra}


def delay(node_id: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {'id': node_id, 'type': 'delay', 'config': {'seconds': seconds}, **extra}


def gate(node_id: str, name: str = 'default') -> dict[str, Any]:
    return {'id': node_id, 'type': 'gate', 'config': {'gate': name}}


def statuses(state: ExecutionState) -> dict[str, str]:
    return {node_id: node.status for node_id, node in state.nodes.items()}


# --- happy path and parallelism ---------------------------------------------------------------------


async def test_linear_workflow_passes_outputs_downstream(h: Harness) -> None:
    wf = h.workflow(
        [counted('a', 'A'), {'id': 'b', 'type': 'transform', 'config': {'expression': '{got: a.value, x: input.x}'}}],
        [('a', 'b')],
    )
    state = await h.run(wf, {'x': 42})
    assert state.status == 'succeeded'
    assert statuses(state) == {'a': 'succeeded', 'b': 'succeeded'}
    assert state.nodes['b'].output == {'got': 'A', 'x': 42}
    assert state.nodes['b'].input == {'input': {'x': 42}, 'a': {'node': 'a', 'call': 1, 'value': 'A'}}
    assert state.output == {'b': {'got': 'A', 'x': 42}}  # the sinks' outputs
    assert state.input == {'x': 42}
    assert state.workflow_id == 'wf'
    assert (state.done, state.total) == (2, 2)
    types = h.types(state.id)
    assert types[:2] == ['execution.queued', 'execution.started']
    assert types[-1] == 'execution.completed'
    queued = h.events_of(state.id)[0]
    assert queued.data['workflow'] == wf.definition()


async def test_with_a_snapshot_sink_the_queued_event_names_the_definition_by_hash(h: Harness) -> None:
    """The sink hears of the definition before the event that names it is published (the recorder writes both in
    one transaction); the trigger is recorded as given, and a rerun says what it reran."""
    kept: list[tuple[str, dict[str, Any], int]] = []
    h.engine.snapshots = lambda digest, definition: kept.append((digest, dict(definition), len(h.events)))
    wf = h.workflow([counted('a')])
    state = await h.run(wf, trigger={'type': 'hook', 'webhook-id': 'msg_1'})

    queued = h.events_of(state.id)[0]
    assert 'workflow' not in queued.data and queued.data['workflow_hash'] == wf.definition_hash
    assert kept == [(definition_hash(wf.definition()), wf.definition(), h.events.index(queued))]
    assert state.workflow_hash == wf.definition_hash
    assert state.trigger == queued.data['trigger'] == {'type': 'hook', 'webhook-id': 'msg_1'}

    rerun = h.engine.rerun(state, wf)
    await h.idle()
    assert h.state(rerun).trigger == {'type': 'rerun', 'retry_of': state.id}
    assert [entry[0] for entry in kept] == [wf.definition_hash] * 2


async def test_missing_input_defaults_to_empty_object(h: Harness) -> None:
    state = await h.run(h.workflow([counted('a')]))
    assert state.input == {}
    assert h.counted.inputs['a'] == [{'input': {}}]


async def test_independent_branches_run_concurrently(h: Harness) -> None:
    wf = h.workflow([delay('left', 0.2), delay('right', 0.2), counted('join')], [('left', 'join'), ('right', 'join')])
    started = loop_time()
    state = await h.run(wf)
    elapsed = loop_time() - started
    assert state.status == 'succeeded'
    assert elapsed == pytest.approx(0.2), f'two 0.2 s branches took {elapsed:.3f} s: they did not run in parallel'
    # Both branches started before either finished.
    types = [(str(e.type), e.node_id) for e in h.events_of(state.id)]
    first_done = min(types.index(('node.completed', 'left')), types.index(('node.completed', 'right')))
    assert types.index(('node.started', 'left')) < first_done
    assert types.index(('node.started', 'right')) < first_done


async def test_seq_numbers_are_gap_free_for_every_execution(h: Harness) -> None:
    wf = h.workflow(
        [
            counted('a'),
            {'id': 'flaky', 'type': 'fail', 'config': {'times': 1}, 'retry': {'max_attempts': 2}},
            {'id': 'broken', 'type': 'fail', 'config': {}},
            counted('b'),
            counted('c'),
            delay('d', 0.01),
        ],
        [('a', 'flaky'), ('a', 'broken'), ('broken', 'b'), ('flaky', 'c'), ('a', 'd')],
    )
    ids = [h.engine.submit(wf, {'n': n}) for n in range(5)]
    await h.idle()
    assert {e.execution_id for e in h.events} == set(ids)
    for execution_id in ids:
        events = h.events_of(execution_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type in TERMINAL_EXECUTION_EVENTS for e in events].count(True) == 1
        assert events[-1].type == EventType.EXECUTION_FAILED
        assert all(later.ts >= earlier.ts for earlier, later in itertools.pairwise(events))


# --- retries and failures ---------------------------------------------------------------------------


async def test_retries_with_backoff_until_success(h: Harness) -> None:
    wf = h.workflow(
        [
            {
                'id': 'flaky',
                'type': 'fail',
                'config': {'times': 2, 'message': 'gateway timeout'},
                'retry': {'max_attempts': 3, 'backoff_seconds': 0.5, 'jitter': 0},
            },
            counted('after'),
        ],
        [('flaky', 'after')],
    )
    state = await h.run(wf)
    node = state.nodes['flaky']
    assert state.status == 'succeeded'
    assert node.status == 'succeeded'
    assert node.attempts == 3
    assert node.output == {'succeeded_on_attempt': 3}
    assert [(a.n, a.outcome, a.error) for a in node.attempt_log] == [
        (1, 'retried', 'gateway timeout'),
        (2, 'retried', 'gateway timeout'),
        (3, 'succeeded', None),
    ]
    assert h.clock.sleeps == [0.5, 1.0]
    retrying = [e for e in h.events_of(state.id) if e.type == EventType.NODE_RETRYING]
    assert [e.data['delay_seconds'] for e in retrying] == [0.5, 1.0]
    assert [e.data['attempt'] for e in retrying] == [1, 2]
    assert state.nodes['after'].status == 'succeeded'


async def test_retry_delays_use_the_engines_jitter_source() -> None:
    harness = Harness(rand=lambda: 1.0)
    wf = harness.workflow(
        [
            {
                'id': 'flaky',
                'type': 'fail',
                'config': {'times': 3},
                'retry': {'max_attempts': 4, 'backoff_seconds': 1, 'max_backoff_seconds': 3, 'jitter': 0.1},
            }
        ]
    )
    state = await harness.run(wf)
    assert state.status == 'succeeded'
    assert harness.clock.sleeps == pytest.approx([1.1, 2.2, 3.3])
    await harness.engine.stop()


async def test_retries_exhausted_fail_the_node_and_execution(h: Harness) -> None:
    wf = h.workflow(
        [
            counted('start'),
            {
                'id': 'parse',
                'type': 'fail',
                'config': {'message': 'unexpected column'},
                'retry': {'max_attempts': 3, 'backoff_seconds': 0.1, 'jitter': 0},
            },
            counted('load'),
            counted('report'),
            counted('cache'),
            counted('cache_done'),
        ],
        [('start', 'parse'), ('parse', 'load'), ('load', 'report'), ('cache', 'cache_done')],
    )
    state = await h.run(wf)
    assert state.status == 'failed'
    assert "'parse'" in (state.error or '')
    assert 'unexpected column' in (state.error or '')
    parse = state.nodes['parse']
    assert parse.status == 'failed'
    assert parse.attempts == 3
    assert parse.error == 'unexpected column'
    assert [a.outcome for a in parse.attempt_log] == ['retried', 'retried', 'failed']
    assert h.clock.sleeps == [0.1, 0.2]
    load = state.nodes['load']
    assert load.status == 'skipped'
    assert "'parse'" in (load.skip_reason or '')
    assert 'failed' in (load.skip_reason or '')
    assert state.nodes['report'].status == 'skipped'
    assert 'load' not in h.counted.calls
    assert 'report' not in h.counted.calls
    assert state.nodes['cache'].status == 'succeeded'
    assert state.nodes['cache_done'].status == 'succeeded'
    assert (state.done, state.total) == (6, 6)
    failed = [e for e in h.events_of(state.id) if e.type == EventType.EXECUTION_FAILED]
    assert failed[0].data['failed_nodes'] == ['parse']


async def test_unexpected_exception_records_type_and_traceback(h: Harness) -> None:
    state = await h.run(h.workflow([{'id': 'oops', 'type': 'crash'}]))
    node = state.nodes['oops']
    assert node.status == 'failed'
    assert node.error is not None
    assert node.error.startswith('KeyError')
    assert node.traceback is not None
    assert 'Traceback' in node.traceback
    assert state.status == 'failed'


async def test_the_delay_node_waits_on_the_engines_clock(h: Harness) -> None:
    started = loop_time()
    state = await h.run(h.workflow([delay('wait', 7.5)]))
    assert state.nodes['wait'].output == {'waited_seconds': 7.5}
    assert h.clock.sleeps == [7.5]  # through the engine's clock, not asyncio.sleep
    assert loop_time() - started == pytest.approx(7.5)


async def test_node_timeout(h: Harness) -> None:
    wf = h.workflow([delay('slow', 5, timeout_seconds=0.1), counted('next')], [('slow', 'next')])
    started = loop_time()
    state = await h.run(wf)
    assert loop_time() - started == pytest.approx(0.1)  # the node's time-out, not its five seconds
    slow = state.nodes['slow']
    assert slow.status == 'failed'
    assert 'timed out' in (slow.error or '')
    assert state.nodes['next'].status == 'skipped'
    assert state.status == 'failed'


async def test_node_timeout_is_retried(h: Harness) -> None:
    wf = h.workflow([delay('slow', 5, timeout_seconds=0.05, retry={'max_attempts': 2, 'backoff_seconds': 0})])
    state = await h.run(wf)
    assert state.nodes['slow'].attempts == 2
    assert [a.outcome for a in state.nodes['slow'].attempt_log] == ['retried', 'failed']
    assert state.nodes['slow'].status == 'failed'


async def test_execution_timeout(h: Harness) -> None:
    wf = h.workflow([delay('slow', 5), counted('after')], [('slow', 'after')], timeout_seconds=0.2)
    started = loop_time()
    state = await h.run(wf)
    assert loop_time() - started == pytest.approx(0.2)  # the execution's time-out, not the node's five seconds
    assert state.status == 'failed'
    assert 'timed out' in (state.error or '')
    assert state.nodes['slow'].status == 'cancelled'
    assert state.nodes['after'].status == 'cancelled'
    assert [a.outcome for a in state.nodes['slow'].attempt_log] == ['cancelled']
    assert 'after' not in h.counted.calls


# --- cancel and admission ---------------------------------------------------------------------------


async def test_cancel_running_execution(h: Harness) -> None:
    wf = h.workflow([delay('fast', 0), delay('slow', 30), counted('after')], [('slow', 'after')])
    execution_id = h.engine.submit(wf)
    await until(lambda: h.state(execution_id).nodes['slow'].status == 'running', 'the slow node to run')
    started = loop_time()
    assert h.engine.cancel(execution_id) is True
    await h.idle()
    assert loop_time() - started < 0.1  # the cancel ended the 30 s wait at once
    state = h.state(execution_id)
    assert state.status == 'cancelled'
    assert statuses(state) == {'fast': 'succeeded', 'slow': 'cancelled', 'after': 'cancelled'}
    assert state.nodes['slow'].finished_at is not None
    assert not h.engine.is_active(execution_id)
    assert h.engine.cancel(execution_id) is False  # no longer active
    assert h.engine.cancel('no-such-execution') is False
    assert [e.seq for e in h.events_of(execution_id)] == list(range(1, len(h.events_of(execution_id)) + 1))


async def test_cancels_repeated_while_the_nodes_stop_still_tell_every_node(h: Harness) -> None:
    """Several cancels of one execution at once (two tabs, a bulk cancel beside a single one), or the process
    stopping while a cancel stops the nodes: the nodes are stopped once and each unfinished one is told cancelled;
    none is left running in an ended execution."""
    wf = h.workflow([delay('a', 30), delay('b', 30), counted('after')], [('a', 'after'), ('b', 'after')])
    for again in ('cancel', 'interrupt'):
        execution_id = h.engine.submit(wf)
        await until(lambda e=execution_id: h.state(e).nodes['b'].status == 'running', 'both nodes to run')
        assert h.engine.cancel(execution_id) is True
        for _ in range(6):  # every step of the stopping: the cancel is made again
            await asyncio.sleep(0)
            if again == 'cancel':
                assert h.engine.cancel(execution_id) is h.engine.is_active(execution_id)
            elif h.engine.is_active(execution_id):
                await h.engine.interrupt_all()
        await h.idle()
        state = h.state(execution_id)
        assert state.status == 'cancelled', again
        assert statuses(state) == {'a': 'cancelled', 'b': 'cancelled', 'after': 'cancelled'}, again
        assert h.types(execution_id).count('node.cancelled') == 3, again
        assert h.types(execution_id)[-1] == 'execution.cancelled', again


async def test_a_node_that_lets_a_cancel_pass_is_cancelled_again_when_the_execution_is(h: Harness) -> None:
    """The execution waits for its nodes to stop; cancelled again meanwhile (the process stopping), it cancels them
    again rather than wait on: a node that let the first cancel pass stops, and is told cancelled."""
    execution_id = h.engine.submit(h.workflow([{'id': 'slow', 'type': 'stubborn'}]))
    await until(lambda: h.state(execution_id).nodes['slow'].status == 'running', 'the node to run')
    assert h.engine.cancel(execution_id) is True
    await asyncio.sleep(60)  # (virtual time) the node let the cancel pass: the execution waits for it
    assert h.engine.is_active(execution_id)
    await asyncio.wait_for(h.engine.interrupt_all(), timeout=60)
    state = h.state(execution_id)
    assert state.status == 'cancelled' and statuses(state) == {'slow': 'cancelled'}
    assert not h.engine.is_active(execution_id)


async def test_cancel_a_node_waiting_to_retry(h: Harness) -> None:
    class SlowClock(FakeClock):
        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            await asyncio.sleep(30)

    h.engine.clock = SlowClock()
    wf = h.workflow([{'id': 'flaky', 'type': 'fail', 'config': {}, 'retry': {'max_attempts': 5}}])
    execution_id = h.engine.submit(wf)
    await until(lambda: h.state(execution_id).nodes['flaky'].status == 'retrying', 'the node to wait for a retry')
    h.engine.cancel(execution_id)
    await h.idle(timeout=10.0)  # not the 30 s back-off
    state = h.state(execution_id)
    assert state.status == 'cancelled'
    assert state.nodes['flaky'].status == 'cancelled'
    assert [a.outcome for a in state.nodes['flaky'].attempt_log] == ['retried']


async def test_cancel_queued_execution() -> None:
    h = Harness(max_concurrent=1)
    blocker = h.engine.submit(h.workflow([gate('hold')]))
    waiting = h.engine.submit(h.workflow([counted('never')]))
    await until(lambda: len(h.gate.entered) == 1, 'the first execution at its gate')
    assert h.state(waiting).status == 'queued'
    assert h.engine.queued_count == 1
    assert h.engine.cancel(waiting) is True
    assert h.engine.queued_count == 0
    state = h.state(waiting)
    assert state.status == 'cancelled'
    assert state.started_at is None
    assert h.types(waiting) == ['execution.queued', 'execution.cancelled']
    h.gate.open()
    await h.idle()
    assert h.state(blocker).status == 'succeeded'
    assert h.types(waiting) == ['execution.queued', 'execution.cancelled']  # it never ran afterwards
    assert 'never' not in h.counted.calls
    await h.engine.stop()


class _Input(dict[str, Any]):
    """An input that can be watched for being freed (a weak reference)."""


async def test_runs_queued_and_cancelled_again_and_again_behind_a_busy_slot_are_let_go() -> None:
    """The one slot is taken for hours; meanwhile runs are queued and cancelled, thousands of times. What they held
    (their inputs) is freed as each is cancelled, and the engine keeps no more of them than it lets wait."""
    registry = default_registry()
    hold = GateNode()
    registry.register(hold)
    engine = Engine(bus=EventBus(), registry=registry, clock=FakeClock(), max_concurrent=1, max_queued=10)
    engine.submit(parse_workflow({'id': 'hold', 'name': 'Hold', 'nodes': [gate('hold')], 'edges': []}, registry))
    await until(lambda: len(hold.entered) == 1, 'the slot taken')
    quick = parse_workflow(
        {'id': 'q', 'name': 'Quick', 'nodes': [{'id': 'a', 'type': 'delay', 'config': {'seconds': 0}}], 'edges': []},
        registry,
    )
    inputs: list[weakref.ref[_Input]] = []
    for n in range(2000):
        data = _Input(n=n, text='x' * 1000)
        inputs.append(weakref.ref(data))
        assert engine.cancel(engine.submit(quick, data)) is True
    del data
    gc.collect()
    assert sum(ref() is not None for ref in inputs) == 0, 'inputs of cancelled runs are still held'
    requests = sum(type(thing).__name__ == '_Request' for thing in gc.get_objects())
    assert requests <= 2 * 10 + 17, f'{requests} requests held for 10 places in the queue'
    hold.open()
    await engine.stop()


async def test_past_max_queued_submit_refuses_and_queues_nothing() -> None:
    h = Harness(max_concurrent=1, max_queued=2)
    wf = h.workflow([gate('hold')])
    running = h.engine.submit(wf)
    waiting = [h.engine.submit(wf), h.engine.submit(wf)]
    await until(lambda: len(h.gate.entered) == 1, 'the first execution at its gate')
    published = len(h.events)
    with pytest.raises(QueueFull, match='too many executions waiting: 2 are queued'):
        h.engine.submit(wf)
    assert h.engine.queued_count == 2 and len(h.events) == published  # no event, nothing queued
    assert h.engine.cancel(waiting[0]) is True  # a place is free again
    third = h.engine.submit(wf)
    h.gate.open()
    await h.idle()
    assert [h.state(i).status for i in (running, waiting[1], third)] == ['succeeded'] * 3
    await h.engine.stop()


async def test_cancel_right_after_submit_still_ends_the_execution(h: Harness) -> None:
    """The execution's task exists but has not run a step yet when it is cancelled."""
    execution_id = h.engine.submit(h.workflow([counted('a')]))
    assert h.engine.is_active(execution_id)
    assert h.engine.cancel(execution_id) is True
    await h.idle()
    state = h.state(execution_id)
    assert state.status == 'cancelled'
    assert 'a' not in h.counted.calls
    assert h.types(execution_id)[-1] == 'execution.cancelled'


async def test_admission_queues_beyond_max_concurrent() -> None:
    h = Harness(max_concurrent=1)
    wf = h.workflow([gate('hold')])
    first, second, third = (h.engine.submit(wf) for _ in range(3))
    await until(lambda: len(h.gate.entered) == 1, 'the first execution at its gate')
    assert h.engine.running_count == 1
    assert h.engine.queued_count == 2
    assert h.state(first).status == 'running'
    assert h.state(second).status == 'queued'
    assert h.state(third).status == 'queued'
    await asyncio.sleep(1)  # time passes (virtual): the second still waits while the first runs
    assert h.state(second).status == 'queued'
    h.gate.open()
    await h.idle()
    for execution_id in (first, second, third):
        assert h.state(execution_id).status == 'succeeded'
    order = [
        (str(e.type), e.execution_id)
        for e in h.events
        if e.type in (EventType.EXECUTION_STARTED, EventType.EXECUTION_COMPLETED)
    ]
    assert order == [
        ('execution.started', first),
        ('execution.completed', first),
        ('execution.started', second),
        ('execution.completed', second),
        ('execution.started', third),
        ('execution.completed', third),
    ]
    await h.engine.stop()


async def test_admission_by_priority_then_fifo() -> None:
    h = Harness(max_concurrent=1)
    wf = h.workflow([gate('hold')])
    running = h.engine.submit(wf, priority=0)
    low_1 = h.engine.submit(wf, priority=0)
    high_1 = h.engine.submit(wf, priority=5)
    low_2 = h.engine.submit(wf, priority=0)
    high_2 = h.engine.submit(wf, priority=5)
    urgent = h.engine.submit(wf, priority=9)
    assert h.state(high_1).priority == 5
    await until(lambda: len(h.gate.entered) == 1, 'the first execution at its gate')
    h.gate.open()
    await h.idle()
    started = [e.execution_id for e in h.events if e.type == EventType.EXECUTION_STARTED]
    assert started == [running, urgent, high_1, high_2, low_1, low_2]
    await h.engine.stop()


def test_max_concurrent_must_be_positive() -> None:
    with pytest.raises(ValueError, match='max_concurrent'):
        Engine(bus=EventBus(), registry=default_registry(), max_concurrent=0)


# --- branches ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(('go', 'taken', 'not_taken'), [(True, 'yes', 'no'), (False, 'no', 'yes')])
async def test_condition_branches_and_join(h: Harness, go: bool, taken: str, not_taken: str) -> None:
    wf = h.workflow(
        [
            {'id': 'check', 'type': 'condition', 'config': {'expression': 'input.go'}},
            counted('yes'),
            counted('no'),
            counted('yes_more'),
            {'id': 'join', 'type': 'transform', 'config': {'expression': "{via: yes_more.node || no.node || 'none'}"}},
        ],
        [('check', 'yes', True), ('check', 'no', False), ('yes', 'yes_more'), ('yes_more', 'join'), ('no', 'join')],
    )
    state = await h.run(wf, {'go': go})
    assert state.status == 'succeeded'
    assert state.nodes['check'].output == {'result': go, 'value': go}
    assert state.nodes[taken].status == 'succeeded'
    assert state.nodes[not_taken].status == 'skipped'
    assert state.nodes[not_taken].skip_reason == "branch not taken at 'check'"
    assert not_taken not in h.counted.calls
    assert state.nodes['join'].status == 'succeeded'
    assert state.nodes['join'].output == {'via': 'yes_more' if go else 'no'}
    assert state.nodes['yes_more'].status == ('succeeded' if go else 'skipped')
    assert ('check', taken) in state.edges
    assert ('check', not_taken) not in state.edges
    assert (state.done, state.total) == (5, 5)


async def test_join_waits_for_all_branches(h: Harness) -> None:
    wf = h.workflow(
        [counted('a'), delay('slow', 0.05), delay('fast', 0), counted('join')],
        [('a', 'slow'), ('a', 'fast'), ('slow', 'join'), ('fast', 'join')],
    )
    state = await h.run(wf)
    assert state.status == 'succeeded'
    assert set(h.counted.inputs['join'][0]) == {'input', 'slow', 'fast'}
    types = [(str(e.type), e.node_id) for e in h.events_of(state.id)]
    assert types.index(('node.completed', 'slow')) < types.index(('node.started', 'join'))


# --- rerun ------------------------------------------------------------------------------------------


def rerun_workflow(h: Harness) -> Workflow:
    #   a -> b -> c
    #   a -> d
    return h.workflow([counted('a'), counted('b'), counted('c'), counted('d')], [('a', 'b'), ('b', 'c'), ('a', 'd')])


async def test_rerun_from_node_reuses_upstream_and_reruns_downstream(h: Harness) -> None:
    wf = rerun_workflow(h)
    first = await h.run(wf, {'x': 1})
    assert first.status == 'succeeded'
    second_id = h.engine.rerun(first, wf, from_node='b')
    await h.idle()
    second = h.state(second_id)
    assert second.status == 'succeeded', second.error
    assert second.retry_of == first.id
    assert second.from_node == 'b'
    assert second.input == {'x': 1}
    assert dict(h.counted.calls) == {'a': 1, 'b': 2, 'c': 2, 'd': 1}
    for node_id in ('a', 'd'):
        node = second.nodes[node_id]
        assert node.reused
        assert node.status == 'succeeded'
        assert node.output == first.nodes[node_id].output
        assert node.attempts == 0
    for node_id in ('b', 'c'):
        node = second.nodes[node_id]
        assert not node.reused
        assert node.output['call'] == 2
    # b got the reused output of a as its input
    assert h.counted.inputs['b'][-1] == {'input': {'x': 1}, 'a': first.nodes['a'].output}
    assert second.edges[('a', 'b')].count == 1
    assert second.edges[('a', 'b')].bytes > 0
    assert second.output == {'c': second.nodes['c'].output, 'd': first.nodes['d'].output}
    assert (second.done, second.total) == (4, 4)


async def test_rerun_from_failed_node_reuses_successes(h: Harness) -> None:
    wf = h.workflow(
        [
            counted('a'),
            {'id': 'broken', 'type': 'fail', 'config': {'message': 'still broken'}},
            counted('after'),
            counted('other'),
        ],
        [('a', 'broken'), ('broken', 'after')],
    )
    first = await h.run(wf)
    assert first.status == 'failed'
    second_id = h.engine.rerun(first, wf, from_node='broken')
    await h.idle()
    second = h.state(second_id)
    assert second.status == 'failed'
    assert second.error == "node 'broken' failed: still broken"
    assert second.nodes['broken'].status == 'failed'
    assert second.nodes['broken'].attempts == 1  # it really ran again
    assert second.nodes['after'].status == 'skipped'
    assert second.nodes['a'].reused
    assert second.nodes['other'].reused
    assert dict(h.counted.calls) == {'a': 1, 'other': 1}


async def test_rerun_without_from_node_reruns_everything(h: Harness) -> None:
    wf = rerun_workflow(h)
    first = await h.run(wf, {'x': 1})
    second_id = h.engine.rerun(first, wf)
    await h.idle()
    second = h.state(second_id)
    assert second.status == 'succeeded'
    assert second.retry_of == first.id
    assert second.from_node is None
    assert dict(h.counted.calls) == {'a': 2, 'b': 2, 'c': 2, 'd': 2}
    assert not any(node.reused for node in second.nodes.values())
    assert second.input == {'x': 1}


async def test_rerun_with_unknown_from_node(h: Harness) -> None:
    wf = rerun_workflow(h)
    first = await h.run(wf)
    count = len(h.events)
    with pytest.raises(RerunError, match="'nope'"):
        h.engine.rerun(first, wf, from_node='nope')
    assert len(h.events) == count  # nothing was submitted
    assert h.engine.queued_count == h.engine.running_count == 0


async def test_rerun_with_new_input(h: Harness) -> None:
    wf = rerun_workflow(h)
    first = await h.run(wf, {'x': 1})
    second_id = h.engine.rerun(first, wf, from_node='b', input={'x': 2})
    await h.idle()
    second = h.state(second_id)
    assert second.input == {'x': 2}
    assert h.counted.inputs['b'][-1]['input'] == {'x': 2}
    assert h.counted.inputs['c'][-1]['input'] == {'x': 2}


# --- stop -------------------------------------------------------------------------------------------


async def test_stop_interrupts_running_and_queued() -> None:
    h = Harness(max_concurrent=1)
    wf = h.workflow([gate('hold'), counted('after')], [('hold', 'after')])
    running = h.engine.submit(wf)
    queued = h.engine.submit(wf)
    await until(lambda: len(h.gate.entered) == 1, 'the first execution at its gate')
    await asyncio.wait_for(h.engine.stop(), 1.0)
    run_state, queued_state = h.state(running), h.state(queued)
    assert run_state.status == 'interrupted'
    assert statuses(run_state) == {'hold': 'cancelled', 'after': 'cancelled'}
    assert queued_state.status == 'interrupted'
    assert h.types(queued) == ['execution.queued', 'execution.interrupted']
    assert not h.engine.is_active(running)
    assert not h.engine.is_active(queued)
    assert h.engine.running_count == h.engine.queued_count == 0
    with pytest.raises(RuntimeError, match='stopping'):
        h.engine.submit(wf)


async def test_stop_right_after_submit_interrupts(h: Harness) -> None:
    execution_id = h.engine.submit(h.workflow([counted('a')]))
    await h.engine.stop()  # awaited directly, so the execution's task never got a step
    assert h.state(execution_id).status == 'interrupted'
    assert 'a' not in h.counted.calls


# --- node types and data ----------------------------------------------------------------------------


async def test_custom_node_type_registration() -> None:
    class Shout(NodeType):  # the Config model may be nested, as flowmon.engine.nodes documents
        type_name = 'shout'

        class Config(NodeConfig):
            text: str

        async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
            return {'text': config.text.upper(), 'attempt': ctx.attempt, 'execution': ctx.execution_id}

    registry = NodeRegistry()
    raw = {'id': 'w', 'name': 'w', 'nodes': [{'id': 's', 'type': 'shout', 'config': {'text': 'hi'}}]}
    with pytest.raises(WorkflowError, match="'shout'"):
        parse_workflow(raw, registry)
    registry.register(Shout)
    assert 'shout' in registry
    assert list(registry) == ['shout']
    with pytest.raises(WorkflowError, match='text'):
        parse_workflow({**raw, 'nodes': [{'id': 's', 'type': 'shout', 'config': {}}]}, registry)
    wf = parse_workflow(raw, registry)

    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    engine = Engine(bus=bus, registry=registry, clock=FakeClock())
    execution_id = engine.submit(wf)
    await asyncio.wait_for(engine.wait_idle(), 2)
    state = fold(events)
    assert state is not None
    assert state.status == 'succeeded'
    assert state.nodes['s'].output == {'text': 'HI', 'attempt': 1, 'execution': execution_id}


def test_registry_rejects_a_type_without_a_name() -> None:
    class Nameless(NodeType):
        async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
            return None

    with pytest.raises(ValueError, match='type_name'):
        NodeRegistry().register(Nameless)


@pytest.mark.parametrize(
    ('kind', 'expected'),
    [
        ('set', '{1, 2, 3}'),
        ('datetime', {'at': str(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)), 'n': 1}),
    ],
)
async def test_non_json_output_is_stringified(h: Harness, kind: str, expected: Any) -> None:
    wf = h.workflow([{'id': 'odd', 'type': 'odd', 'config': {'kind': kind}}, counted('after')], [('odd', 'after')])
    state = await h.run(wf)
    assert state.status == 'succeeded'
    assert state.nodes['odd'].status == 'succeeded'
    assert state.nodes['odd'].output == expected
    json.dumps(execution_summary(state))  # everything in the state is JSON-compatible now
    for event in h.events_of(state.id):
        json.dumps(event.marshal())
    assert h.counted.inputs['after'][0]['odd'] == expected


async def test_data_flow_events_carry_byte_sizes(h: Harness) -> None:
    wf = h.workflow(
        [
            {'id': 'a', 'type': 'transform', 'config': {'expression': '`{"k": "vvvv"}`'}},
            {'id': 'b', 'type': 'transform', 'config': {'expression': '`[1, 2, 3]`'}},
            {'id': 'c', 'type': 'transform', 'config': {'expression': 'a'}},
        ],
        [('a', 'c'), ('b', 'c')],
    )
    state = await h.run(wf)
    assert state.status == 'succeeded'
    flows = {(e.node_id, e.data['target']): e.data['bytes'] for e in h.events_of(state.id) if e.type == 'data.flow'}
    assert flows == {('a', 'c'): len('{"k":"vvvv"}'), ('b', 'c'): len('[1,2,3]')}
    assert state.edges[('a', 'c')].bytes == 12
    assert state.edges[('a', 'c')].count == 1
    assert state.edges[('b', 'c')].bytes == 7


async def test_each_output_is_encoded_once_and_its_text_travels_with_the_events(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler encodes an output once (to size and budget it); every event carrying it is built around
    that text: the data of node.completed, of the next node.started (as part of its input), of execution.completed,
    and the size of data.flow. A store writes ``data_json`` as it is and encodes none of these payloads again."""
    encoded: list[Any] = []
    original = node_attempts_module.encode_compact

    def counting(value: Any, **kwargs: Any) -> str:
        encoded.append(value)
        return original(value, **kwargs)

    for module in (scheduler_module, node_attempts_module):  # the runtime's modules that encode payloads
        monkeypatch.setattr(module, 'encode_compact', counting)
    wf = h.workflow(
        [
            counted('a', {'text': 'héllo ✓', 'n': [1, 2.5, None]}),
            counted('b', 'B'),
            {'id': 'c', 'type': 'transform', 'config': {'expression': '{a: a.value, b: b.value}'}},
        ],
        [('a', 'c'), ('b', 'c')],
    )
    state = await h.run(wf, {'order': 7})
    assert state.status == 'succeeded'
    outputs = [node.output for node in state.nodes.values()]
    assert len(encoded) == 3  # one encoding per node output, nothing else
    assert all(any(value is output for value in encoded) for output in outputs)
    carrying = {
        EventType.NODE_STARTED,
        EventType.NODE_COMPLETED,
        EventType.DATA_FLOW,
        EventType.EXECUTION_PROGRESS,
        EventType.EXECUTION_COMPLETED,
    }
    events = [event for event in h.events_of(state.id) if event.type in carrying]
    assert len(events) == 3 + 3 + 2 + 3 + 1
    assert all(event.data_json is not None for event in events)
    completed = next(e for e in events if e.type == EventType.NODE_COMPLETED and e.node_id == 'a')
    assert (
        completed.data_json
        == '{"attempt":1,"output":{"node":"a","call":1,"value":{"text":"h\\u00e9llo \\u2713","n":[1,2.5,null]}}}'
    )
    # (the fixture checks every carried text against json.dumps of the event's data)


async def test_an_engine_bug_after_a_node_ends_fails_the_execution_visibly(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bookkeeping of a node's end runs in the node's task; an error there must still end the execution."""
    original = execution_module.ExecutionRun._mark  # fault injection: only a bug in this private step can raise

    def broken(run: Any, node_id: str, status: str) -> None:
        if node_id == 'b':
            raise RuntimeError('bookkeeping broke')
        original(run, node_id, status)

    monkeypatch.setattr(execution_module.ExecutionRun, '_mark', broken)
    state = await h.run(h.workflow([counted('a'), counted('b'), counted('c')], [('a', 'b'), ('b', 'c')]))
    assert state.status == 'failed'
    assert state.error == 'internal error: RuntimeError: bookkeeping broke'
    assert statuses(state)['c'] == 'cancelled'  # never started
    assert h.types(state.id)[-1] == 'execution.failed'


async def test_failure_propagates_through_skipped_nodes_to_joins(h: Harness) -> None:
    """a fails -> b skipped -> d (joining b and ok) is skipped too, not run on partial input."""
    nodes = [{'id': 'a', 'type': 'fail', 'config': {}}, counted('b'), counted('ok'), counted('d')]
    state = await h.run(h.workflow(nodes, [('a', 'b'), ('b', 'd'), ('ok', 'd')]))
    assert state.status == 'failed'
    assert state.nodes['b'].status == 'skipped'
    assert state.nodes['d'].status == 'skipped'
    assert 'after a failure' in (state.nodes['d'].skip_reason or '')
    assert state.nodes['ok'].status == 'succeeded'
    assert 'd' not in h.counted.calls


async def test_an_output_nested_too_deeply_fails_the_node_with_a_clear_error(h: Harness) -> None:
    class Deep(NodeType):
        type_name = 'deep'

        async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
            value: Any = 'leaf'
            for _ in range(300):
                value = [value]
            return value

    h.registry.register(Deep)
    state = await h.run(h.workflow([{'id': 'd', 'type': 'deep'}]))
    assert state.status == 'failed'
    assert state.nodes['d'].status == 'failed'
    assert 'nested more than 64 levels' in (state.nodes['d'].error or '')


# --- the payload budget ---------------------------------------------------------------------------------


class Blob(NodeType):
    """Returns ``{"blob": "x" * size}``; with ``shared``, a list that holds one object 2**30 times once encoded."""

    type_name = 'blob'

    class Config(NodeConfig):
        size: int = 0
        shared: bool = False
        huge_int: bool = False

    async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        if config.huge_int:
            return {'n': 2**70}
        if config.shared:
            value: Any = {'blob': 'x' * 10}
            for _ in range(30):
                value = [value, value]
            return value
        return {'blob': 'x' * config.size}


def budget_engine(max_bytes: int, events: list[Event]) -> tuple[Engine, NodeRegistry]:
    bus = EventBus()
    bus.subscribe(events.append)
    registry = default_registry()
    registry.register(Blob)
    return Engine(bus=bus, registry=registry, clock=FakeClock(), budget=PayloadBudget(max_bytes=max_bytes)), registry


def blob_then_log(registry: NodeRegistry, blob: dict[str, Any]) -> Workflow:
    after = {'id': 'after', 'type': 'log', 'config': {'message': 'after'}}
    return parse_workflow(
        {'id': 'w', 'name': 'w', 'nodes': [blob, after], 'edges': [{'source': blob['id'], 'target': 'after'}]}, registry
    )


@pytest.mark.parametrize(
    ('config', 'message'),
    [
        ({'size': 3000}, 'output is 2.9 KiB, over FLOWMON_MAX_PAYLOAD_BYTES (2 KiB)'),
        ({'size': 1 << 20}, 'output is at least 1 MiB, over FLOWMON_MAX_PAYLOAD_BYTES (2 KiB)'),
        ({'shared': True}, 'output is at least'),
        ({'huge_int': True}, 'output at n holds an integer outside the 64-bit range'),
    ],
)
async def test_an_output_over_the_payload_budget_fails_the_attempt_naming_the_limit(
    config: dict[str, Any], message: str
) -> None:
    events: list[Event] = []
    engine, registry = budget_engine(2048, events)
    retry = {'max_attempts': 2, 'backoff_seconds': 0}
    engine.submit(blob_then_log(registry, {'id': 'big', 'type': 'blob', 'config': config, 'retry': retry}))
    await engine.wait_idle()
    state = fold(events)
    assert state is not None and state.status == 'failed'
    assert state.nodes['big'].status == 'failed' and state.nodes['big'].attempts == 2  # the retry policy applied
    assert message in (state.nodes['big'].error or '')
    assert state.nodes['after'].status == 'skipped'
    assert not any(event.type == EventType.NODE_COMPLETED for event in events)


async def test_an_output_within_the_budget_passes_and_its_size_is_what_data_flow_reports() -> None:
    events: list[Event] = []
    engine, registry = budget_engine(2048, events)
    engine.submit(
        blob_then_log(registry, {'id': 'fits', 'type': 'blob', 'config': {'size': 2048 - len('{"blob":""}')}})
    )
    await engine.wait_idle()
    assert fold(events).status == 'succeeded'  # type: ignore[union-attr]
    flow = next(event for event in events if event.type == EventType.DATA_FLOW)
    assert flow.data['bytes'] == 2048


async def test_an_input_over_the_budget_is_refused_before_anything_is_queued() -> None:
    events: list[Event] = []
    engine, registry = budget_engine(2048, events)
    workflow = parse_workflow(
        {'id': 'w', 'name': 'w', 'nodes': [{'id': 'a', 'type': 'log', 'config': {'message': 'm'}}]}, registry
    )
    with pytest.raises(PayloadTooLarge, match=r'the execution input is .*, over FLOWMON_MAX_PAYLOAD_BYTES \(2 KiB\)'):
        engine.submit(workflow, {'blob': 'x' * 4096})
    deep: Any = 'leaf'
    for _ in range(65):
        deep = {'k': deep}
    with pytest.raises(PayloadTooDeep, match='nested more than 64 levels deep'):
        engine.submit(workflow, deep)
    with pytest.raises(PayloadInvalid, match='64-bit'):
        engine.submit(workflow, {'n': 10**30})
    assert events == [] and engine.queued_count == 0
