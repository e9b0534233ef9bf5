"""Bounded history: pruning what the retention settings no longer keep, at start-up and every interval.

``FLOWMON_RETENTION_DAYS`` (0 keeps everything) and ``FLOWMON_RETENTION_MAX_EXECUTIONS`` (0: no limit) say what
stays; a pruning deletes the finished executions past them (never a queued or running one) with their events and
node runs, the webhook deliveries in a final state older than the horizon with their attempts, and the workflow
snapshots no execution refers to any more, then gives the freed space back (SQLite: incremental vacuum), all in
paced steps (:mod:`flowmon.store.retention`). It runs as a job on the process's timers: once at start-up, then
``FLOWMON_RETENTION_INTERVAL`` seconds after the previous pruning ended (so two never overlap). Each deleted
execution leaves the live projection and the replay cache as soon as its history can no longer be opened. The
last result is kept for ``GET /api/status``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.infra.timers import Timers
from flowmon.store.retention import PruneCounts, Pruner, RetentionPolicy

from .history import ExecutionHistory

log = logging.getLogger(__name__)

JOB_ID = 'retention:prune'
MAX_INTERVAL_S = 10 * 365 * 86_400  # a longer interval is taken as this (APScheduler's dates end in 9999)


@dataclass(frozen=True, kw_only=True, slots=True)
class PruneResult:
    """What one pruning did: when, how long, the rows it deleted by table, the pages it gave back, its steps (and
    the longest one), and the error that ended it early, if one did."""

    started_at: datetime
    finished_at: datetime
    duration_ms: float
    counts: PruneCounts
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            'started_at': self.started_at.isoformat(),
            'finished_at': self.finished_at.isoformat(),
            'duration_ms': self.duration_ms,
            'deleted': self.counts.rows(),
            'pages_given_back': self.counts.pages_given_back,
            'steps': self.counts.steps,
            'longest_step_ms': self.counts.longest_step_ms,
            'error': self.error,
        }


@dataclass(eq=False, kw_only=True)
class Retention:
    """The pruning job and its last result."""

    pruner: Pruner
    policy: RetentionPolicy
    interval_s: int
    timers: Timers
    history: ExecutionHistory
    clock: Callable[[], datetime] = utcnow
    deliveries_pruned: Callable[[], None] = lambda: None  # the deliveries' pages read again
    last: PruneResult | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)

    def settings(self) -> dict[str, Any]:
        """The retention settings, as ``GET /api/status`` shows them."""
        return {
            'days': self.policy.days,
            'max_executions': self.policy.max_executions,
            'interval_seconds': self.interval_s,
        }

    def start(self) -> None:
        """Prune now (in the background) and then every interval."""
        self._stopping = False
        self._arm(self.clock())

    async def stop(self) -> None:
        """No pruning from now on; a pruning under way ends after its current step."""
        self._stopping = True
        self.timers.disarm(JOB_ID)
        async with self._lock:
            pass

    async def prune(self) -> PruneResult:
        """One pruning: executions, deliveries, snapshots, then the freed space. Not two at once."""
        async with self._lock:
            started, clock = self.clock(), time.perf_counter()
            counts, error = PruneCounts(), None
            try:
                await self._prune(started, counts)
            except Exception as exc:
                log.exception('retention: pruning failed; what was deleted stays deleted, the rest waits for next time')
                error = f'{type(exc).__name__}: {exc}'
            result = PruneResult(
                started_at=started,
                finished_at=self.clock(),
                duration_ms=round((time.perf_counter() - clock) * 1000, 3),
                counts=counts,
                error=error,
            )
            self.last = result
        if any(result.counts.rows().values()):
            log.info('retention: %s in %.0f ms', _summary(result.counts), result.duration_ms)
        return result

    async def _prune(self, now: datetime, counts: PruneCounts) -> None:
        await self.history.settle()  # node runs still to be written would outlive their executions
        stop = self._stopped
        policy = self.policy
        if not policy.keeps_everything:
            counts.add(await self.pruner.prune_executions(policy, now, self._forget, stop=stop))
        horizon = policy.horizon(now)
        if horizon is not None:
            pruned = await self.pruner.prune_deliveries(horizon, stop=stop)
            counts.add(pruned)
            if pruned.deliveries:
                self.deliveries_pruned()
        counts.add(await self.pruner.prune_snapshots(stop=stop))
        counts.add(await self.pruner.give_back_space(stop=stop))

    def _stopped(self) -> bool:
        return self._stopping

    def _forget(self, execution_ids: Sequence[str]) -> None:
        for execution_id in execution_ids:
            self.history.forget(execution_id)

    async def _job(self) -> None:
        try:
            await self.prune()
        finally:
            if not self._stopping:
                self._arm(self.clock() + timedelta(seconds=min(self.interval_s, MAX_INTERVAL_S)))

    def _arm(self, when: datetime) -> None:
        self.timers.arm(JOB_ID, when, self._job)


def _summary(counts: PruneCounts) -> str:
    parts = [f'deleted {counts.executions} execution(s) ({counts.events} events, {counts.node_runs} node runs)']
    if counts.deliveries:
        parts.append(f'{counts.deliveries} webhook deliveries ({counts.attempts} attempts)')
    if counts.snapshots:
        parts.append(f'{counts.snapshots} workflow snapshot(s)')
    parts.append(f'gave back {counts.pages_given_back} page(s) in {counts.steps} step(s)')
    return ', '.join(parts)
