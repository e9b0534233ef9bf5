"""The delivery service's durability rules, with an in-memory HTTP stand-in (``httpx.MockTransport``).

Covered here: claims are exclusive, a lost wake-up is re-armed by the sweeper, start-up closes open attempts as
interrupted, expired leases are recovered, endpoint health (auto-disable, cancelled deliveries), and the bus events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from store_samples import run_events
from waiting import until

from flowmon.delivery import fanout
from flowmon.delivery.claims import Claim, ClaimMiss, preclaim
from flowmon.delivery.endpoints import EndpointSpec
from flowmon.delivery.fanout import WorkflowNames
from flowmon.delivery.limits import Limits
from flowmon.delivery.notify import WebhookEvent, WebhookEventType
from flowmon.delivery.policy import RetrySchedule
from flowmon.delivery.service import DeliveryConfig, DeliveryConflict, DeliveryService
from flowmon.engine.core.events import Event, EventType, utcnow
from flowmon.engine.nodes.webhook import OutboundWebhook
from flowmon.engine.runtime.bus import EventBus
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.timers import Timers
from flowmon.store import Database, EventRecorder
from flowmon.store.webhook_tables import deliveries

URL = 'https://hooks.example.com/in'


@dataclass
class Harness:
    database: Database
    bus: EventBus
    timers: Timers
    replies: list[Any] = field(default_factory=list)  # status codes or callables; then 200 for ever
    requests: list[httpx.Request] = field(default_factory=list)
    offset: timedelta = timedelta()
    services: list[DeliveryService] = field(default_factory=list)
    box: SecretBox = field(default_factory=lambda: SecretBox(new_key()))  # one key for every restart

    def clock(self) -> datetime:
        return utcnow() + self.offset

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else 200
        return reply(request) if callable(reply) else httpx.Response(reply)

    async def service(
        self,
        schedule: tuple[float, ...] = (0, 0.2, 0.4),
        workflow_of: Callable[[str], str | None] | None = None,
        **options: Any,
    ) -> DeliveryService:
        async def resolve(host: str, port: int) -> list[str]:
            return ['93.184.216.34']

        guard = OutboundGuard(resolver=resolve)
        client = guarded_client(guard, inner=httpx.MockTransport(self.handle))
        config = DeliveryConfig(schedule=RetrySchedule.of(schedule, jitter=0), **options)
        service = DeliveryService(
            db=self.database, bus=self.bus, timers=self.timers, guard=guard, client=client, config=config,
            box=self.box, clock=self.clock, workflow_of=workflow_of,
        )  # fmt: skip
        await service.start()
        self.services.append(service)
        return service


@pytest.fixture
async def harness(database: Database) -> AsyncIterator[Harness]:
    timers = Timers()
    timers.start()
    h = Harness(database=database, bus=EventBus(), timers=timers)
    yield h
    for service in h.services:
        await service.stop()
    timers.shutdown()


async def settle(service: DeliveryService, delivery_id: str) -> str:
    return (await asyncio.wait_for(service.wait_settled(delivery_id), 10)).status


async def _stored_row(service: DeliveryService, **options: Any) -> str:
    """A committed, due delivery that nothing has dispatched (as after a crash right after the commit)."""
    row = service.intake.row(source='api', body=b'{}', now=utcnow(), max_attempts=3, url=URL, **options)
    await service.ledger.insert([row])
    return str(row['id'])


async def retry_armed(service: DeliveryService, delivery_id: str) -> None:
    """Wait until the delivery's wake-up for its next attempt is armed (its first attempt failed)."""
    await until(lambda: service.timers.armed(f'wh:{delivery_id}'), f'the retry of {delivery_id} to be armed')


