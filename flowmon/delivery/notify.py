"""Telling the rest of the process what deliveries did: bus events, a change counter, settlement waiters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from flowmon.delivery.claims import Claim
from flowmon.engine.core.events import WebhookEvent, WebhookEventType
from flowmon.engine.nodes.webhook import WebhookReceipt
from flowmon.engine.runtime.bus import EventBus


class Notifier:
    """``version`` moves on every change (pages re-read only then); ``publish`` puts ``webhook.*`` events on the bus;
    :meth:`wait` lets a caller (the ``webhook`` node with ``wait``) sleep until a delivery settles."""

    def __init__(self, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self._bus = bus
        self._clock = clock
        self._seq = 0
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.version = 0

    def changed(self) -> None:
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
        self._bus.publish(WebhookEvent(type=event_type, seq=self._seq, ts=self._clock(), data=data))

    def settled(self, delivery_id: str) -> None:
        for future in self._waiters.pop(delivery_id, []):
            if not future.done():
                future.set_result(None)

    async def wait(self, delivery_id: str, check: Callable[[], Awaitable[WebhookReceipt | None]]) -> WebhookReceipt:
        """Return ``check()``'s receipt as soon as it has one; ``check`` is re-run whenever the delivery settles."""
        while True:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(delivery_id, []).append(future)
            try:
                receipt = await check()
                if receipt is not None:
                    return receipt
                await future
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
