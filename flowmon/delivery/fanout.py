"""Feeding endpoint subscriptions from the bus without ever slowing the engine down.

The fan-out subscribes with a bounded queue (``subscribe_queue``) only to the event types some endpoint wants,
plus ``execution.queued`` to learn each execution's workflow id (for an execution queued before that subscription, or
forgotten since, ``workflow_of`` asks the live projection, and for one the live projection has let go of too, the
store is asked, in one query per batch). A burst is handled as one batch (one insert
transaction). If deliveries cannot keep up, the queue drops its oldest events and the loss is logged: the engine
is never held back by webhooks. With no endpoints there is no subscription at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence

from flowmon.delivery.endpoints import EndpointStore
from flowmon.engine.core.events import Event, EventType
from flowmon.engine.runtime.bus import EventBus, QueueSubscription
from flowmon.infra.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[Event], Mapping[str, str]], Awaitable[None]]
QUEUE_SIZE = 10_000
WORKFLOW_MEMORY = 10_000


StoredWorkflows = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]


class WorkflowNames:
    """Which workflow each execution runs, for the payloads: learnt from ``execution.queued`` events (the last
    :data:`WORKFLOW_MEMORY` executions), else asked of ``workflow_of`` (the live projection), else of ``stored``
    (the store: the live projection lets go of a run only once the recorder has written its end; a run dropped
    unwritten, after this process lost its lease, is in neither), else unknown."""

    def __init__(
        self, workflow_of: Callable[[str], str | None] | None = None, stored: StoredWorkflows | None = None
    ) -> None:
        self.known: OrderedDict[str, str] = OrderedDict()
        self._workflow_of = workflow_of
        self._stored = stored

    def learn(self, event: Event) -> None:
        workflow_id = event.data.get('workflow_id')
        if isinstance(workflow_id, str):
            self._remember(event.execution_id, workflow_id)

    async def look_up(self, events: Sequence[Event]) -> Mapping[str, str]:
        """The workflows of the executions of ``events`` (those that can be known), by execution id: a map of this
        batch's own (remembering one may make the memory forget another)."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for execution_id in dict.fromkeys(event.execution_id for event in events):
            known = self.known.get(execution_id)
            if known is None and self._workflow_of is not None:
                known = self._workflow_of(execution_id)
            if known:
                found[execution_id] = known
            else:
                missing.append(execution_id)
        if missing and self._stored is not None:
            try:
                found.update(await self._stored(missing))
            except Exception:  # the events still go out, their workflow said as unknown
                log.warning('webhook fan-out: the workflows of %d execution(s) could not be read', len(missing))
        for execution_id, workflow_id in found.items():
            self._remember(execution_id, workflow_id)
        return found

    def _remember(self, execution_id: str, workflow_id: str) -> None:
        self.known[execution_id] = workflow_id
        self.known.move_to_end(execution_id)  # the least recently used goes first
        if len(self.known) > WORKFLOW_MEMORY:
            self.known.popitem(last=False)


class EndpointFanout:
    """``names``: how the payloads learn each execution's workflow (see :class:`WorkflowNames`)."""

    def __init__(self, bus: EventBus, endpoints: EndpointStore, deliver: Deliver, names: WorkflowNames) -> None:
        self._bus = bus
        self._endpoints = endpoints
        self._deliver = deliver
        self._names = names
        self._subscription: QueueSubscription | None = None
        self._types: frozenset[str] = frozenset()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        self._endpoints.listeners.append(self.resubscribe)
        self.resubscribe()
        self._task = asyncio.get_running_loop().create_task(self._run(), name='webhook endpoint fan-out')

    async def stop(self) -> None:
        if self.resubscribe in self._endpoints.listeners:
            self._endpoints.listeners.remove(self.resubscribe)
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
        await cancel_and_wait(self._task)
        self._task = None

    def resubscribe(self) -> None:
        """Follow the endpoints' event types (call after any endpoint change)."""
        wanted = frozenset(
            event_type for endpoint in self._endpoints.cached_all() for event_type in endpoint.event_types
        )
        if wanted == self._types and (self._subscription is not None or not wanted):
            return
        self._types = wanted
        previous = self._subscription
        self._subscription = (
            self._bus.subscribe_queue(maxsize=QUEUE_SIZE, types=wanted | {EventType.EXECUTION_QUEUED.value})
            if wanted
            else None
        )
        if previous is not None:
            previous.unsubscribe()  # its reader still gets what it had buffered, then moves to the new one
        self._wake.set()

    async def _run(self) -> None:
        while True:
            subscription = self._subscription
            if subscription is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            reported = 0
            async for first in subscription:
                batch = [first, *subscription.drain()]
                if subscription.dropped > reported:
                    log.warning('webhook fan-out fell behind: %d event(s) dropped', subscription.dropped - reported)
                    self.dropped += subscription.dropped - reported
                    reported = subscription.dropped
                await self._handle(batch)

    async def _handle(self, batch: list[Event]) -> None:
        wanted: list[Event] = []
        for event in batch:
            if event.type == EventType.EXECUTION_QUEUED:
                self._names.learn(event)
            if event.type in self._types:
                wanted.append(event)
        if not wanted:
            return
        try:
            await self._deliver(wanted, await self._names.look_up(wanted))
        except Exception:
            log.exception('webhook fan-out: %d event(s) could not be queued for delivery', len(wanted))