async def test_rows_stored_claimed_and_rows_left_waiting_share_one_batch(harness: Harness) -> None:
    """A first attempt that can start at once is stored claimed (its row names ``attempt_trigger``), the others are
    not: inserted in the same group commit, both kinds go in one transaction (not one transaction each after a
    failed batch)."""
    service = await harness.service()
    waiting = service.intake.row(source='api', body=b'{}', now=utcnow(), max_attempts=3, url=URL)
    claimed = service.intake.row(source='api', body=b'{}', now=utcnow(), max_attempts=3, url=URL)
    preclaim(claimed, now=utcnow(), lease_s=30)
    before = service.ledger.commits
    await asyncio.gather(service.ledger.insert([waiting]), service.ledger.insert([claimed]))
    assert service.ledger.commits == before + 1
    async with harness.database.engine.connect() as conn:
        stored = dict((await conn.execute(select(deliveries.c.id, deliveries.c.attempt_trigger))).all())
    assert stored == {waiting['id']: None, claimed['id']: 'first'}


async def test_concurrent_claims_send_an_attempt_once(harness: Harness) -> None:
    service = await harness.service()
    delivery_id = await _stored_row(service)
    claims = await asyncio.gather(
        *(service.ledger.claim(delivery_id, trigger='retry', now=utcnow(), lease_s=30, slack_s=0) for _ in range(5))
    )
    won = [claim for claim in claims if isinstance(claim, Claim)]
    assert len(won) == 1 and won[0].n == 1
    assert all(isinstance(claim, ClaimMiss) and claim.status == 'sending' for claim in claims if claim not in won)


async def test_a_claim_before_the_due_time_misses(harness: Harness) -> None:
    service = await harness.service()
    delivery_id = await _stored_row(service)
    early = await service.ledger.claim(
        delivery_id, trigger='retry', now=utcnow() - timedelta(seconds=5), lease_s=30, slack_s=0.05
    )
    assert isinstance(early, ClaimMiss) and early.status == 'pending'


async def test_a_lost_wake_up_is_re_armed_by_the_sweeper(harness: Harness) -> None:
    harness.replies = [503]
    service = await harness.service(schedule=(0, 1.5))  # not due before the sweep (it would send it, not arm it)
    queued = await service.enqueue(url=URL, body=b'{}')
    await retry_armed(service, queued.id)
    service.timers.disarm(f'wh:{queued.id}')  # the wake-up is lost
    await service.sweep()
    assert service.timers.armed(f'wh:{queued.id}')
    assert await settle(service, queued.id) == 'succeeded'
    assert len(harness.requests) == 2


async def test_startup_closes_open_attempts_as_interrupted_and_retries(harness: Harness) -> None:
    first = await harness.service()
    delivery_id = await _stored_row(first)
    claim = await first.ledger.claim(delivery_id, trigger='first', now=utcnow(), lease_s=30, slack_s=0)
    assert isinstance(claim, Claim)  # 'sending', attempt open: then the process dies
    await first.stop()

    second = await harness.service(schedule=(0, 0.05))  # start-up recovery
    assert await settle(second, delivery_id) == 'succeeded'
    detail = await second.queries.get(delivery_id)
    assert detail is not None
    assert [(a.n, a.error_class) for a in detail.attempts] == [(1, 'interrupted'), (2, None)]
    assert detail.attempts[0].ended_at is not None and detail.attempts[0].retryable


async def test_an_expired_lease_is_recovered_by_the_sweeper(harness: Harness) -> None:
    service = await harness.service(schedule=(0, 0.05))
    delivery_id = await _stored_row(service)
    claim = await service.ledger.claim(delivery_id, trigger='first', now=utcnow(), lease_s=-1, slack_s=0)
    assert isinstance(claim, Claim)
    version = service.version
    service.runner.arm = lambda *args: None  # type: ignore[method-assign]  # the recovery alone, no attempt yet
    await service.sweep()
    assert service.version > version  # pages read again: the delivery is retrying, no longer sending
    del service.runner.arm
    await service.sweep()
    assert await settle(service, delivery_id) == 'succeeded'
    detail = await service.queries.get(delivery_id)
    assert detail is not None and detail.attempts[0].error_class == 'interrupted'


