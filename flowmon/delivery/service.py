"""The delivery service: durable, signed, retried webhook delivery with the database as the source of truth.

* A delivery row (exact body bytes, stable ``webhook-id``) is committed before anything is sent, and the first
  attempt starts at once. When a slot is free the row is stored already claimed for that attempt.
* Each attempt claims its row (conditional UPDATE), sends, and commits its outcome; only then is the next retry
  armed as an APScheduler date job (see :mod:`flowmon.delivery.attempts`).
* A sweeper (every 15 s) arms whatever is waiting without a wake-up and recovers attempts whose lease expired.
* At start-up, deliveries a crash left ``sending`` get their attempt logged ``interrupted`` and are retried.

Delivery is at-least-once with a stable ``webhook-id``; no ordering is guaranteed. The service is the engine's
``WebhookPort`` and offers what the API and pages need: lists, details, redeliver, cancel, endpoints, stats.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from flowmon.delivery.attempts import AttemptRunner, DeliveryConfig
from flowmon.delivery.claims import preclaim
from flowmon.delivery.endpoints import EndpointNotFound, EndpointStore
from flowmon.delivery.fanout import EndpointFanout, WorkflowNames
from flowmon.delivery.intake import Intake, encode_json, event_payload, test_payload
from flowmon.delivery.ledger import CANCELLED_RUN, Claimer, Ledger
from flowmon.delivery.notify import Notifier, WebhookEventType
from flowmon.delivery.policy import TERMINAL_STATUSES, TEST_EVENT_TYPE, DeliveryStatus, RetrySchedule, schedule_for
from flowmon.delivery.queries import DeliveryQueries, DeliveryRecord, WebhookStats, concurrency_key
from flowmon.delivery.run_cancels import CancelledRuns
from flowmon.delivery.sender import Sender
from flowmon.engine.core.events import Event, utcnow
from flowmon.engine.core.log_context import about
from flowmon.engine.nodes.webhook import OutboundWebhook, WebhookAuth, WebhookReceipt, WebhookRejected
from flowmon.engine.runtime.bus import EventBus
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.secretbox import SecretBox
from flowmon.infra.timers import Timers
from flowmon.settings import Settings
from flowmon.store.database import Database
from flowmon.store.history import History

log = logging.getLogger(__name__)

REDELIVERABLE = (*(str(status) for status in TERMINAL_STATUSES), DeliveryStatus.RETRYING.value)
SHARED_RECHECK_S = 1.0  # a wait for a delivery that another process may settle re-reads it this often


class DeliveryNotFound(LookupError):
    pass


class DeliveryConflict(RuntimeError):
    """The delivery's state does not allow the action (e.g. redelivering one that is being sent)."""


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
        box: SecretBox,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        claimer: Claimer | None = None,
        workflow_of: Callable[[str], str | None] | None = None,
    ) -> None:
        """``box`` seals the secrets and credentials of endpoints and deliveries in the database. ``claimer``: this
        process's id when processes share the database (each attempt records who claimed it; a process waiting for a
        delivery re-reads it every second, since another process may send it). ``workflow_of`` names the workflow of
        a live execution (the live projection's; the store names that of a run the projection let go of): the
        endpoints' event payloads carry it."""
        self.config, self.timers, self._clock, self._rand = config, timers, clock, rand
        self.ledger = Ledger(db, box, claimer=claimer)
        self.queries = DeliveryQueries(db, box)
        self.endpoints = EndpointStore(db, guard, box, clock=clock)
        self.intake = Intake(guard)
        self.notifier = Notifier(clock, recheck_s=None if claimer is None else SHARED_RECHECK_S)
        self.sender = Sender(client, timeout_s=config.timeout_s, clock=clock)
        self.runner = AttemptRunner(
            config=config, ledger=self.ledger, sender=self.sender, timers=timers, endpoints=self.endpoints,
            notifier=self.notifier, clock=clock, rand=rand,
        )  # fmt: skip
        self.fanout = EndpointFanout(
            bus, self.endpoints, self.deliver_events, WorkflowNames(workflow_of, stored=History(db).workflows_of)
        )
        self.cancelled_runs = CancelledRuns(bus, self.cancel_of_execution)
        self._stats: tuple[float, int, WebhookStats] | None = None

    @property
    def version(self) -> int:
        """Moves on every change to a delivery: a page re-reads only when it moved."""
        return self.notifier.version

    @property
    def fire_lags(self) -> deque[float]:
        """Seconds from each recent retry's due time to its claim (the retry firing lag)."""
        return self.runner.fire_lags

    def now(self) -> datetime:
        return self._clock()

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover what a crash left behind, arm everything waiting, then start the sweeper and the fan-out."""
        await self.endpoints.refresh()
        which: Literal['all', 'lost'] = 'lost' if self.ledger.shared else 'all'  # others may be sending now
        recovered = await self.ledger.recover(
            now=self._clock(), schedule=self.config.schedule, rand=self._rand, which=which
        )
        if recovered:
            log.warning('%d webhook attempt(s) were interrupted by the last shutdown; retrying', len(recovered))
        await self.sweep()
        self.timers.every('wh:sweep', self.config.sweep_interval_s, self.sweep)
        self.fanout.start()
        self.cancelled_runs.start()

    async def stop(self) -> None:
        await self.fanout.stop()
        await self.cancelled_runs.stop()
        await self.runner.stop()
        self.notifier.close()
        await self.ledger.stop()
        await self.sender.client.aclose()

    async def sweep(self) -> None:
        """Recover expired leases and arm every waiting delivery due within the horizon that has no wake-up."""
        now = self._clock()
        recovered = await self.ledger.recover(now=now, schedule=self.config.schedule, rand=self._rand, which='lost')
        if recovered:
            self.notifier.changed()
        for delivery_id, when in recovered:
            log.warning(
                'webhook delivery %s: attempt lease expired; retrying',
                delivery_id,
                extra=about(delivery_id=delivery_id),
            )
            self.runner.arm(delivery_id, when, None)
        horizon = now + timedelta(seconds=self.config.arm_horizon_s)
        for delivery_id, when, key in await self.queries.waiting(before=horizon, limit=self.config.max_tasks):
            if self.runner.armed(delivery_id):
                continue
            if when <= now:
                self.runner.dispatch(delivery_id, 'recovery', key)
            else:
                self.runner.arm(delivery_id, when, key)

    # --- intake ---------------------------------------------------------------------------------------

    async def enqueue(
        self,
        *,
        url: str,
        body: bytes,
        method: str = 'POST',
        headers: Mapping[str, str] | None = None,
        auth: WebhookAuth | None = None,
        secret: str | None = None,
    ) -> Queued:
        """An ad-hoc delivery (the API's ``POST /api/webhooks/deliveries``); signed with ``secret`` or a new one."""
        row = self.intake.row(
            source='api', body=body, now=self._clock(), max_attempts=self.config.schedule.max_attempts,
            url=url, method=method, headers=headers, auth=auth, secret=secret,
        )  # fmt: skip
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
            source='node', body=request.body, now=self._clock(), max_attempts=self.config.schedule.max_attempts,
            url=request.url, endpoint=endpoint, method=request.method, headers=request.headers, auth=request.auth,
            execution_id=request.execution_id, source_key=request.source_key, secret_values=request.secret_values,
        )  # fmt: skip
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
                row = self.intake.row(
                    source='endpoint', body=body, now=now, max_attempts=self.config.schedule.max_attempts,
                    endpoint=endpoint, event_type=str(event.type), execution_id=event.execution_id,
                )  # fmt: skip
                rows.append(row)
        await self._commit_and_dispatch(rows)

    async def send_test(self, endpoint_id: str) -> Queued:
        """A test event to an endpoint, as its subscriptions are sent (its URL, secret, auth and headers), in one
        attempt: the outcome says whether the receiver is reachable and accepts flowmon's signature. Refused for an
        unknown or disabled endpoint."""
        endpoint = await self.endpoints.get(endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(f'webhook endpoint {endpoint_id!r} not found')
        await self._require_enabled(endpoint_id)
        now = self._clock()
        body = encode_json(test_payload(endpoint_id, now))
        budget = schedule_for(TEST_EVENT_TYPE, self.config.schedule).max_attempts
        row = self.intake.row(
            source='test', body=body, now=now, max_attempts=budget, endpoint=endpoint, event_type=TEST_EVENT_TYPE,
        )  # fmt: skip
        await self._commit_and_dispatch([row])
        return Queued(id=row['id'], webhook_id=row['webhook_id'], status=row['status'], secret=None)

    async def _commit_and_dispatch(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        now, claimed = self._clock(), []
        queued_as = [row['status'] for row in rows]
        for row in rows:  # a first attempt that can start at once is stored already claimed
            key = concurrency_key(row['endpoint_id'], row['url'])
            if row['status'] == DeliveryStatus.PENDING.value and row['endpoint_id'] is None and self.runner.has_room:
                if self.runner.limits.try_reserve(key):
                    claim = preclaim(row, now=now, lease_s=self.config.lease_s, claimer=self.ledger.claimer)
                    claimed.append((claim, key))
        try:
            await self.ledger.insert(rows)  # committed: from here on the delivery survives a crash
        except BaseException:
            for _, key in claimed:
                self.runner.limits.release(key)
            raise
        self.notifier.changed()
        for claim, key in claimed:
            self.runner.start_claimed(claim, key)
        for row, status in zip(rows, queued_as, strict=True):
            self.notifier.publish(WebhookEventType.QUEUED, row, status=status)
            if status == DeliveryStatus.CANCELLED.value:  # for a disabled endpoint: settled before it started
                self.notifier.publish(WebhookEventType.CANCELLED, row, reason=row['status_reason'])
            if row['status'] == DeliveryStatus.PENDING.value:
                self.runner.dispatch(row['id'], 'first', concurrency_key(row['endpoint_id'], row['url']), known=row)

    # --- operator actions -----------------------------------------------------------------------------

    async def redeliver(self, delivery_id: str, *, trigger: str = 'manual') -> DeliveryRecord:
        """Send a finished (or retrying) delivery again now: same ``webhook-id``, same body, a fresh round of attempts
        (of one attempt for a test event: a redelivery adds one attempt to its budget)."""
        record = await self.queries.record(delivery_id)
        if record is None:
            raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
        if record.endpoint_id is not None:
            await self._require_enabled(record.endpoint_id)
        if not await self._requeue([delivery_id], trigger):
            raise DeliveryConflict(f'webhook delivery {delivery_id!r} is {record.status}; it is being delivered')
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
            await self._require_enabled(endpoint_id)
        ids = await self.queries.ids(status=wanted, endpoint_id=endpoint_id, since=since, until=until)
        return await self._requeue(ids, 'bulk')

    async def cancel_of_execution(self, execution_id: str) -> list[str]:
        """Cancel the deliveries of ``execution_id``'s nodes still waiting for an attempt (it was cancelled)."""
        cancelled = await self.ledger.cancel_of_execution(execution_id, reason=CANCELLED_RUN, now=self._clock())
        for delivery_id in cancelled:
            self.timers.disarm(f'wh:{delivery_id}')
            record = await self.queries.record(delivery_id)
            if record is not None:
                self.notifier.publish(WebhookEventType.CANCELLED, record.to_json(), reason=CANCELLED_RUN)
            self.notifier.settled(delivery_id)
        if cancelled:
            self.notifier.changed()
            log.info('%d delivery(ies) of cancelled execution %s cancelled', len(cancelled), execution_id)
        return cancelled

    async def cancel(self, delivery_id: str) -> None:
        """Cancel a delivery waiting for its next attempt."""
        if await self.ledger.cancel(delivery_id, reason='cancelled by a user', now=self._clock()):
            self.timers.disarm(f'wh:{delivery_id}')
            self.notifier.changed()
            record = await self.queries.record(delivery_id)
            if record is not None:
                self.notifier.publish(WebhookEventType.CANCELLED, record.to_json(), reason='cancelled by a user')
            self.notifier.settled(delivery_id)
            return
        if await self.queries.record(delivery_id) is None:
            raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
        raise DeliveryConflict(f'webhook delivery {delivery_id!r} is not waiting for an attempt')

    async def _require_enabled(self, endpoint_id: str) -> None:
        endpoint = await self.endpoints.get(endpoint_id)  # (one another process created a moment ago included)
        if endpoint is None:
            raise DeliveryConflict(f'endpoint {endpoint_id!r} was deleted: its deliveries cannot be sent again')
        if not endpoint.enabled:
            raise DeliveryConflict(f'endpoint {endpoint_id!r} is disabled; enable it first')

    async def _requeue(self, ids: list[str], trigger: str) -> list[str]:
        done = await self.ledger.requeue(
            ids, now=self._clock(), schedule=self.config.schedule, from_statuses=REDELIVERABLE
        )
        if done:
            self.notifier.changed()
        for delivery_id in done:
            self.timers.disarm(f'wh:{delivery_id}')
            self.runner.dispatch(delivery_id, trigger, None)
        return done

    # --- reads ----------------------------------------------------------------------------------------

    async def stats(self, *, max_age_s: float = 1.0) -> WebhookStats:
        """Success rate (24 h) and outstanding deliveries; cached while nothing changed, at most ``max_age_s``."""
        loop_now = asyncio.get_running_loop().time()
        if self._stats is not None:
            taken, version, stats = self._stats
            if version == self.version and loop_now - taken < max_age_s:
                return stats
        version = self.version  # before the read: a change committed while it runs makes the next call read again
        stats = await self.queries.stats(self._clock())
        self._stats = (loop_now, version, stats)
        return stats

    async def wait_settled(self, delivery_id: str) -> WebhookReceipt:
        """Wait until the delivery is ``succeeded``, ``failed``, ``exhausted`` or ``cancelled``."""

        async def check() -> WebhookReceipt | None:
            record = await self.queries.record(delivery_id)
            if record is None:
                raise DeliveryNotFound(f'webhook delivery {delivery_id!r} not found')
            if record.status not in TERMINAL_STATUSES:
                return None
            return WebhookReceipt(
                delivery_id=record.id, webhook_id=record.webhook_id, status=record.status,
                attempts=record.attempts, status_code=record.last_status_code, error=record.last_error,
            )  # fmt: skip

        return await self.notifier.wait(delivery_id, check)


def build_delivery_service(
    settings: Settings,
    *,
    db: Database,
    bus: EventBus,
    timers: Timers,
    guard: OutboundGuard,
    box: SecretBox,
    claimer: Claimer | None = None,
    workflow_of: Callable[[str], str | None] | None = None,
) -> DeliveryService:
    """The delivery service as the app runs it: settings-driven policy, its own guarded HTTP client."""
    config = DeliveryConfig(
        schedule=RetrySchedule.of(settings.retry_schedule, settings.webhook_jitter),
        timeout_s=settings.webhook_timeout,
        disable_after_s=settings.webhook_disable_after,
    )
    timeout = httpx.Timeout(config.timeout_s, connect=min(5.0, config.timeout_s))
    client = guarded_client(guard, timeout=timeout, max_connections=config.max_in_flight)
    return DeliveryService(
        db=db, bus=bus, timers=timers, guard=guard, client=client, config=config, box=box, claimer=claimer,
        workflow_of=workflow_of,
    )  # fmt: skip


__all__ = ['DeliveryConfig', 'DeliveryConflict', 'DeliveryNotFound', 'DeliveryService', 'Queued']
