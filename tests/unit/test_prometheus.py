"""The Prometheus metrics module, fed by hand-made events on a bus and a stand-in delivery notifier; read back
through prometheus_client's own parser, as Prometheus would read it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flowmon.engine import Event, EventBus, EventType, default_registry, parse_workflow
from flowmon.engine.model import Workflow
from flowmon.infra.loop_probe import LoopLagProbe
from flowmon.infra.prometheus import OTHER, MetricSources, ProcessMetrics

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class FakeNotifier:
    listeners: list[tuple[Callable[[Any], None], frozenset[str] | None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[Any], None], types: Iterable[str] | None = None) -> Callable[[], None]:
        entry = (listener, None if types is None else frozenset(types))
        self.listeners.append(entry)
        return lambda: self.listeners.remove(entry)

    def publish(self, event_type: str) -> None:
        event = DeliveryEvent(event_type)
        for listener, types in self.listeners:
            if types is None or event_type in types:
                listener(event)


@dataclass(frozen=True)
class DeliveryEvent:
    type: str


class Gauges(SimpleNamespace):
    """What the metric sources read (a test changes the values between scrapes)."""

    def __init__(self) -> None:
        super().__init__(active=2, queued=5, recorded=1234, backlog=17, clients=3, pending=4, pending_fails=False)

    async def webhook_pending(self) -> int:
        if self.pending_fails:
            raise RuntimeError('database is locked')
        return self.pending

    def sources(self) -> MetricSources:
        return MetricSources(
            executions_active=lambda: self.active,
            executions_queued=lambda: self.queued,
            events_recorded=lambda: self.recorded,
            recorder_backlog=lambda: self.backlog,
            connected_clients=lambda: self.clients,
            webhook_pending=self.webhook_pending,
        )


class FakeSleep:
    """The probe's sleep: the fake clock moves by the interval plus a chosen lateness, and nothing waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.late_by = [0.0]

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.now += seconds + (self.late_by.pop(0) if self.late_by else 0.0)