async def test_endpoint_is_disabled_when_exhaustions_span_the_configured_time(harness: Harness) -> None:
    service = await harness.service(schedule=(0,), disable_after_s=10)
    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    events: list[WebhookEvent] = []
    service.notifier.subscribe(events.append, types=[WebhookEventType.ENDPOINT_DISABLED.value])

    async def deliver() -> str:
        queued = await service.submit(OutboundWebhook(body=b'{}', endpoint_id=endpoint.id))
        return await settle(service, queued.delivery_id)

    harness.replies = [503]
    assert await deliver() == 'exhausted'
    state = await service.endpoints.get(endpoint.id)
    assert state is not None and state.enabled and state.first_exhausted_at is not None
    assert await deliver() == 'succeeded'  # any success clears the failure clock
    state = await service.endpoints.get(endpoint.id)
    assert state is not None and state.first_exhausted_at is None

    harness.replies = [503, 503]
    assert await deliver() == 'exhausted'
    harness.offset = timedelta(seconds=11)
    assert await deliver() == 'exhausted'
    state = await service.endpoints.get(endpoint.id)
    assert state is not None and not state.enabled and 'exhausted' in (state.disabled_reason or '')
    assert [event.data['reason'] for event in events] == [state.disabled_reason]

    enabled = await service.endpoints.set_enabled(endpoint.id, True)
    assert enabled.enabled and enabled.disabled_reason is None and enabled.first_exhausted_at is None


async def test_a_delivery_to_an_endpoint_disabled_meanwhile_is_cancelled_unsent(harness: Harness) -> None:
    service = await harness.service()
    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    row = service.intake.row(source='endpoint', body=b'{}', now=utcnow(), max_attempts=3, endpoint=endpoint)
    await service.ledger.insert([row])
    await service.endpoints.set_enabled(endpoint.id, False)
    miss = await service.ledger.claim(row['id'], trigger='first', now=utcnow(), lease_s=30, slack_s=0)
    assert isinstance(miss, ClaimMiss) and miss.cancelled_now
    record = await service.queries.record(row['id'])
    assert record is not None and record.status == 'cancelled' and record.status_reason == 'endpoint_disabled'
    assert record.attempts == 0 and harness.requests == []
    with pytest.raises(DeliveryConflict, match='disabled'):
        await service.redeliver(row['id'])


async def test_a_test_event_has_one_attempt_and_each_redelivery_adds_one(harness: Harness) -> None:
    service = await harness.service()  # (three attempts for anything else)
    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    harness.replies = [503, 503]  # the test event and its first redelivery fail, the second succeeds
    delivery_id = (await service.send_test(endpoint.id)).id
    for expected in (('exhausted', 1, 1), ('exhausted', 2, 2), ('succeeded', 3, 3)):
        if expected[1] > 1:
            await service.redeliver(delivery_id)
        await settle(service, delivery_id)
        shown = (await service.queries.record(delivery_id) or pytest.fail('gone')).to_json()  # as the API gives it
        assert (shown['status'], shown['attempt_count'], shown['max_attempts']) == expected
    assert len(harness.requests) == 3


async def test_cancel_a_waiting_delivery(harness: Harness) -> None:
    harness.replies = [503]
    service = await harness.service(schedule=(0, 30))
    queued = await service.enqueue(url=URL, body=b'{}')
    await retry_armed(service, queued.id)
    waiter = asyncio.ensure_future(service.wait_settled(queued.id))
    await service.cancel(queued.id)
    assert (await asyncio.wait_for(waiter, 5)).status == 'cancelled'
    assert not service.timers.armed(f'wh:{queued.id}')
    with pytest.raises(DeliveryConflict):
        await service.cancel(queued.id)


