"""The delivery service: durable, signed, retried webhook delivery with the database as the source of truth.

* A delivery row is committed before anything is sent; the first attempt is dispatched at once.
* Each attempt claims its row (conditional UPDATE), sends, and commits its outcome; only then is the next retry
  armed as an APScheduler date job (``wh:<id>``), and only when it is due within the arming horizon.
* A sweeper (every 15 s) arms whatever is waiting and not armed, and recovers attempts whose lease expired.
* At start-up, attempts left open by a crash are closed as ``interrupted`` and their deliveries retried.

Concurrency: at most ``max_in_flight`` attempts at once and ``per_destination`` per endpoint (or host).
Delivery is at-least-once with a stable ``webhook-id``; no ordering is guaranteed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from flowmon.engine.bus import EventBus
from flowmon.engine.events import Event, WebhookEvent, WebhookEventType, utcnow
from flowmon.engine.nodes.webhook import OutboundWebhook, WebhookAuth, WebhookReceipt, WebhookRejected
from flowmon.settings import Settings
from flowmon.store.database import Database

from .claims import Claim, ClaimMiss
from .endpoints import EndpointStore
from .fanout import EndpointFanout
from .guard import OutboundGuard, guarded_client
from .intake import Intake, encode_json, event_payload
from .ledger import Ledger
from .policy import TERMINAL_STATUSES, DeliveryStatus, RetrySchedule, classify, decide
from .queries import DeliveryQueries, DeliveryRecord, WebhookStats, concurrency_key
from .sender import Sender
from .timers import Timers

log = logging.getLogger(__name__)

REDELIVERABLE = (*(str(status) for status in TERMINAL_STATUSES), DeliveryStatus.RETRYING.value)


class DeliveryNotFound(LookupError):
    pass


class DeliveryConflict(RuntimeError):
    """The delivery's state does not allow the action (e.g. redelivering one that is being sent)."""


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

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            schedule=RetrySchedule.of(settings.retry_schedule, settings.webhook_jitter),
            timeout_s=settings.webhook_timeout,
            disable_after_s=settings.webhook_disable_after,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Queued:
    id: str
    webhook_id: str
    status: str
    secret: str | None = None  # only when flowmon generated it for this delivery


