"""A run its user cancels takes its webhook nodes' unsent deliveries along.

A webhook node's delivery outlives the node: its retries follow the delivery schedule after the node has ended or
been cancelled. When the run is cancelled, the receiver must not act later on a message from it: every delivery of
that run's nodes still waiting for an attempt is cancelled (``status_reason`` ``execution_cancelled``; it can be
redelivered by hand, and a round started so is sent). One in the middle of an attempt finishes that attempt, and its
next is cancelled when it is claimed (:meth:`~flowmon.delivery.ledger.Ledger.claim` checks the run in a delivery's
first round). An interrupted run (a stop) keeps its
deliveries: nobody asked to cancel it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flowmon.engine.core.events import EventType
from flowmon.engine.runtime.bus import EventBus, QueueSubscription
from flowmon.infra.tasks import cancel_and_wait

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000  # cancelled runs waiting to be handled (one event each); past it the oldest are dropped


class CancelledRuns:
    """Follows ``execution.cancelled`` on the bus and calls ``cancel_deliveries(execution_id)`` for each."""

    def __init__(self, bus: EventBus, cancel_deliveries: Callable[[str], Awaitable[object]]) -> None:
        self._bus = bus
        self._cancel = cancel_deliveries
        self._subscription: QueueSubscription | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._subscription = self._bus.subscribe_queue(maxsize=QUEUE_SIZE, types={EventType.EXECUTION_CANCELLED.value})
        self._task = asyncio.get_running_loop().create_task(self._run(), name='deliveries of cancelled runs')

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        assert self._subscription is not None
        async for event in self._subscription:
            try:
                await self._cancel(event.execution_id)
            except Exception:  # the next attempt's claim still cancels them
                log.exception('the deliveries of cancelled execution %s could not be cancelled', event.execution_id)
