"""In-process publish/subscribe for execution events.

``publish`` never blocks and never waits on a subscriber. Two kinds of subscriber:

* callbacks (``subscribe``): called synchronously for each matching event; they must be cheap (append
  to a batch, fold into a projection). An exception in one is logged and does not reach the engine.
* queues (``subscribe_queue``): a bounded buffer read with ``async for``; when a slow reader lets it
  fill, the oldest events are dropped and counted, so a view can resynchronise from state.

A subscriber that may not lose anything (the recorder) bounds its own backlog by registering a pressure
gauge: the engine awaits :meth:`EventBus.wait_ready` between steps, which waits only while a gauge says
its backlog is over the limit. Slow views never stall the engine; only durability can.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from flowmon.engine.core.events import Event

log = logging.getLogger(__name__)

Callback = Callable[[Event], None]
PressureGauge = Callable[[], bool]


@dataclass(frozen=True, kw_only=True, slots=True)
class EventFilter:
    """Which event types a subscriber wants; ``None`` means all."""

    types: frozenset[str] | None = None

    def matches(self, event: Event) -> bool:
        return self.types is None or event.type in self.types


class Subscription:
    """Handle returned by ``subscribe``; ``unsubscribe()`` (or leaving the ``with`` block) ends it."""

    def __init__(self, bus: EventBus, callback: Callback, event_filter: EventFilter) -> None:
        self._bus = bus
        self.callback = callback
        self.filter = event_filter

    def unsubscribe(self) -> None:
        self._bus._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()


class QueueSubscription(Subscription):
    """A bounded buffer of events for an async reader; drops the oldest when full."""

    def __init__(self, bus: EventBus, event_filter: EventFilter, maxsize: int) -> None:
        super().__init__(bus, self._offer, event_filter)
        self._buffer: deque[Event] = deque(maxlen=maxsize)
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(event)
        self._wakeup.set()

    def unsubscribe(self) -> None:
        super().unsubscribe()
        self._closed = True
        self._wakeup.set()

    def drain(self) -> list[Event]:
        """Take everything buffered now without waiting."""
        events = list(self._buffer)
        self._buffer.clear()
        return events

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            while self._buffer:
                yield self._buffer.popleft()
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()


class EventBus:
    """Fan-out of events to subscribers, in publish order."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        # What publish walks for every event: (types or None for all, callback) per subscription, rebuilt
        # whenever the subscriptions change (replaced, never mutated, so a publish in progress is unaffected).
        self._routes: tuple[tuple[frozenset[str] | None, Callback], ...] = ()
        self._gauges: list[PressureGauge] = []
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self,
        callback: Callback,
        *,
        types: Iterable[str] | None = None,
    ) -> Subscription:
        subscription = Subscription(self, callback, _filter(types))
        self._set_subscriptions([*self._subscriptions, subscription])
        return subscription

    def subscribe_queue(
        self,
        *,
        maxsize: int = 1000,
        types: Iterable[str] | None = None,
    ) -> QueueSubscription:
        subscription = QueueSubscription(self, _filter(types), maxsize)
        self._set_subscriptions([*self._subscriptions, subscription])
        return subscription

    def publish(self, event: Event) -> None:
        self.published += 1
        for types, callback in self._routes:
            if types is None or event.type in types:
                try:
                    callback(event)
                except Exception:
                    log.exception('event subscriber failed on %s #%s', event.type, event.seq)

    def add_pressure_gauge(self, gauge: PressureGauge) -> None:
        """Register a check that returns True while a lossless subscriber's backlog is too long."""
        self._gauges.append(gauge)

    def under_pressure(self) -> bool:
        for gauge in self._gauges:  # (the engine asks before every node attempt: no generator in between)
            if gauge():
                return True
        return False

    async def wait_ready(self, poll_seconds: float = 0.005) -> None:
        """Return at once unless a lossless subscriber is over its backlog limit; then wait for it."""
        while self.under_pressure():
            await asyncio.sleep(poll_seconds)

    def _remove(self, subscription: Subscription) -> None:
        self._set_subscriptions([s for s in self._subscriptions if s is not subscription])

    def _set_subscriptions(self, subscriptions: list[Subscription]) -> None:
        self._subscriptions = subscriptions
        self._routes = tuple((s.filter.types, s.callback) for s in subscriptions)


def _filter(types: Iterable[str] | None) -> EventFilter:
    return EventFilter(types=frozenset(types) if types is not None else None)