async def test_every_way_a_delivery_ends_cancelled_tells_the_listeners(harness: Harness) -> None:
    harness.replies = [503]
    service = await harness.service(schedule=(0, 30))
    cancelled: list[WebhookEvent] = []
    service.notifier.subscribe(cancelled.append, types=[WebhookEventType.CANCELLED.value])
    by_user = await service.enqueue(url=URL, body=b'{}')  # fails once, then waits 30 s for its retry
    await retry_armed(service, by_user.id)
    await service.cancel(by_user.id)

    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    waiting = service.intake.row(source='endpoint', body=b'{}', now=utcnow(), max_attempts=3, endpoint=endpoint)
    await service.ledger.insert([waiting])
    await service.endpoints.set_enabled(endpoint.id, False)
    service.runner.dispatch(waiting['id'], 'first', None)  # its claim finds the endpoint disabled
    assert await settle(service, waiting['id']) == 'cancelled'
    failed = Event(execution_id='e1', seq=1, type=EventType.EXECUTION_FAILED, ts=utcnow(), data={'error': 'x'})
    await service.deliver_events([failed], {'e1': 'wf'})  # queued for a disabled endpoint: cancelled at once

    assert [event.data['delivery_id'] for event in cancelled[:2]] == [by_user.id, waiting['id']]
    assert [event.data['reason'] for event in cancelled] == [
        'cancelled by a user',
        'endpoint_disabled',
        'endpoint_disabled',
    ]
    assert cancelled[2].data['execution_id'] == 'e1'


async def test_response_logging_keeps_two_kib_and_base64_for_binary(harness: Harness) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.content == b'"text"':
            return httpx.Response(400, content='é'.encode() * 5000, headers={'X-Other': '1'})
        return httpx.Response(400, content=bytes(range(256)) * 10)

    harness.replies = [reply, reply]
    service = await harness.service()
    text = await service.enqueue(url=URL, body=b'"text"')
    binary = await service.enqueue(url=URL, body=b'"binary"')
    assert await settle(service, text.id) == 'failed' and await settle(service, binary.id) == 'failed'
    text_attempt = (await service.queries.get(text.id)).attempts[0]  # type: ignore[union-attr]
    assert text_attempt.response_body_prefix == 'é' * 1024
    assert 'x-other' not in text_attempt.response_headers
    binary_attempt = (await service.queries.get(binary.id)).attempts[0]  # type: ignore[union-attr]
    assert (binary_attempt.response_body_prefix or '').startswith('base64:')


async def test_endpoint_fan_out_follows_the_bus_without_a_subscription_when_unused(harness: Harness) -> None:
    service = await harness.service()
    baseline = harness.bus.subscriber_count
    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    assert harness.bus.subscriber_count == baseline + 1
    now = utcnow()
    harness.bus.publish(
        Event(execution_id='e1', seq=1, type=EventType.EXECUTION_QUEUED, ts=now, data={'workflow_id': 'wf'})
    )
    harness.bus.publish(Event(execution_id='e1', seq=2, type=EventType.EXECUTION_STARTED, ts=now))
    harness.bus.publish(
        Event(execution_id='e1', seq=3, type=EventType.EXECUTION_FAILED, ts=now, data={'error': 'boom', 'input': 'x'})
    )
    await until(lambda: harness.requests, 'the endpoint to be called')
    (request,) = harness.requests
    payload = json.loads(request.content)
    assert payload['type'] == 'execution.failed'
    assert payload['data'] == {'execution_id': 'e1', 'workflow_id': 'wf', 'status': 'failed', 'error': 'boom'}
    await service.endpoints.delete(endpoint.id)
    assert harness.bus.subscriber_count == baseline


