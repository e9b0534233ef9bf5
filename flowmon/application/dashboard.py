"""The dashboard's numbers: today's executions from SQL (cached, shared by every open dashboard), webhooks, and the
database's size with the retention settings."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flowmon.delivery.records import WebhookStats
from flowmon.store.database import StorageSize
from flowmon.store.metrics import ExecutionMetrics, MetricsSnapshot, MinuteCount, utc_midnight
from flowmon.store.retention import RetentionPolicy

from .deliveries import Deliveries

__all__ = ['Dashboard', 'MetricsSnapshot', 'MinuteCount', 'Storage', 'utc_midnight']

STORAGE_MAX_AGE_S = 5.0  # the size is read again at most this often, however many dashboards are open


@dataclass(frozen=True, kw_only=True, slots=True)
class Storage:
    """How big the database is, and what retention keeps of it."""

    size: StorageSize
    policy: RetentionPolicy


class Dashboard:
    def __init__(
        self,
        *,
        metrics: ExecutionMetrics,
        deliveries: Deliveries,
        database_size: Callable[[], Awaitable[StorageSize]],
        retention: RetentionPolicy,
    ) -> None:
        self._metrics = metrics
        self._deliveries = deliveries
        self._database_size = database_size
        self._policy = retention
        self._storage: tuple[float, Storage] | None = None

    async def metrics(self) -> MetricsSnapshot:
        """Counts, rates and durations of today and the last hour; re-queried only when executions changed."""
        return await self._metrics.snapshot()

    async def webhook_stats(self) -> WebhookStats:
        return await self._deliveries.stats()

    async def storage(self) -> Storage:
        """The database's size (read again at most every few seconds) and the retention settings."""
        now = time.monotonic()
        if self._storage is None or now - self._storage[0] > STORAGE_MAX_AGE_S:
            self._storage = (now, Storage(size=await self._database_size(), policy=self._policy))
        return self._storage[1]
