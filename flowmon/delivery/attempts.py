"""Running attempts: claim, send, record the outcome, and only then arm the next retry.

Each attempt is an asyncio task holding a concurrency slot (overall and per destination). A retry is an APScheduler
date job ``wh:<delivery id>`` armed after the outcome is committed, and only when it is due within the arming
horizon (the sweeper arms later ones). A wake-up that finds its delivery not due, or already taken, changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowmon.delivery.claims import Claim, ClaimMiss
from flowmon.delivery.endpoints import EndpointStore
from flowmon.delivery.ledger import Ledger
from flowmon.delivery.limits import Limits
from flowmon.delivery.notify import Notifier, WebhookEventType
from flowmon.delivery.policy import TERMINAL_STATUSES, DeliveryStatus, RetrySchedule, classify, decide, schedule_for
from flowmon.delivery.queries import concurrency_key
from flowmon.delivery.sender import Sender
from flowmon.engine.core import log_context
from flowmon.infra.timers import Timers

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    schedule: RetrySchedule
    timeout_s: float = 15.0
    disable_after_s: float = 5 * 86_400
    sweep_interval_s: float = 15.0
    arm_horizon_s: float = 900.0
    max_in_flight: int = 64
    per_destination: int = 4
    max_tasks: int = 10_000
    claim_slack_s: float = 0.05

    @property
    def lease_s(self) -> float:
        """How long a claim may stay ``sending`` before the sweeper assumes the attempt was lost."""
        return self.timeout_s + 30


class AttemptRunner:
    def __init__(
        self,
        *,
        config: DeliveryConfig,
        ledger: Ledger,
        sender: Sender,
        timers: Timers,
        endpoints: EndpointStore,
        notifier: Notifier,
        clock: Callable[[], datetime],
        rand: Callable[[], float],
    ) -> None:
        self.config = config
        self._ledger, self._sender, self._timers, self._endpoints = ledger, sender, timers, endpoints
        self._notify, self._clock, self._rand = notifier, clock, rand
        self.limits = Limits(config.max_in_flight, config.per_destination)
        self.fire_lags: deque[float] = deque(maxlen=10_000)  # seconds from a retry's due time to its claim
        self.inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def has_room(self) -> bool:
        return len(self._tasks) < self.config.max_tasks

    def dispatch(
        self, delivery_id: str, trigger: str, key: str | None, *, known: Mapping[str, Any] | None = None
    ) -> None:
        """Attempt the delivery as soon as a slot is free (unless it is already on its way, or memory is full:
        then the sweeper picks it up from the table)."""
        if delivery_id in self.inflight or not self.has_room:
            return
        self._spawn(delivery_id, self._claim_and_send(delivery_id, trigger, key or delivery_id, known))

    def start_claimed(self, claim: Claim, key: str) -> None:
        """Send a delivery stored already claimed, whose slot for ``key`` was reserved with ``limits.try_reserve``."""
        self._spawn(claim.delivery_id, self._send_claimed(claim, key))

    def arm(self, delivery_id: str, when: datetime, key: str | None) -> None:
        if (when - self._clock()).total_seconds() > self.config.arm_horizon_s:
            return  # far off: the sweeper arms it when it comes within the horizon
        self._timers.arm(f'wh:{delivery_id}', when, self._fire, delivery_id, key)

    def armed(self, delivery_id: str) -> bool:
        return delivery_id in self.inflight or self._timers.armed(f'wh:{delivery_id}')

    async def stop(self) -> None:
        for job_id in self._timers.job_ids('wh:'):
            self._timers.disarm(job_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # a claimed row stays 'sending': start-up recovery logs it interrupted and retries
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _fire(self, delivery_id: str, key: str | None) -> None:
        self.dispatch(delivery_id, 'retry', key)

    def _spawn(self, delivery_id: str, work: Any) -> None:
        self.inflight.add(delivery_id)
        task = asyncio.get_running_loop().create_task(work, name=f'webhook {delivery_id}')
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self.inflight.discard(delivery_id))

    async def _claim_and_send(self, delivery_id: str, trigger: str, key: str, known: Mapping[str, Any] | None) -> None:
        log_context.bind(delivery_id=delivery_id)  # a task of its own: its log lines are about this delivery
        await self.limits.reserve(key)
        slot = _Slot(self.limits, key)
        try:
            now = self._clock()
            claim = await self._ledger.claim(
                delivery_id, trigger=trigger, now=now, lease_s=self.config.lease_s,
                slack_s=self.config.claim_slack_s, known=known,
            )  # fmt: skip
            if isinstance(claim, ClaimMiss):
                self._missed(delivery_id, claim)
                return
            if trigger == 'retry' and claim.planned_at is not None:
                self.fire_lags.append(max(0.0, (now - claim.planned_at).total_seconds()))
            await self._send(claim, slot)
        except Exception:
            log.exception('webhook delivery %s: attempt crashed; the sweeper will retry it', delivery_id)
        finally:
            slot.release()

    async def _send_claimed(self, claim: Claim, key: str) -> None:
        slot = _Slot(self.limits, key)
        try:
            await self._send(claim, slot)
        except Exception:
            log.exception('webhook delivery %s: attempt crashed; the sweeper will retry it', claim.delivery_id)
        finally:
            slot.release()

    async def _send(self, claim: Claim, slot: _Slot) -> None:
        ids = log_context.about(delivery_id=claim.delivery_id, execution_id=claim.execution_id)
        log_context.bind(**ids)  # the attempt's own task: httpx's request line says which delivery it was
        self._notify.changed()  # claimed (committed): the delivery is sending
        outcome = await self._sender.send(claim)
        slot.release()  # the destination is done with us: recording the outcome need not hold its slot
        decision = decide(
            schedule_for(claim.event_type, self.config.schedule),
            attempt_in_round=claim.attempt_in_round,
            verdict=classify(outcome.status_code, outcome.error_class),
            status_code=outcome.status_code,
            retry_after_s=outcome.retry_after_s,
            now=outcome.ended_at,
            rand=self._rand,
        )
        health = await self._ledger.finish(claim, outcome, decision, disable_after_s=self.config.disable_after_s)
        # committed: everything below may now depend on the outcome
        if health is not None and health.disabled_reason is not None and claim.endpoint_id is not None:
            self._endpoints.mark_disabled(claim.endpoint_id, health.disabled_reason, outcome.ended_at)
        self._notify.changed()
        if health is not None:
            await self._endpoints.written()
        log.info(
            'webhook %s %s attempt %d -> %s in %.0f ms: %s', claim.delivery_id, claim.webhook_id, claim.n,
            outcome.status_code or outcome.error_class, outcome.duration_ms, decision.status.value, extra=ids,
        )  # fmt: skip
        facts = {'attempt': claim.n, 'status_code': outcome.status_code, 'error_class': outcome.error_class}
        self._notify.publish(WebhookEventType.ATTEMPTED, claim, status=decision.status, **facts)
        if decision.status is DeliveryStatus.RETRYING and decision.next_attempt_at is not None:
            self.inflight.discard(claim.delivery_id)  # this attempt is over: its wake-up may dispatch the next
            self.arm(claim.delivery_id, decision.next_attempt_at, concurrency_key(claim.endpoint_id, claim.url))
        elif decision.status in TERMINAL_STATUSES:
            self._notify.publish(WebhookEventType(f'webhook.{decision.status.value}'), claim, **facts)
            self._notify.settled(claim.delivery_id)
        if health is not None and health.disabled_reason is not None:
            log.warning('webhook endpoint %s disabled: %s', claim.endpoint_id, health.disabled_reason, extra=ids)
            self._notify.publish(WebhookEventType.ENDPOINT_DISABLED, claim, reason=health.disabled_reason)

    def _missed(self, delivery_id: str, miss: ClaimMiss) -> None:
        if miss.cancelled_now:
            self._notify.changed()
            if miss.row is not None:
                self._notify.publish(WebhookEventType.CANCELLED, miss.row, reason=miss.reason)
            self._notify.settled(delivery_id)
        elif miss.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING) and miss.next_attempt_at is not None:
            self.arm(delivery_id, miss.next_attempt_at, None)  # woke early or was rescheduled: wait again


class _Slot:
    """A reserved concurrency slot, released exactly once."""

    def __init__(self, limits: Limits, key: str) -> None:
        self._limits = limits
        self._key: str | None = key

    def release(self) -> None:
        if self._key is not None:
            self._limits.release(self._key)
            self._key = None
