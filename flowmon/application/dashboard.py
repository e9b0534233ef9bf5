"""The dashboard's numbers: today's executions from SQL (cached, shared by every open dashboard) and webhooks."""

from __future__ import annotations

from flowmon.delivery.records import WebhookStats
from flowmon.store.metrics import ExecutionMetrics, MetricsSnapshot, MinuteCount, utc_midnight

from .deliveries import Deliveries

__all__ = ['Dashboard', 'MetricsSnapshot', 'MinuteCount', 'utc_midnight']


class Dashboard:
    def __init__(self, *, metrics: ExecutionMetrics, deliveries: Deliveries) -> None:
        self._metrics = metrics
        self._deliveries = deliveries

    async def metrics(self) -> MetricsSnapshot:
        """Counts, rates and durations of today and the last hour; re-queried only when executions changed."""
        return await self._metrics.snapshot()

    async def webhook_stats(self) -> WebhookStats:
        return await self._deliveries.stats()