async def test_an_event_of_an_execution_queued_before_the_endpoint_names_its_workflow(harness: Harness) -> None:
    """The fan-out learns workflow ids from ``execution.queued`` events, which it sees only once an endpoint subscribes:
    an execution already running then (or one it has forgotten) is named by the live projection instead, and one the
    live projection has let go of too (it lets go of a run once its end is written) by the store."""
    workflows = {'e1': 'wf'}
    service = await harness.service(workflow_of=workflows.get)
    now = utcnow()
    harness.bus.publish(  # before any endpoint: nobody on the bus hears it
        Event(execution_id='e1', seq=1, type=EventType.EXECUTION_QUEUED, ts=now, data={'workflow_id': 'wf'})
    )
    written = run_events('e3', 'stored-wf', now, 'succeeded')  # ended and written; the projection holds it no more
    await EventRecorder(harness.database, EventBus()).write(written)
    await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.completed']))
    harness.bus.publish(Event(execution_id='e1', seq=2, type=EventType.EXECUTION_COMPLETED, ts=now, data={}))
    harness.bus.publish(Event(execution_id='e2', seq=2, type=EventType.EXECUTION_COMPLETED, ts=now, data={}))
    harness.bus.publish(written[-1])  # its last event, still on its way to the fan-out
    await until(lambda: len(harness.requests) == 3, 'the three events to be delivered')
    payloads = {json.loads(r.content)['data']['execution_id']: json.loads(r.content)['data'] for r in harness.requests}
    assert payloads['e1']['workflow_id'] == 'wf'
    assert payloads['e2']['workflow_id'] is None  # (unknown to the projection and the store: said as unknown)
    assert payloads['e3']['workflow_id'] == 'stored-wf'