@dataclass
class Harness:
    bus: EventBus
    notifier: FakeNotifier
    gauges: Gauges
    metrics: ProcessMetrics
    sleep: FakeSleep
    seqs: dict[str, int] = field(default_factory=dict)

    def emit(self, execution_id: str, kind: EventType, at: float, node_id: str | None = None, **data: Any) -> None:
        self.seqs[execution_id] = self.seqs.get(execution_id, 0) + 1
        event = Event(
            execution_id=execution_id,
            seq=self.seqs[execution_id],
            type=kind,
            ts=T0 + timedelta(seconds=at),
            node_id=node_id,
            data=data,
        )
        self.bus.publish(event)

    async def scrape(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """Sample name -> labels -> value."""
        samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        text = (await self.metrics.render()).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
        return samples


def workflow(workflow_id: str, *types: str) -> Workflow:
    configs = {'delay': {'seconds': 0}, 'log': {'message': 'x'}, 'fail': {}, 'transform': {'expression': 'input'}}
    nodes = [{'id': f'n{index}', 'type': kind, 'config': configs[kind]} for index, kind in enumerate(types)]
    return parse_workflow({'id': workflow_id, 'name': workflow_id, 'nodes': nodes}, default_registry())


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    """Metrics on a bus, with workflow ``orders`` (nodes n0: delay, n1: log) known; the probe is measured by hand."""
    bus, notifier, gauges, sleep = EventBus(), FakeNotifier(), Gauges(), FakeSleep()
    metrics = ProcessMetrics(
        bus=bus,
        notifier=notifier,
        sources=gauges.sources(),
        version='9.8.7',
        probe=LoopLagProbe(clock=sleep.clock, sleep=sleep),
        max_tracked=3,
    )
    metrics.workflow_changed('orders', workflow('orders', 'delay', 'log'))
    metrics.start()
    await metrics.probe.stop()  # the tests measure with probe.measure() themselves
    yield Harness(bus, notifier, gauges, metrics, sleep)
    await metrics.stop()


def run(
    h: Harness, execution_id: str, workflow_id: str, end: EventType, *, started: float = 1.0, at: float = 3.5
) -> None:
    h.emit(execution_id, EventType.EXECUTION_QUEUED, 0.0, workflow_id=workflow_id)
    h.emit(execution_id, EventType.EXECUTION_STARTED, started)
    h.emit(execution_id, end, at)


async def test_ended_executions_are_counted_by_workflow_and_status_and_timed_from_their_start(h: Harness) -> None:
    run(h, 'e1', 'orders', EventType.EXECUTION_COMPLETED, started=1.0, at=3.5)
    run(h, 'e2', 'orders', EventType.EXECUTION_FAILED, started=1.0, at=1.2)
    run(h, 'e3', 'orders', EventType.EXECUTION_COMPLETED, started=1.0, at=2.0)
    h.emit('e4', EventType.EXECUTION_QUEUED, 0.0, workflow_id='orders')
    h.emit('e4', EventType.EXECUTION_CANCELLED, 0.5)  # cancelled while queued: counted, never timed
    samples = await h.scrape()
    orders = (('workflow', 'orders'),)
    assert samples['flowmon_executions_total'] == {
        (('status', 'succeeded'), *orders): 2,
        (('status', 'failed'), *orders): 1,
        (('status', 'cancelled'), *orders): 1,
    }
    assert samples['flowmon_execution_duration_seconds_count'] == {orders: 3}
    assert samples['flowmon_execution_duration_seconds_sum'][orders] == pytest.approx(2.5 + 0.2 + 1.0)
    assert samples['flowmon_execution_duration_seconds_bucket'][(('le', '1.0'), *orders)] == 2
    assert h.metrics.tracked == 0


async def test_labels_name_only_workflows_that_exist(h: Harness) -> None:
    run(h, 'e1', 'never-stored', EventType.EXECUTION_COMPLETED)
    h.emit('e2', EventType.EXECUTION_INTERRUPTED, 1.0)  # queued before the metrics listened: no workflow known
    run(h, 'e3', 'orders', EventType.EXECUTION_COMPLETED)
    h.emit('e4', EventType.EXECUTION_QUEUED, 0.0, workflow_id='orders')
    h.emit('e4', EventType.EXECUTION_STARTED, 1.0)
    h.metrics.workflow_changed('orders', None)  # deleted while e4 runs: its series go, e4 ends as _other
    h.emit('e4', EventType.EXECUTION_COMPLETED, 2.0)
    samples = await h.scrape()
    assert samples['flowmon_executions_total'] == {
        (('status', 'succeeded'), ('workflow', OTHER)): 2,
        (('status', 'interrupted'), ('workflow', OTHER)): 1,
    }
    assert samples['flowmon_execution_duration_seconds_count'] == {(('workflow', OTHER),): 2}


async def test_node_attempts_are_timed_by_workflow_and_node_type(h: Harness) -> None:
    h.emit('e1', EventType.EXECUTION_QUEUED, 0.0, workflow_id='orders')
    h.emit('e1', EventType.EXECUTION_STARTED, 0.0)
    h.emit('e1', EventType.NODE_STARTED, 0.0, 'n0')
    h.emit('e1', EventType.NODE_RETRYING, 0.25, 'n0')  # an attempt that ended: timed
    h.emit('e1', EventType.NODE_STARTED, 1.0, 'n0')
    h.emit('e1', EventType.NODE_COMPLETED, 1.5, 'n0')
    h.emit('e1', EventType.NODE_STARTED, 1.5, 'n1')
    h.emit('e1', EventType.NODE_FAILED, 1.75, 'n1')
    h.emit('e1', EventType.NODE_COMPLETED, 1.8, 'gone', reused=True)  # no start: a reused output, not timed
    h.emit('e1', EventType.NODE_STARTED, 2.0, 'n1')
    h.emit('e1', EventType.NODE_CANCELLED, 9.0, 'n1')  # cut off: not timed
    h.emit('e1', EventType.EXECUTION_CANCELLED, 9.0)
    samples = await h.scrape()
    delay, log = (('node_type', 'delay'), ('workflow', 'orders')), (('node_type', 'log'), ('workflow', 'orders'))
    assert samples['flowmon_node_duration_seconds_count'] == {delay: 2, log: 1}
    assert samples['flowmon_node_duration_seconds_sum'] == {delay: pytest.approx(0.75), log: pytest.approx(0.25)}
    h.metrics.workflow_changed('orders', None)
    assert 'flowmon_node_duration_seconds_count' not in await h.scrape()


async def test_the_state_kept_for_running_executions_is_bounded(h: Harness) -> None:
    for index in range(5):
        h.emit(f'e{index}', EventType.EXECUTION_QUEUED, 0.0, workflow_id='orders')
        h.emit(f'e{index}', EventType.EXECUTION_STARTED, 1.0)
    assert h.metrics.tracked == 3  # max_tracked: the oldest were forgotten
    for index in range(5):
        h.emit(f'e{index}', EventType.EXECUTION_COMPLETED, 2.0)
    samples = await h.scrape()
    assert samples['flowmon_executions_total'] == {
        (('status', 'succeeded'), ('workflow', 'orders')): 3,
        (('status', 'succeeded'), ('workflow', OTHER)): 2,  # forgotten: still counted, under _other
    }
    assert samples['flowmon_execution_duration_seconds_count'] == {(('workflow', 'orders'),): 3}


async def test_settled_deliveries_are_counted_by_outcome(h: Harness) -> None:
    assert (await h.scrape())['flowmon_webhook_deliveries_total'] == {
        (('outcome', outcome),): 0 for outcome in ('succeeded', 'failed', 'exhausted', 'cancelled')
    }
    for event_type in ('webhook.succeeded', 'webhook.succeeded', 'webhook.exhausted', 'webhook.cancelled'):
        h.notifier.publish(event_type)
    h.notifier.publish('webhook.attempted')  # not a settlement: the metrics do not listen to it
    assert (await h.scrape())['flowmon_webhook_deliveries_total'] == {
        (('outcome', 'succeeded'),): 2,
        (('outcome', 'failed'),): 0,
        (('outcome', 'exhausted'),): 1,
        (('outcome', 'cancelled'),): 1,
    }


async def test_gauges_are_read_when_scraped(h: Harness) -> None:
    samples = await h.scrape()
    single = {name: values[()] for name, values in samples.items() if () in values}
    assert single == {
        'flowmon_executions_active': 2,
        'flowmon_executions_queued': 5,
        'flowmon_events_recorded_total': 1234,
        'flowmon_recorder_backlog_events': 17,
        'flowmon_event_loop_lag_seconds': 0,
        'flowmon_connected_clients': 3,
        'flowmon_webhook_pending': 4,
    }
    assert samples['flowmon_build_info'] == {(('version', '9.8.7'),): 1}
    h.gauges.active, h.gauges.recorded, h.gauges.pending_fails = 0, 2000, True
    samples = await h.scrape()
    assert samples['flowmon_executions_active'][()] == 0 and samples['flowmon_events_recorded_total'][()] == 2000
    assert 'flowmon_webhook_pending' not in samples  # the database did not answer: left out, the scrape works


async def test_the_loop_lag_is_how_late_the_probe_woke(h: Harness) -> None:
    h.sleep.late_by = [0.25, 0.0]
    assert await h.metrics.probe.measure() == pytest.approx(0.25)
    assert (await h.scrape())['flowmon_event_loop_lag_seconds'][()] == pytest.approx(0.25)
    assert await h.metrics.probe.measure() == 0
    assert (await h.scrape())['flowmon_event_loop_lag_seconds'][()] == 0


async def test_the_probe_task_belongs_to_start_and_stop() -> None:
    sleep = FakeSleep()
    second_sleep = asyncio.Event()

    async def sleep_once(seconds: float) -> None:
        if sleep.late_by:
            await sleep(seconds)
            return
        second_sleep.set()  # the first measurement is done: park here until stopped
        await asyncio.Future()

    probe = LoopLagProbe(clock=sleep.clock, sleep=sleep_once)
    sleep.late_by = [0.5]
    probe.start()
    await second_sleep.wait()
    await probe.stop()
    assert probe.lag == pytest.approx(0.5)
    await probe.stop()  # stopping twice is harmless


async def test_two_instances_keep_apart_and_stop_unsubscribes() -> None:
    bus, notifier = EventBus(), FakeNotifier()
    first = ProcessMetrics(bus=bus, notifier=notifier, sources=Gauges().sources(), version='1')
    second = ProcessMetrics(bus=bus, notifier=notifier, sources=Gauges().sources(), version='1')
    first.workflow_changed('orders', workflow('orders', 'log'))
    first.start()
    second.start()
    assert bus.subscriber_count == 2 and len(notifier.listeners) == 2
    bus.publish(Event(execution_id='e', seq=1, type=EventType.EXECUTION_QUEUED, ts=T0, data={'workflow_id': 'orders'}))
    bus.publish(Event(execution_id='e', seq=2, type=EventType.EXECUTION_FAILED, ts=T0))
    notifier.publish('webhook.failed')
    for metrics, workflow_label in ((first, 'orders'), (second, OTHER)):
        text = (await metrics.render()).decode()
        assert f'flowmon_executions_total{{status="failed",workflow="{workflow_label}"}} 1.0' in text
        assert 'flowmon_webhook_deliveries_total{outcome="failed"} 1.0' in text
    await first.stop()
    await second.stop()
    assert bus.subscriber_count == 0 and notifier.listeners == []
