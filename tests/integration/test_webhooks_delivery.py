"""Outbound delivery against real loopback receivers: retries, signatures, Retry-After, failures, refusals.

Every receiver listens on 127.0.0.1, which the tests allow-list. Refused destinations are never contacted: the guard
refuses before connecting, and these tests only assert the refusal.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from webhook_receiver import Receiver, Reply

from flowmon.delivery.notify import WebhookEvent
from flowmon.delivery.policy import RetrySchedule
from flowmon.delivery.service import DeliveryConfig, DeliveryService
from flowmon.engine.runtime.bus import EventBus
from flowmon.infra.outbound import OutboundGuard, OutboundRefused, guarded_client
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.timers import Timers
from flowmon.store import Database

MakeService = Callable[..., Awaitable[DeliveryService]]
BODY = {'type': 'test.event', 'data': {'n': 1, 'text': 'héllo'}}


@pytest.fixture
async def make_service(database: Database) -> AsyncIterator[tuple[MakeService, list[WebhookEvent]]]:
    timers = Timers()
    timers.start()
    bus = EventBus()
    events: list[WebhookEvent] = []
    wanted = ['webhook.queued', 'webhook.attempted', 'webhook.succeeded', 'webhook.failed']
    services: list[DeliveryService] = []

    async def make(schedule: tuple[float, ...] = (0, 0.2, 0.4, 0.8), timeout: float = 5.0, **options: Any):
        guard = OutboundGuard(['127.0.0.1'])
        client = guarded_client(guard, timeout=httpx.Timeout(timeout, connect=2.0))
        config = DeliveryConfig(schedule=RetrySchedule.of(schedule, jitter=0), timeout_s=timeout, **options)
        service = DeliveryService(
            db=database, bus=bus, timers=timers, guard=guard, client=client, config=config, box=SecretBox(new_key())
        )
        service.notifier.subscribe(events.append, types=wanted)
        await service.start()
        services.append(service)
        return service

    yield make, events
    for service in services:
        await service.stop()
    timers.shutdown()


async def settle(service: DeliveryService, delivery_id: str, timeout: float = 10.0) -> str:
    receipt = await asyncio.wait_for(service.wait_settled(delivery_id), timeout)
    return receipt.status


async def test_fails_n_times_then_delivers_on_attempt_n_plus_1_with_verifiable_signatures(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, events = make_service
    receiver = receivers([Reply(503), Reply(500), Reply(502)])
    service = await make(schedule=(0, 0.2, 0.4, 0.8, 1.6))
    queued = await service.enqueue(url=receiver.url, body=json.dumps(BODY).encode())

    assert await settle(service, queued.id) == 'succeeded'
    hits = receiver.hits
    assert len(hits) == 4  # N = 3 failures, delivered on attempt 4
    verifier = Webhook(queued.secret)
    for hit in hits:
        assert verifier.verify(hit.body, hit.headers) == BODY  # the reference library accepts every attempt
    assert {hit.headers['webhook-id'] for hit in hits} == {queued.webhook_id}
    assert len({hit.body for hit in hits}) == 1  # byte-identical body on every attempt
    detail = await service.queries.get(queued.id)
    assert detail is not None
    # each retry is planned by the schedule from the end of the attempt before it (no jitter here) ...
    logged = detail.attempts
    assert all(a.next_attempt_at is not None and a.ended_at is not None for a in logged[:-1])
    planned = [(a.next_attempt_at - a.ended_at).total_seconds() for a in logged[:-1]]  # type: ignore[operator]
    assert planned == pytest.approx([0.2, 0.4, 0.8], abs=1e-6)
    assert [a.planned_at for a in logged[1:]] == [a.next_attempt_at for a in logged[:-1]]
    assert logged[-1].next_attempt_at is None
    # ... and is never sent early. How late it comes depends on the machine's load (`make bench` measures the lag).
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(hits)]
    for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= delay, gaps
    for retry in logged[1:]:
        assert retry.planned_at is not None and retry.started_at >= retry.planned_at
    assert [a.status_code for a in detail.attempts] == [503, 500, 502, 200]
    assert [a.trigger for a in detail.attempts] == ['first', 'retry', 'retry', 'retry']
    assert detail.delivery.attempts == 4
    assert [e.type.value for e in events if e.data['delivery_id'] == queued.id].count('webhook.attempted') == 4
    assert 'webhook.succeeded' in [e.type.value for e in events]


async def test_retry_after_is_honoured(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    receiver = receivers([Reply(429, headers={'Retry-After': '1'})])
    service = await make(schedule=(0, 0.1, 0.1))
    queued = await service.enqueue(url=receiver.url, body=b'{}')

    assert await settle(service, queued.id) == 'succeeded'
    first, second = receiver.hits
    assert second.at - first.at >= 1.0  # Retry-After: 1 beats the 0.1 s schedule entry
    detail = await service.queries.get(queued.id)
    assert detail is not None and detail.attempts[0].retry_after_s == 1.0


async def test_a_400_fails_at_once_without_retry(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, events = make_service
    receiver = receivers([Reply(400, body=b'{"error":"bad"}')])
    service = await make()
    queued = await service.enqueue(url=receiver.url, body=b'{}')

    assert await settle(service, queued.id) == 'failed'
    assert len(receiver.hits) == 1
    record = await service.queries.record(queued.id)
    assert record is not None and record.next_attempt_at is None and record.last_status_code == 400
    assert not service.timers.armed(f'wh:{queued.id}')  # nothing will fire again
    detail = await service.queries.get(queued.id)
    assert detail is not None and detail.attempts[0].response_body_prefix == '{"error":"bad"}'
    assert 'webhook.failed' in [e.type.value for e in events]


async def test_a_timeout_is_retried(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    # the first reply comes long after the timeout; the timeout leaves the second attempt room on a busy machine
    receiver = receivers([Reply(200, delay=4.0)])
    service = await make(schedule=(0, 0.1), timeout=2.0)
    queued = await service.enqueue(url=receiver.url, body=b'{}')

    assert await settle(service, queued.id) == 'succeeded'
    detail = await service.queries.get(queued.id)
    assert detail is not None
    assert [a.error_class for a in detail.attempts] == ['timeout', None]
    assert [a.status_code for a in detail.attempts] == [None, 200]
    assert len({hit.headers['webhook-id'] for hit in receiver.hits}) == 1


async def test_exhausted_after_the_last_scheduled_attempt(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    receiver = receivers(lambda index: Reply(503))
    service = await make(schedule=(0, 0.05, 0.05))
    queued = await service.enqueue(url=receiver.url, body=b'{}')

    assert await settle(service, queued.id) == 'exhausted'
    assert len(receiver.hits) == 3


async def test_a_redirect_is_not_followed_and_fails_the_delivery(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    receiver = receivers([Reply(302, headers={'Location': 'http://10.0.0.1/internal'})])
    service = await make()
    queued = await service.enqueue(url=receiver.url, body=b'{}')

    assert await settle(service, queued.id) == 'failed'
    assert len(receiver.hits) == 1
    detail = await service.queries.get(queued.id)
    assert detail is not None and detail.attempts[0].response_headers['location'] == 'http://10.0.0.1/internal'


async def test_a_client_that_follows_redirects_is_still_refused_at_the_private_hop(
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers([Reply(307, headers={'Location': 'http://10.0.0.1/internal'})])
    async with guarded_client(OutboundGuard(['127.0.0.1'])) as client:
        with pytest.raises(OutboundRefused, match=r'10\.0\.0\.1'):
            await client.post(receiver.url, content=b'{}', follow_redirects=True)
    assert len(receiver.hits) == 1  # the loopback hop happened; the private one was refused before connecting


@pytest.mark.parametrize(
    'url', ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/hook', 'http://localhost:9/hook']
)
async def test_refused_destinations_are_rejected_before_any_row_or_connection(
    make_service: tuple[MakeService, list[WebhookEvent]], url: str
) -> None:
    from flowmon.engine.nodes.webhook import WebhookRejected

    make, _ = make_service
    service = await make()
    with pytest.raises(WebhookRejected, match='refused'):
        await service.enqueue(url=url, body=b'{}')
    items, total = await service.queries.page()
    assert total == 0 and items == []


async def test_a_name_that_resolves_to_a_private_address_fails_the_attempt_as_ssrf_blocked(
    database: Database,
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ['10.0.0.1']

    timers = Timers()
    timers.start()
    guard = OutboundGuard(['127.0.0.1'], resolver=resolver)

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError('the guard must refuse before any connection')

    client = guarded_client(guard, inner=httpx.MockTransport(never))
    config = DeliveryConfig(schedule=RetrySchedule.of((0, 0.1), jitter=0))
    service = DeliveryService(
        db=database, bus=EventBus(), timers=timers, guard=guard, client=client, config=config, box=SecretBox(new_key())
    )
    await service.start()
    try:
        queued = await service.enqueue(url='https://hooks.example.com/in', body=b'{}')
        assert await settle(service, queued.id) == 'failed'  # refused is permanent: no retry
        detail = await service.queries.get(queued.id)
        assert detail is not None and len(detail.attempts) == 1
        assert detail.attempts[0].error_class == 'ssrf_blocked'
        assert 'private address 10.0.0.1' in (detail.attempts[0].error_message or '')
    finally:
        await service.stop()
        timers.shutdown()


async def test_manual_redeliver_keeps_the_webhook_id(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    receiver = receivers([Reply(400)])
    service = await make()
    queued = await service.enqueue(url=receiver.url, body=b'{"x":1}')
    assert await settle(service, queued.id) == 'failed'

    await service.redeliver(queued.id)
    assert await settle(service, queued.id) == 'succeeded'
    assert [hit.headers['webhook-id'] for hit in receiver.hits] == [queued.webhook_id] * 2
    detail = await service.queries.get(queued.id)
    assert detail is not None and [a.trigger for a in detail.attempts] == ['first', 'manual']
    for hit in receiver.hits:
        Webhook(queued.secret).verify(hit.body, hit.headers)


async def test_at_most_four_concurrent_attempts_per_destination(
    make_service: tuple[MakeService, list[WebhookEvent]], receivers: Callable[..., Receiver]
) -> None:
    make, _ = make_service
    receiver = receivers(lambda index: Reply(200, delay=0.05))
    service = await make()
    queued = [await service.enqueue(url=receiver.url, body=b'{}') for _ in range(30)]
    for item in queued:
        assert await settle(service, item.id) == 'succeeded'
    assert len(receiver.hits) == 30
    assert receiver.max_in_flight <= 4