async def test_a_batch_names_every_workflow_it_found_though_the_memory_forgets_some(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memory keeps the workflows of the executions used last: learning those of a batch may make it forget an
    older one, but never one the batch itself needs."""
    monkeypatch.setattr(fanout, 'WORKFLOW_MEMORY', 2)

    async def stored(execution_ids: Sequence[str]) -> Mapping[str, str]:
        return {execution_id: f'wf-{execution_id}' for execution_id in execution_ids if execution_id != 'e9'}

    names = WorkflowNames(None, stored=stored)
    now = utcnow()
    for execution_id in ('e1', 'e2'):
        names.learn(Event(execution_id=execution_id, seq=1, type=EventType.EXECUTION_QUEUED, ts=now,
                          data={'workflow_id': f'wf-{execution_id}'}))  # fmt: skip
    batch = [Event(execution_id=e, seq=2, type=EventType.EXECUTION_STARTED, ts=now) for e in ('e1', 'e3', 'e4', 'e9')]
    assert await names.look_up(batch) == {'e1': 'wf-e1', 'e3': 'wf-e3', 'e4': 'wf-e4'}
    assert list(names.known) == ['e3', 'e4']  # e2, unused, went first; then e1
    assert await names.look_up(batch[:1]) == {'e1': 'wf-e1'}  # asked of the store again


async def test_the_events_go_out_when_the_store_cannot_name_their_workflow() -> None:
    """The store's answer only names the workflow: if it cannot be read, the events are still delivered."""

    async def broken(execution_ids: Sequence[str]) -> Mapping[str, str]:
        raise ConnectionError('the database went away')

    names = WorkflowNames(None, stored=broken)
    now = utcnow()
    event = Event(execution_id='e1', seq=2, type=EventType.EXECUTION_COMPLETED, ts=now, data={})
    assert await names.look_up([event]) == {}
    names.learn(Event(execution_id='e1', seq=1, type=EventType.EXECUTION_QUEUED, ts=now, data={'workflow_id': 'wf'}))
    assert await names.look_up([event]) == {'e1': 'wf'}


async def test_delivery_events_reach_the_notifiers_listeners_not_the_execution_bus(harness: Harness) -> None:
    service = await harness.service(schedule=(0,))
    on_bus: list[Any] = []
    harness.bus.subscribe(on_bus.append)
    heard: list[WebhookEvent] = []
    unsubscribe = service.notifier.subscribe(heard.append, types=[WebhookEventType.QUEUED.value])
    harness.replies = [200]
    queued = await service.submit(OutboundWebhook(body=b'{}', url=URL))
    assert await settle(service, queued.delivery_id) == 'succeeded'
    assert [event.type for event in heard] == [WebhookEventType.QUEUED]
    assert heard[0].data['delivery_id'] == queued.delivery_id
    assert on_bus == []  # execution subscribers (recorder, projector) never see delivery events
    unsubscribe()
    await service.submit(OutboundWebhook(body=b'{}', url=URL))
    assert len(heard) == 1


async def test_a_delivery_being_sent_moves_the_version(harness: Harness) -> None:
    """Pages re-read when the version moves: a claimed delivery is `sending` while its request is out."""
    service = await harness.service()
    seen: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(service.version)
        return httpx.Response(200)

    harness.replies = [reply]
    queued = await service.enqueue(url=URL, body=b'{}')
    after_enqueue = service.version
    assert await settle(service, queued.id) == 'succeeded'
    assert seen and seen[0] > after_enqueue


async def test_stats_are_cached_and_count_outstanding(harness: Harness) -> None:
    harness.replies = [503]
    service = await harness.service(schedule=(0, 30))
    queued = await service.enqueue(url=URL, body=b'{}')
    await retry_armed(service, queued.id)
    stats = await service.stats(max_age_s=0)
    assert stats.outstanding == 1 and stats.retrying == 1 and stats.success_rate_24h is None
    assert await service.stats() is await service.stats()  # cached within max_age


async def test_stats_read_while_a_delivery_changes_are_read_again(harness: Harness) -> None:
    """A delivery that changes while the figures are read (after the query saw the table) is counted by the next call:
    the cache keeps them under the version they were read at, not the one after."""
    service = await harness.service()
    read = service.queries.stats
    reads: list[object] = []

    async def read_while_a_delivery_changes(now: datetime) -> Any:
        found = await read(now)
        reads.append(found)
        if len(reads) == 1:
            service.notifier.changed()  # an attempt commits after the query read the table, before the figures return
        return found

    service.queries.stats = read_while_a_delivery_changes  # type: ignore[method-assign]
    await service.stats(max_age_s=3600)
    await service.stats(max_age_s=3600)
    assert len(reads) == 2, 'the figures read before the change were kept as current'
    await service.stats(max_age_s=3600)
    assert len(reads) == 2  # nothing changed since: cached


async def test_a_wake_up_that_is_already_late_still_fires() -> None:
    timers = Timers()
    timers.start()
    fired = asyncio.Event()

    async def job() -> None:
        fired.set()

    try:
        timers.arm('wh:late', utcnow() - timedelta(minutes=10), job)  # e.g. due while the process was down
        await asyncio.wait_for(fired.wait(), 5)  # misfire_grace_time=None: run, not dropped as missed
    finally:
        timers.shutdown()


async def test_limits_reserve_hand_over_in_order_and_forget_idle_destinations() -> None:
    limits = Limits(total=3, per_destination=2)
    assert limits.try_reserve('a') and limits.try_reserve('a')
    assert not limits.try_reserve('a')  # the destination is full
    assert limits.try_reserve('b')
    assert not limits.try_reserve('c')  # the total is full
    order: list[str] = []

    async def wait(name: str, key: str) -> None:
        await limits.reserve(key)
        order.append(name)

    first = asyncio.ensure_future(wait('first', 'a'))
    second = asyncio.ensure_future(wait('second', 'a'))
    await asyncio.sleep(0)  # both wait in line
    limits.release('a')
    await until(lambda: order, 'the first in line to get the place')
    assert order == ['first']
    limits.release('a')
    await until(lambda: len(order) == 2, 'the second in line to get the place')
    assert order == ['first', 'second']
    await asyncio.gather(first, second)
    for key in ('a', 'a', 'b'):
        limits.release(key)
    assert limits.in_use('a') == 0 and limits.in_use('b') == 0 and limits.total.used == 0
