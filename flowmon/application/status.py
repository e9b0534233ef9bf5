"""``GET /api/status``: how this flowmon process is doing, for an operator (``/api/health`` stays the cheap probe).

Everything here is read from what exists, when asked: the version and uptime, the database (its URL without the
password, its size), the recorder's backlog, the event loop's lag, connected browsers, the timers' jobs by kind
(counts and next run times, never a job's arguments), the retention settings and the last pruning.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flowmon.infra.timers import Timers
from flowmon.store.database import StorageSize

from .retention import Retention


@dataclass(frozen=True, kw_only=True)
class StatusSources:
    """Where the figures come from; each must be cheap (the size is one query, or a file's size)."""

    version: str
    database_url: str  # already without its password
    database_size: Callable[[], Awaitable[StorageSize]]
    recorder_backlog: Callable[[], int]
    loop_lag: Callable[[], float]
    connected_clients: Callable[[], int]
    executions_active: Callable[[], int]
    executions_queued: Callable[[], int]


class Status:
    def __init__(self, *, sources: StatusSources, timers: Timers, retention: Retention) -> None:
        self._sources = sources
        self._timers = timers
        self._retention = retention
        self._started = time.monotonic()

    def started(self) -> None:
        """Uptime counts from here (the composition root calls it once everything has started)."""
        self._started = time.monotonic()

    async def report(self) -> dict[str, Any]:
        sources = self._sources
        size = await sources.database_size()
        jobs = self._timers.kinds()
        last = self._retention.last
        return {
            'version': sources.version,
            'uptime_seconds': round(time.monotonic() - self._started, 3),
            'database': {'url': sources.database_url, 'size_bytes': size.bytes, 'free_bytes': size.free_bytes},
            'recorder_backlog_events': sources.recorder_backlog(),
            'event_loop_lag_seconds': round(sources.loop_lag(), 6),
            'connected_clients': sources.connected_clients(),
            'executions': {'active': sources.executions_active(), 'queued': sources.executions_queued()},
            'scheduler': {
                'jobs': sum(kind.count for kind in jobs.values()),
                'by_kind': {
                    name: {
                        'count': kind.count,
                        'next_run_at': kind.next_run_at.isoformat() if kind.next_run_at is not None else None,
                    }
                    for name, kind in sorted(jobs.items())
                },
            },
            'retention': {**self._retention.settings(), 'last_pruning': last.to_json() if last is not None else None},
        }
