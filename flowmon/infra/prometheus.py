"""Prometheus metrics of one flowmon process, for ``GET /metrics`` (text exposition format).

The metrics live in their own :class:`~prometheus_client.CollectorRegistry`, never the library's global one, so
tests and several app instances in one process do not collide. They are fed from what exists, cheaply:

- a bus callback for execution events: terminal events count executions and time them (from
  ``execution.started``), and each node attempt is timed from its ``node.started`` to the event that ends it
  (``node.completed``, ``node.retrying`` or ``node.failed``); the state kept is the running executions' start
  times, at most ``max_tracked`` of them;
- a listener on the delivery notifier for settled deliveries (``webhook.succeeded|failed|exhausted|cancelled``);
- gauges read when scraped, through the callables of :class:`MetricSources` (engine counts, recorder backlog,
  connected browsers, outstanding deliveries) and the event loop lag probe.

Label values are bounded: ``workflow`` is the id of a workflow that exists (the catalog tells
:meth:`ProcessMetrics.workflow_changed`), else :data:`OTHER`; deleting a workflow removes its series. ``node_type``
comes from the workflow's current definition (a node type of the registry), ``status`` and ``outcome`` from fixed
sets.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.model import Workflow
from flowmon.engine.runtime.bus import EventBus, Subscription
from flowmon.infra.loop_probe import LoopLagProbe

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes
OTHER = '_other'  # the workflow label of executions whose workflow does not exist (deleted, or never stored)
DELIVERY_OUTCOMES = ('succeeded', 'failed', 'exhausted', 'cancelled')
EXECUTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
NODE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
MAX_TRACKED_EXECUTIONS = 10_000

_FINAL_STATUS = {
    EventType.EXECUTION_COMPLETED: 'succeeded',
    EventType.EXECUTION_FAILED: 'failed',
    EventType.EXECUTION_CANCELLED: 'cancelled',
    EventType.EXECUTION_INTERRUPTED: 'interrupted',
}
_ATTEMPT_ENDS = frozenset({EventType.NODE_COMPLETED, EventType.NODE_RETRYING, EventType.NODE_FAILED})
_EVENT_TYPES = frozenset(
    {EventType.EXECUTION_QUEUED, EventType.EXECUTION_STARTED, EventType.NODE_STARTED, EventType.NODE_CANCELLED}
    | _ATTEMPT_ENDS
    | _FINAL_STATUS.keys()
)


class DeliveryEvents(Protocol):
    """What the metrics need of the delivery notifier (:class:`flowmon.delivery.notify.Notifier`)."""

    def subscribe(self, listener: Callable[[Any], None], types: Iterable[str] | None = None) -> Callable[[], None]: ...


@dataclass(frozen=True, kw_only=True)
class MetricSources:
    """Where the gauges read at scrape time come from; each call must be cheap."""

    executions_active: Callable[[], int]
    executions_queued: Callable[[], int]
    events_recorded: Callable[[], int]  # events written to the database since start
    recorder_backlog: Callable[[], int]  # events waiting to be written
    connected_clients: Callable[[], int]  # browser tabs connected
    webhook_pending: Callable[[], Awaitable[int]]  # deliveries not yet settled (a cached database count)


@dataclass(slots=True)
class _Running:
    workflow_id: str
    started: datetime | None = None
    attempts: dict[str, datetime] = field(default_factory=dict)  # node id -> start of its running attempt


class ProcessMetrics:
    """The registry and what feeds it; ``start``/``stop`` own the subscriptions and the lag probe."""

    def __init__(
        self,
        *,
        bus: EventBus,
        notifier: DeliveryEvents,
        sources: MetricSources,
        version: str,
        probe: LoopLagProbe | None = None,
        max_tracked: int = MAX_TRACKED_EXECUTIONS,
    ) -> None:
        self._bus = bus
        self._notifier = notifier
        self._sources = sources
        self.probe = probe or LoopLagProbe()
        self.max_tracked = max_tracked
        self.registry = CollectorRegistry()
        registry = self.registry
        self.executions = Counter(
            'flowmon_executions', 'Executions that ended, by workflow and final status', ['workflow', 'status'],
            registry=registry,
        )  # fmt: skip
        self.execution_duration = Histogram(
            'flowmon_execution_duration_seconds', 'Time from the start of an execution to its end, by workflow',
            ['workflow'], buckets=EXECUTION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.node_duration = Histogram(
            'flowmon_node_duration_seconds', 'Time of each node attempt that ended (completed, retrying or failed)',
            ['workflow', 'node_type'], buckets=NODE_BUCKETS, registry=registry,
        )  # fmt: skip
        self.deliveries = Counter(
            'flowmon_webhook_deliveries', 'Webhook deliveries settled, by outcome', ['outcome'], registry=registry
        )
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        Gauge('flowmon_build_info', 'The flowmon version running', ['version'], registry=registry).labels(version).set(
            1
        )
        registry.register(_ScrapeTimeGauges(self))
        self._node_types: dict[str, Mapping[str, str]] = {}  # existing workflow id -> node id -> node type
        self._running: dict[str, _Running] = {}
        self._webhook_pending: int | None = None
        self._subscription: Subscription | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._subscription is None:
            self._subscription = self._bus.subscribe(self._on_event, types=_EVENT_TYPES)
            self._unsubscribe = self._notifier.subscribe(
                self._on_delivery, types=[f'webhook.{outcome}' for outcome in DELIVERY_OUTCOMES]
            )
        self.probe.start()

    async def stop(self) -> None:
        await self.probe.stop()
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def render(self) -> bytes:
        """The exposition text (refreshes the gauges that need the database first)."""
        try:
            self._webhook_pending = await self._sources.webhook_pending()
        except Exception:  # a scrape still answers; the gauge is left out this time
            log.warning('metrics: could not count pending webhook deliveries', exc_info=True)
            self._webhook_pending = None
        return generate_latest(self.registry)

    # --- which workflows exist ------------------------------------------------------------------------

    def workflow_changed(self, workflow_id: str, workflow: Workflow | None) -> None:
        """The catalog's listener: ``workflow`` was stored (or, when None, deleted, and its series go)."""
        if workflow is not None:
            self._node_types[workflow_id] = {node.id: node.type for node in workflow.spec.nodes}
            return
        if self._node_types.pop(workflow_id, None) is not None:
            for metric in (self.executions, self.execution_duration, self.node_duration):
                metric.remove_by_labels({'workflow': workflow_id})

    # --- feeds ----------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        kind = event.type
        if kind == EventType.EXECUTION_QUEUED:
            if len(self._running) >= self.max_tracked:
                del self._running[next(iter(self._running))]  # the oldest: it counts without its times
            self._running[event.execution_id] = _Running(str(event.data.get('workflow_id') or ''))
            return
        status = _FINAL_STATUS.get(kind)
        if status is not None:
            self._ended(event, status)
            return
        running, node_id = self._running.get(event.execution_id), event.node_id
        if running is None:
            return
        if kind == EventType.EXECUTION_STARTED:
            running.started = event.ts
        elif node_id is None:
            return
        elif kind == EventType.NODE_STARTED:
            running.attempts[node_id] = event.ts
        else:  # an attempt ended (or was cancelled: not timed)
            began = running.attempts.pop(node_id, None)
            if began is not None and kind in _ATTEMPT_ENDS:
                label = self._label(running.workflow_id)
                node_type = self._node_types.get(label, {}).get(node_id, OTHER)
                self.node_duration.labels(label, node_type).observe(_seconds(began, event.ts))

    def _ended(self, event: Event, status: str) -> None:
        running = self._running.pop(event.execution_id, None)
        label = self._label(running.workflow_id if running else '')
        self.executions.labels(label, status).inc()
        if running is not None and running.started is not None:
            self.execution_duration.labels(label).observe(_seconds(running.started, event.ts))

    def interrupted(self, workflow_id: str) -> None:
        """An execution closed ``interrupted`` by recovery (after a crash, or a process that stopped renewing its
        lease): its events are written, not published, so :meth:`_on_event` never sees them."""
        self.executions.labels(self._label(workflow_id), 'interrupted').inc()

    def _on_delivery(self, event: Any) -> None:
        outcome = str(event.type).removeprefix('webhook.')
        if outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome).inc()

    def _label(self, workflow_id: str) -> str:
        return workflow_id if workflow_id in self._node_types else OTHER

    @property
    def tracked(self) -> int:
        """Executions whose start times are kept (queued or running)."""
        return len(self._running)


class _ScrapeTimeGauges:
    """The values read when Prometheus scrapes."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics, sources = self._metrics, self._metrics._sources
        yield _gauge('flowmon_executions_active', 'Executions running now', sources.executions_active())
        yield _gauge('flowmon_executions_queued', 'Executions waiting for a slot', sources.executions_queued())
        yield CounterMetricFamily(
            'flowmon_events_recorded', 'Execution events written to the database', value=sources.events_recorded()
        )
        yield _gauge('flowmon_recorder_backlog_events', 'Events waiting to be written', sources.recorder_backlog())
        yield _gauge(
            'flowmon_event_loop_lag_seconds',
            'How late the event loop woke a 100 ms sleep, last time',
            metrics.probe.lag,
        )
        yield _gauge('flowmon_connected_clients', 'Browser tabs connected', sources.connected_clients())
        if metrics._webhook_pending is not None:
            yield _gauge('flowmon_webhook_pending', 'Webhook deliveries not yet settled', metrics._webhook_pending)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