class DeliveryService:
    """Implements the engine's ``WebhookPort`` and everything the API and pages do with deliveries."""

    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        timers: Timers,
        guard: OutboundGuard,
        client: httpx.AsyncClient,
        config: DeliveryConfig,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config, self.timers, self._bus, self._clock, self._rand = config, timers, bus, clock, rand
        self.ledger = Ledger(db)
        self.queries = DeliveryQueries(db)
        self.endpoints = EndpointStore(db, guard, clock=clock)
        self.intake = Intake(guard)
        self.sender = Sender(client, timeout_s=config.timeout_s, clock=clock)
        self.fanout = EndpointFanout(bus, self.endpoints, self.deliver_events)
        self.version = 0  # bumped on every change: pages re-read only when it moved
        self.fire_lags: deque[float] = deque(maxlen=10_000)  # seconds between a retry's due time and its claim
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()
        self._global = asyncio.Semaphore(config.max_in_flight)
        self._per_destination: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._seq = 0
        self._stats: tuple[float, WebhookStats] | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover what a crash left behind, arm everything waiting, then start the sweeper and the fan-out."""
        await self.endpoints.refresh()
        recovered = await self.ledger.recover(
            now=self._clock(), schedule=self.config.schedule, rand=self._rand, expired_only=False
        )
        if recovered:
            log.warning('%d webhook attempt(s) were interrupted by the last shutdown; retrying', len(recovered))
        await self.sweep()
        self.timers.every('wh:sweep', self.config.sweep_interval_s, self.sweep)
        self.fanout.start()

    async def stop(self) -> None:
        await self.fanout.stop()
        for job_id in self.timers.job_ids('wh:'):
            self.timers.disarm(job_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()
        await self.ledger.stop()
        await self.sender.client.aclose()

    async def sweep(self) -> None:
        """Recover expired leases and arm every waiting delivery due within the horizon that has no wake-up."""
        now = self._clock()
        for delivery_id, when in await self.ledger.recover(
            now=now, schedule=self.config.schedule, rand=self._rand, expired_only=True
        ):
            log.warning('webhook delivery %s: attempt lease expired; retrying', delivery_id)
            self._arm(delivery_id, when, None)
        horizon = now + timedelta(seconds=self.config.arm_horizon_s)
        for delivery_id, when, key in await self.queries.waiting(before=horizon, limit=self.config.max_tasks):
            if delivery_id in self._inflight or self.timers.armed(f'wh:{delivery_id}'):
                continue
            if when <= now:
                self._dispatch(delivery_id, 'recovery', key)
            else:
                self._arm(delivery_id, when, key)

    # --- intake ---------------------------------------------------------------------------------------

    async def enqueue(
        self,
        *,
        url: str,
        body: bytes,
        method: str = 'POST',
        headers: dict[str, str] | None = None,
        auth: WebhookAuth | None = None,
        secret: str | None = None,
    ) -> Queued:
        """An ad-hoc delivery (the API's ``POST /api/webhooks/deliveries``); signed with ``secret`` or a new one."""
        row = self.intake.row(
            source='api',
            body=body,
            now=self._clock(),
            max_attempts=self.config.schedule.max_attempts,
            url=url,
            method=method,
            headers=headers,
            auth=auth,
            secret=secret,
        )
        await self._commit_and_dispatch([row])
        generated = None if secret else row['secret']
        return Queued(id=row['id'], webhook_id=row['webhook_id'], status=row['status'], secret=generated)

    async def submit(self, request: OutboundWebhook) -> WebhookReceipt:
        """The engine's port: a ``webhook`` node's delivery."""
        endpoint = None
        if request.endpoint_id is not None:
            endpoint = await self.endpoints.get(request.endpoint_id)
            if endpoint is None:
                raise WebhookRejected(f'webhook endpoint {request.endpoint_id!r} not found')
        row = self.intake.row(
            source='node',
            body=request.body,
            now=self._clock(),
            max_attempts=self.config.schedule.max_attempts,
            url=request.url,
            endpoint=endpoint,
            method=request.method,
            headers=request.headers,
            auth=request.auth,
            execution_id=request.execution_id,
            source_key=request.source_key,
        )
        await self._commit_and_dispatch([row])
        return WebhookReceipt(delivery_id=row['id'], webhook_id=row['webhook_id'], status=row['status'])

    async def deliver_events(self, events: Sequence[Event], workflows: Mapping[str, str]) -> None:
        """One delivery per (event, subscribed endpoint); disabled endpoints get ``cancelled`` rows."""
        now, rows = self._clock(), []
        for event in events:
            subscribers = self.endpoints.subscribed_to(str(event.type))
            if not subscribers:
                continue
            body = encode_json(event_payload(event, workflows.get(event.execution_id)))
            for endpoint in subscribers:
                rows.append(
                    self.intake.row(
                        source='endpoint',
                        body=body,
                        now=now,
                        max_attempts=self.config.schedule.max_attempts,
                        endpoint=endpoint,
                        event_type=str(event.type),
                        execution_id=event.execution_id,
                    )
                )
        await self._commit_and_dispatch(rows)

    async def _commit_and_dispatch(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        await self.ledger.insert(rows)  # committed: from here on the delivery survives a crash
        self.version += 1
        for row in rows:
            self._publish(WebhookEventType.QUEUED, row, status=row['status'])
            if row['status'] == DeliveryStatus.PENDING.value:
                self._dispatch(row['id'], 'first', concurrency_key(row['endpoint_id'], row['url']), known=row)

    # --- attempts -------------------------------------------------------------------------------------

    def _dispatch(
        self, delivery_id: str, trigger: str, key: str | None, *, known: Mapping[str, Any] | None = None
    ) -> None:
        if delivery_id in self._inflight or len(self._tasks) >= self.config.max_tasks:
            return  # already on its way, or too much queued in memory: the sweeper picks it up from the table
        self._inflight.add(delivery_id)
        task = asyncio.get_running_loop().create_task(
            self._run(delivery_id, trigger, key, known), name=f'webhook {delivery_id}'
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, delivery_id: str, trigger: str, key: str | None, known: Mapping[str, Any] | None) -> None:
        try:
            async with self._destination(key or delivery_id), self._global:
                await self._attempt(delivery_id, trigger, known)
        except asyncio.CancelledError:
            raise  # shutdown: a claimed row stays 'sending' and start-up recovery retries it
        except Exception:
            log.exception('webhook delivery %s: attempt crashed; the sweeper will retry it', delivery_id)
        finally:
            self._inflight.discard(delivery_id)

    async def _attempt(self, delivery_id: str, trigger: str, known: Mapping[str, Any] | None = None) -> None:
        now = self._clock()
        claim = await self.ledger.claim(
            delivery_id,
            trigger=trigger,
            now=now,
            lease_s=self.config.timeout_s + 30,
            slack_s=self.config.claim_slack_s,
            known=known,
        )
        if isinstance(claim, ClaimMiss):
            self._missed(delivery_id, claim)
            return
        if trigger == 'retry' and claim.planned_at is not None:
            self.fire_lags.append(max(0.0, (now - claim.planned_at).total_seconds()))
        outcome = await self.sender.send(claim)
        verdict = classify(outcome.status_code, outcome.error_class)
        decision = decide(
            self.config.schedule,
            attempt_in_round=claim.attempt_in_round,
            verdict=verdict,
            status_code=outcome.status_code,
            retry_after_s=outcome.retry_after_s,
            now=outcome.ended_at,
            rand=self._rand,
        )
        health = await self.ledger.finish(claim, outcome, decision, disable_after_s=self.config.disable_after_s)
        self.version += 1
        if health is not None:
            await self.endpoints.refresh()
        log.info(
            'webhook %s %s attempt %d -> %s in %.0f ms: %s',
            delivery_id,
            claim.webhook_id,
            claim.n,
            outcome.status_code or outcome.error_class,
            outcome.duration_ms,
            decision.status,
        )
        facts = {'attempt': claim.n, 'status_code': outcome.status_code, 'error_class': outcome.error_class}
        self._publish(WebhookEventType.ATTEMPTED, claim, status=decision.status.value, **facts)
        if decision.status is DeliveryStatus.RETRYING and decision.next_attempt_at is not None:
            self._arm(delivery_id, decision.next_attempt_at, concurrency_key(claim.endpoint_id, claim.url))
        elif decision.status in TERMINAL_STATUSES:
            self._publish(WebhookEventType(f'webhook.{decision.status.value}'), claim, **facts)
            self._settled(delivery_id)
        if health is not None and health.disabled_reason is not None:
            log.warning('webhook endpoint %s disabled: %s', claim.endpoint_id, health.disabled_reason)
            self._publish(WebhookEventType.ENDPOINT_DISABLED, claim, reason=health.disabled_reason)

    def _missed(self, delivery_id: str, miss: ClaimMiss) -> None:
        if miss.cancelled_now:
            self.version += 1
            self._settled(delivery_id)
        elif miss.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING) and miss.next_attempt_at is not None:
            self._arm(delivery_id, miss.next_attempt_at, None)  # woke early or was rescheduled: wait again

    def _arm(self, delivery_id: str, when: datetime, key: str | None) -> None:
        if (when - self._clock()).total_seconds() > self.config.arm_horizon_s:
            return  # far off: the sweeper arms it when it comes within the horizon
        self.timers.arm(f'wh:{delivery_id}', when, self._fire, delivery_id, key)

    async def _fire(self, delivery_id: str, key: str | None) -> None:
        self._dispatch(delivery_id, 'retry', key)

    @asynccontextmanager
    async def _destination(self, key: str) -> AsyncIterator[None]:
        semaphore, users = self._per_destination.get(key) or (asyncio.Semaphore(self.config.per_destination), 0)
        self._per_destination[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._per_destination[key]
            if users <= 1:
                del self._per_destination[key]
            else:
                self._per_destination[key] = (semaphore, users - 1)

    # --- operator actions -----------------------------------------------------------------------------

    async def redeliver(self, delivery_id: str, *, trigger: str = 'manual') -> DeliveryRecord:
        """Send a finished (or retrying) delivery again now: same ``webhook-id``, same body, a fresh schedule."""
        record = await self.queries.record(delivery_id)
        if record is None:
            raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
        if record.endpoint_id is not None:
            endpoint = await self.endpoints.get(record.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                raise DeliveryConflict(f'endpoint {record.endpoint_id!r} is disabled or deleted; enable it first')
        requeued = await self._requeue([delivery_id], trigger)
        if not requeued:
            raise DeliveryConflict(
                f'webhook delivery {delivery_id!r} is {record.status}; it is already being delivered'
            )
        return await self.queries.record(delivery_id) or record

    async def redeliver_many(
        self,
        *,
        statuses: Iterable[str] = ('failed', 'exhausted'),
        endpoint_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[str]:
        """Bulk redeliver (e.g. every ``exhausted`` delivery of an endpoint since T); returns the ids requeued."""
        wanted = [status for status in statuses if status in REDELIVERABLE]
        if endpoint_id is not None:
            endpoint = await self.endpoints.get(endpoint_id)
            if endpoint is None or not endpoint.enabled:
                raise DeliveryConflict(f'endpoint {endpoint_id!r} is disabled or deleted; enable it first')
        ids = await self.queries.ids(status=wanted, endpoint_id=endpoint_id, since=since, until=until)
        return await self._requeue(ids, 'bulk')

    async def cancel(self, delivery_id: str) -> None:
        if await self.ledger.cancel(delivery_id, reason='cancelled by a user', now=self._clock()):
            self.timers.disarm(f'wh:{delivery_id}')
            self.version += 1
            self._settled(delivery_id)
            return
        if await self.queries.record(delivery_id) is None:
            raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
        raise DeliveryConflict(f'webhook delivery {delivery_id!r} is not waiting for an attempt')

    async def _requeue(self, ids: list[str], trigger: str) -> list[str]:
        done = await self.ledger.requeue(
            ids, now=self._clock(), max_attempts=self.config.schedule.max_attempts, from_statuses=REDELIVERABLE
        )
        if done:
            self.version += 1
        for delivery_id in done:
            self.timers.disarm(f'wh:{delivery_id}')
            self._dispatch(delivery_id, trigger, None)
        return done

    # --- reads ----------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    async def stats(self, *, max_age_s: float = 1.0) -> WebhookStats:
        """Success rate (24 h) and outstanding deliveries; cached for ``max_age_s`` so pages can poll it."""
        loop_now = asyncio.get_running_loop().time()
        if self._stats is not None and loop_now - self._stats[0] < max_age_s:
            return self._stats[1]
        stats = await self.queries.stats(self._clock())
        self._stats = (loop_now, stats)
        return stats

    async def wait_settled(self, delivery_id: str) -> WebhookReceipt:
        """Wait until the delivery is ``succeeded``, ``failed``, ``exhausted`` or ``cancelled``."""
        while True:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(delivery_id, []).append(future)
            record = await self.queries.record(delivery_id)
            if record is None:
                raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
            if record.status in TERMINAL_STATUSES:
                self._drop_waiter(delivery_id, future)
                return WebhookReceipt(
                    delivery_id=record.id,
                    webhook_id=record.webhook_id,
                    status=record.status,
                    attempts=record.attempts,
                    status_code=record.last_status_code,
                    error=record.last_error,
                )
            try:
                await future
            finally:
                self._drop_waiter(delivery_id, future)

    def _drop_waiter(self, delivery_id: str, future: asyncio.Future[None]) -> None:
        futures = self._waiters.get(delivery_id, [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self._waiters.pop(delivery_id, None)

    def _settled(self, delivery_id: str) -> None:
        for future in self._waiters.pop(delivery_id, []):
            if not future.done():
                future.set_result(None)

    def _publish(self, event_type: WebhookEventType, source: Claim | dict[str, Any], **facts: Any) -> None:
        get = source.get if isinstance(source, dict) else lambda name: getattr(source, name)
        self._seq += 1
        data = {
            'delivery_id': get('id') if isinstance(source, dict) else source.delivery_id,
            'webhook_id': get('webhook_id'),
            'endpoint_id': get('endpoint_id'),
            'execution_id': get('execution_id'),
            'event_type': get('event_type'),
            **{key: (str(value) if hasattr(value, 'value') else value) for key, value in facts.items()},
        }
        self._bus.publish(WebhookEvent(type=event_type, seq=self._seq, ts=self._clock(), data=data))


def build_delivery_service(
    settings: Settings, *, db: Database, bus: EventBus, timers: Timers, guard: OutboundGuard
) -> DeliveryService:
    """The delivery service as the app runs it: settings-driven policy, its own guarded HTTP client."""
    config = DeliveryConfig.from_settings(settings)
    timeout = httpx.Timeout(config.timeout_s, connect=min(5.0, config.timeout_s))
    client = guarded_client(guard, timeout=timeout, max_connections=config.max_in_flight)
    return DeliveryService(db=db, bus=bus, timers=timers, guard=guard, client=client, config=config)
