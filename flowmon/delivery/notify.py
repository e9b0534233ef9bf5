"""Telling the rest of the process what deliveries did: ``webhook.*`` events, a change counter, settlement waiters.

Delivery events are not execution events: they go to the notifier's own listeners (metrics, tests), never on the
execution bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flowmon.delivery.claims import Claim
from flowmon.engine.nodes.webhook import WebhookReceipt

log = logging.getLogger(__name__)


class WebhookEventType(StrEnum):
    """What happened to a delivery (or its endpoint)."""

    QUEUED = 'webhook.queued'
    ATTEMPTED = 'webhook.attempted'
    SUCCEEDED = 'webhook.succeeded'
    FAILED = 'webhook.failed'
    EXHAUSTED = 'webhook.exhausted'
    CANCELLED = 'webhook.cancelled'
    ENDPOINT_DISABLED = 'webhook.endpoint_disabled'


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookEvent:
    """A fact about a webhook delivery; ``seq`` counts the delivery service's events in this process. The
    originating execution, if any, is in ``data``."""

    type: WebhookEventType
    seq: int
    ts: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def marshal(self) -> dict[str, Any]:
        return {'seq': self.seq, 'ts': self.ts.isoformat(), 'type': str(self.type), 'data': dict(self.data)}


Listener = Callable[[WebhookEvent], None]


class Notifier:
    """``version`` moves on every change (pages re-read only then); ``publish`` tells the listeners about
    ``webhook.*`` events; :meth:`wait` lets a caller (the ``webhook`` node with ``wait``) sleep until a delivery
    settles."""

    def __init__(self, clock: Callable[[], datetime], *, recheck_s: float | None = None) -> None:
        self.recheck_s = recheck_s
        self._listeners: list[tuple[Listener, frozenset[str] | None]] = []
        self._clock = clock
        self._seq = 0
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.version = 0
        # called after a change made here (other processes sharing the database then move their version too)
        self.announce: Callable[[], None] = lambda: None

    def changed(self) -> None:
        self.version += 1
        self.announce()

    def changed_elsewhere(self) -> None:
        """Another process changed a delivery: pages here read them again (nothing is announced back)."""
        self.version += 1

    def publish(self, event_type: WebhookEventType, source: Claim | Mapping[str, Any], **facts: Any) -> None:
        """A ``webhook.*`` event about the delivery in ``source`` (a claim or a delivery row); never secrets."""
        if isinstance(source, Claim):
            ids = (source.delivery_id, source.webhook_id, source.endpoint_id, source.execution_id, source.event_type)
        else:
            ids = (
                source['id'],
                source['webhook_id'],
                source['endpoint_id'],
                source['execution_id'],
                source['event_type'],
            )
        self._seq += 1
        data = dict(zip(('delivery_id', 'webhook_id', 'endpoint_id', 'execution_id', 'event_type'), ids, strict=True))
        data.update({key: (value.value if hasattr(value, 'value') else value) for key, value in facts.items()})
        event = WebhookEvent(type=event_type, seq=self._seq, ts=self._clock(), data=data)
        for listener, types in self._listeners:
            if types is None or event.type in types:
                try:
                    listener(event)
                except Exception:
                    log.exception('webhook event listener failed on %s', event.type)

    def subscribe(self, listener: Listener, types: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``listener`` (cheap and synchronous) for every event, or those of ``types``; returns the unsubscribe."""
        entry = (listener, None if types is None else frozenset(types))
        self._listeners = [*self._listeners, entry]

        def unsubscribe() -> None:
            self._listeners = [other for other in self._listeners if other is not entry]

        return unsubscribe

    def settled(self, delivery_id: str) -> None:
        for future in self._waiters.pop(delivery_id, []):
            if not future.done():
                future.set_result(None)

    async def wait(self, delivery_id: str, check: Callable[[], Awaitable[WebhookReceipt | None]]) -> WebhookReceipt:
        """Return ``check()``'s receipt as soon as it has one; ``check`` is re-run whenever the delivery settles here,
        and every :attr:`recheck_s` seconds when set (another process sharing the database may settle it)."""
        while True:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(delivery_id, []).append(future)
            try:
                receipt = await check()
                if receipt is not None:
                    return receipt
                await asyncio.wait((future,), timeout=self.recheck_s)
                if future.cancelled():  # the notifier closed
                    raise asyncio.CancelledError
            finally:
                futures = self._waiters.get(delivery_id, [])
                if future in futures:
                    futures.remove(future)
                if not futures:
                    self._waiters.pop(delivery_id, None)

    def close(self) -> None:
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()
