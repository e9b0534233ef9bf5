"""Store contract: the webhook ledger's claims, recovery and retries, inbound webhook-ids and endpoint secret
rotations, on both databases.

Two services on one database stand for two processes sharing it: each attempt is claimed by exactly one of them,
an attempt cut short is recovered once, a webhook-id starts one execution whichever of them receives it, and two
rotations of an endpoint's secret at once hand out only secrets that sign.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from flowmon.automation.triggers import Received, TriggerConflict, TriggerService
from flowmon.delivery import endpoints as endpoints_module
from flowmon.delivery import queries as queries_module
from flowmon.delivery.claims import Claim, ClaimMiss
from flowmon.delivery.endpoints import EndpointPatch, EndpointSpec, TooManyEndpoints
from flowmon.delivery.policy import RetrySchedule
from flowmon.delivery.service import DeliveryConfig, DeliveryService
from flowmon.engine.core.events import Event, EventType, utcnow
from flowmon.engine.nodes import default_registry
from flowmon.engine.nodes.webhook import OutboundWebhook, WebhookReceipt
from flowmon.engine.runtime.bus import EventBus
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.timers import Timers
from flowmon.store import Database, History, WorkflowCatalog
from flowmon.store.tables import ExecutionRow, ProcessRow
from flowmon.store.trigger_secrets import TriggerSecrets
from flowmon.store.webhook_tables import attempts, inbound

URL = 'https://hooks.example.com/in'
PROCESSES = ProcessRow.__table__  # type: ignore[attr-defined]
EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]


@dataclass
class Harness:
    """Delivery services on the database under test, sending to an in-memory receiver that counts requests."""

    open_database: Callable[[], Database]
    replies: list[int] = field(default_factory=list)  # status codes, then 200 for ever
    reply_body: bytes = b''  # the body of every answer
    requests: list[httpx.Request] = field(default_factory=list)
    box: SecretBox = field(default_factory=lambda: SecretBox(new_key()))
    services: list[DeliveryService] = field(default_factory=list)
    timers: list[Timers] = field(default_factory=list)
    buses: list[EventBus] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.replies.pop(0) if self.replies else 200, content=self.reply_body)

    async def service(self, *, claimer: str | None = None, schedule: tuple[float, ...] = (0, 0.2)) -> DeliveryService:
        async def resolve(host: str, port: int) -> list[str]:
            return ['93.184.216.34']

        guard = OutboundGuard(resolver=resolve)
        timers = Timers()
        timers.start()
        self.timers.append(timers)
        self.buses.append(EventBus())
        service = DeliveryService(
            db=self.open_database(), bus=self.buses[-1], timers=timers, guard=guard,
            client=guarded_client(guard, inner=httpx.MockTransport(self.handle)),
            config=DeliveryConfig(schedule=RetrySchedule.of(schedule, jitter=0)), box=self.box,
            claimer=None if claimer is None else lambda: claimer,
        )  # fmt: skip
        await service.start()
        self.services.append(service)
        return service


@pytest.fixture
async def harness(db: Database, open_database: Callable[[], Database]) -> AsyncIterator[Harness]:
    h = Harness(open_database)
    yield h
    for service in h.services:
        await service.stop()
    for timers in h.timers:
        timers.shutdown()


async def stored(service: DeliveryService, max_attempts: int = 3) -> str:
    """A committed, due delivery that nothing has dispatched yet."""
    row = service.intake.row(source='api', body=b'{"n":1}', now=utcnow(), max_attempts=max_attempts, url=URL)
    await service.ledger.insert([row])
    return str(row['id'])


async def settle(service: DeliveryService, delivery_id: str) -> str:
    return (await asyncio.wait_for(service.wait_settled(delivery_id), 10)).status


async def attempts_of(service: DeliveryService, delivery_id: str) -> tuple[str, int, int]:
    """The delivery's status and its ``Attempts n/m`` as the API and the ledger give them."""
    record = await service.queries.record(delivery_id)
    assert record is not None
    shown = record.to_json()
    return shown['status'], shown['attempt_count'], shown['max_attempts']


async def test_a_bulk_redelivery_gives_a_test_event_one_attempt_and_others_their_schedule(harness: Harness) -> None:
    service = await harness.service(schedule=(0, 0))  # (two attempts for anything but a test event)
    endpoint, _ = await service.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    harness.replies = [503, 503, 503]
    test_id = (await service.send_test(endpoint.id)).id
    assert await settle(service, test_id) == 'exhausted'
    other_id = (await service.submit(OutboundWebhook(body=b'{}', endpoint_id=endpoint.id))).delivery_id
    assert await settle(service, other_id) == 'exhausted'
    assert [await attempts_of(service, one) for one in (test_id, other_id)] == [
        ('exhausted', 1, 1),
        ('exhausted', 2, 2),
    ]

    harness.replies = [503, 503, 503]
    requeued = await service.redeliver_many(statuses=['exhausted'], endpoint_id=endpoint.id)
    assert sorted(requeued) == sorted([test_id, other_id])
    for delivery_id in requeued:
        await settle(service, delivery_id)
    assert await attempts_of(service, test_id) == ('exhausted', 2, 2)
    assert await attempts_of(service, other_id) == ('exhausted', 4, 4)
    assert len(harness.requests) == 6


async def test_racing_claims_from_two_processes_send_each_attempt_once(harness: Harness) -> None:
    a, b = await harness.service(claimer='process-a'), await harness.service(claimer='process-b')
    delivery_id = await stored(a)
    claims = await asyncio.gather(
        *(s.ledger.claim(delivery_id, trigger='retry', now=utcnow(), lease_s=30, slack_s=0) for s in (a, b) * 4)
    )
    won = [claim for claim in claims if isinstance(claim, Claim)]
    assert len(won) == 1 and won[0].n == 1
    record = await b.queries.record(delivery_id)
    assert record is not None and record.status == 'sending'


async def test_a_delivery_retried_by_either_process_is_attempted_once_per_attempt(harness: Harness) -> None:
    harness.replies = [503, 503]
    schedule = (0, 1.5, 0.1)  # attempt 2 is not due before b's sweep, however slow the machine (b would send it)
    a, b = await harness.service(claimer='a', schedule=schedule), await harness.service(claimer='b', schedule=schedule)
    queued = await a.enqueue(url=URL, body=b'{"n":2}')
    async with asyncio.timeout(5):
        while (record := await b.queries.record(queued.id)) is None or record.status != 'retrying':
            await asyncio.sleep(0.01)
    await b.sweep()  # b arms the retry as well: both wake up for attempt 2
    assert a.timers.armed(f'wh:{queued.id}') and b.timers.armed(f'wh:{queued.id}')
    assert await settle(a, queued.id) == 'succeeded'
    assert len(harness.requests) == 3
    detail = await b.queries.get(queued.id)
    assert detail is not None and [(x.n, x.status_code) for x in detail.attempts] == [(1, 503), (2, 503), (3, 200)]
    assert {r.headers['webhook-id'] for r in harness.requests} == {queued.webhook_id}


async def test_a_delivery_lists_its_latest_attempts_and_counts_them_all(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.replies = [503, 503, 503, 503]
    service = await harness.service(schedule=(0, 0, 0, 0, 0))
    queued = await service.enqueue(url=URL, body=b'{"n":5}')
    assert await settle(service, queued.id) == 'succeeded'
    detail = await service.queries.get(queued.id)
    assert detail is not None and [x.n for x in detail.attempts] == [1, 2, 3, 4, 5] and detail.attempts_total == 5
    monkeypatch.setattr(queries_module, 'MAX_ATTEMPTS_LISTED', 3)  # redelivering again and again has no end
    detail = await service.queries.get(queued.id)
    assert detail is not None
    assert [(x.n, x.status_code) for x in detail.attempts] == [(3, 503), (4, 503), (5, 200)]
    shown = detail.to_json()
    assert (shown['attempts_total'], [x['n'] for x in shown['attempts']]) == (5, [3, 4, 5])


async def test_an_answer_holding_a_nul_is_logged_as_binary_and_the_delivery_settles(harness: Harness) -> None:
    """No database column of text holds a NUL (PostgreSQL refuses one): such an answer was never logged there, and
    the delivery, left ``sending``, was sent again and again."""
    harness.reply_body = b'ok\x00bad'
    service = await harness.service()
    queued = await service.enqueue(url=URL, body=b'{"n":1}')
    assert await settle(service, queued.id) == 'succeeded'
    detail = await service.queries.get(queued.id)
    assert detail is not None and [x.response_body_prefix for x in detail.attempts] == ['base64:b2sAYmFk']
    assert len(harness.requests) == 1


async def test_an_attempt_of_a_process_without_a_lease_is_recovered_once(harness: Harness, db: Database) -> None:
    """The claimer has no row in ``processes`` (it died): two survivors recover the attempt, one logs it."""
    now = utcnow()
    async with db.engine.begin() as conn:  # the survivors hold leases: the attempt that one of them makes is not lost
        await conn.execute(
            PROCESSES.insert(),
            [
                dict(id=name, host='test', pid=1, started_at=now, heartbeat_at=now)
                for name in ('process-a', 'process-b')
            ],
        )
    dead = await harness.service(claimer='dead-process')
    delivery_id = await stored(dead)
    claim = await dead.ledger.claim(delivery_id, trigger='first', now=utcnow(), lease_s=300, slack_s=0)
    assert isinstance(claim, Claim)
    a, b = await harness.service(claimer='process-a'), await harness.service(claimer='process-b')
    await asyncio.gather(a.sweep(), b.sweep())

    assert await settle(a, delivery_id) == 'succeeded'
    detail = await a.queries.get(delivery_id)
    assert detail is not None
    assert [(x.n, x.error_class) for x in detail.attempts] == [(1, 'interrupted'), (2, None)]
    assert len(harness.requests) == 1  # the interrupted attempt never reached the receiver here
    async with db.engine.connect() as conn:
        logged = (await conn.execute(select(attempts.c.n).where(attempts.c.delivery_id == delivery_id))).all()
    assert sorted(row[0] for row in logged) == [1, 2]


async def test_a_process_alone_recovers_every_open_attempt_at_start(harness: Harness) -> None:
    first = await harness.service()
    delivery_id = await stored(first)
    assert isinstance(
        await first.ledger.claim(delivery_id, trigger='first', now=utcnow(), lease_s=300, slack_s=0), Claim
    )
    second = await harness.service()  # start-up recovery: its lease had not run out, but nobody else is sending
    assert await settle(second, delivery_id) == 'succeeded'


async def test_an_interrupted_last_attempt_is_made_again_within_a_budget_grown_by_one(harness: Harness) -> None:
    first = await harness.service(schedule=(0,))  # one attempt
    delivery_id = await stored(first, max_attempts=1)
    claim = await first.ledger.claim(delivery_id, trigger='first', now=utcnow(), lease_s=300, slack_s=0)
    assert isinstance(claim, Claim)  # its outcome is unknown: the process stopped during it
    second = await harness.service(schedule=(0,))  # start-up recovery makes it again
    assert await settle(second, delivery_id) == 'succeeded'
    assert await attempts_of(second, delivery_id) == ('succeeded', 2, 2)  # (was 2/1)
    detail = await second.queries.get(delivery_id)
    assert detail is not None and [x.error_class for x in detail.attempts] == ['interrupted', None]


async def retrying(harness: Harness, execution_id: str) -> tuple[DeliveryService, WebhookReceipt]:
    """A delivery service (its retries 30 s apart) and a webhook node's delivery of ``execution_id`` whose first
    attempt failed."""
    service = await harness.service(schedule=(0, 30))
    harness.replies = [503]
    return service, await first_failed(service, execution_id)


async def first_failed(service: DeliveryService, execution_id: str) -> WebhookReceipt:
    """A webhook node's delivery of ``execution_id``, once its first attempt failed (the receiver answers 503)."""
    queued = await service.submit(OutboundWebhook(body=b'{}', url=URL, execution_id=execution_id))
    async with asyncio.timeout(5):
        while (record := await service.queries.record(queued.delivery_id)) is None or record.status != 'retrying':
            await asyncio.sleep(0.01)
    return queued


async def cancelled(harness: Harness, db: Database, execution_id: str) -> None:
    """The run ``execution_id`` was cancelled: stored so, and said on the bus."""
    await a_run(db, execution_id, 'cancelled')
    event = Event(execution_id=execution_id, seq=9, type=EventType.EXECUTION_CANCELLED, ts=utcnow())
    harness.buses[-1].publish(event)


async def a_run(db: Database, execution_id: str, status: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            EXECUTIONS.insert().values(id=execution_id, workflow_id='w', status=status, created_at=utcnow())
        )


async def test_a_cancelled_runs_waiting_node_deliveries_are_cancelled_with_it(harness: Harness, db: Database) -> None:
    service = await harness.service(schedule=(0, 30))  # the retry would come in 30 s
    harness.replies = [503, 503]
    mine, other = await first_failed(service, 'run-1'), await first_failed(service, 'run-2')
    await cancelled(harness, db, 'run-1')
    assert await settle(service, mine.delivery_id) == 'cancelled'
    record = await service.queries.record(mine.delivery_id)
    assert record is not None and record.status_reason == 'execution_cancelled'
    assert (await service.queries.record(other.delivery_id)).status == 'retrying'  # type: ignore[union-attr]
    assert not service.timers.armed(f'wh:{mine.delivery_id}')
    assert len(harness.requests) == 2  # the first attempt of each, nothing after


async def test_a_delivery_cancelled_with_its_run_is_sent_when_redelivered_by_hand(
    harness: Harness, db: Database
) -> None:
    service, queued = await retrying(harness, 'run-1')
    await cancelled(harness, db, 'run-1')
    assert await settle(service, queued.delivery_id) == 'cancelled'
    await service.redeliver(queued.delivery_id)
    assert await settle(service, queued.delivery_id) == 'succeeded'
    assert len(harness.requests) == 2


async def test_the_next_attempt_of_a_cancelled_runs_delivery_is_cancelled_when_claimed(
    harness: Harness, db: Database
) -> None:
    """The cancel came while an attempt was under way (or its event was missed): its next claim cancels it."""
    service, queued = await retrying(harness, 'run-1')
    await a_run(db, 'run-1', 'cancelled')
    miss = await service.ledger.claim(queued.delivery_id, trigger='retry', now=utcnow(), lease_s=30, slack_s=60)
    assert isinstance(miss, ClaimMiss) and miss.status == 'cancelled' and miss.reason == 'execution_cancelled'
    detail = await service.queries.get(queued.delivery_id)
    assert detail is not None and detail.delivery.attempts == 1 and len(harness.requests) == 1


# --- inbound triggers ---------------------------------------------------------------------------------------------

TRIGGERED = {
    'id': 'hooked',
    'name': 'Hooked',
    'trigger': {'enabled': True},
    'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': 'hi'}}],
}


async def test_a_repeated_webhook_id_starts_one_execution_whichever_process_receives_it(
    db: Database, open_database: Callable[[], Database]
) -> None:
    box = SecretBox(new_key())
    started: list[tuple[str, Any, str]] = []

    async def start(
        workflow_id: str, input: Any, *, trigger: Mapping[str, Any], execution_id: str | None = None
    ) -> str:
        assert execution_id is not None and trigger['type'] == 'hook'
        await asyncio.sleep(0.01)  # the other copy arrives meanwhile
        started.append((workflow_id, input, execution_id))
        return execution_id

    await WorkflowCatalog(History(db), default_registry(), trigger_secrets=TriggerSecrets(db, box)).put(
        'hooked', TRIGGERED, utcnow()
    )
    services = []
    for _ in range(2):  # two processes: each its own pool, catalog and service
        process_db = open_database()
        secrets = TriggerSecrets(process_db, box)
        catalog = WorkflowCatalog(History(process_db), default_registry(), trigger_secrets=secrets)
        services.append(TriggerService(process_db, catalog, start, secrets))
    secret = (await services[0].reveal_secret('hooked'))['secret']
    body = b'{"order": 7}'
    headers = Webhook(secret).sign('msg_1', utcnow(), body.decode())

    def signed() -> dict[str, str]:
        return {
            'webhook-id': 'msg_1',
            'webhook-timestamp': str(int(utcnow().timestamp())),
            'webhook-signature': headers,
        }

    results = await asyncio.gather(*(service.receive('hooked', signed(), body) for service in services * 3))

    assert len(started) == 1 and started[0][:2] == ('hooked', {'order': 7})
    assert {result.execution_id for result in results} == {started[0][2]}
    assert sorted(result.replayed for result in results) == [False] + [True] * 5


async def test_a_copy_arriving_while_the_first_start_fails_is_not_answered_with_that_execution(db: Database) -> None:
    """Copies of one call at once, the first one's start refused (the queue full): a copy that arrives meanwhile
    waits for that start rather than answer 202 with an execution that never exists (also when it read the claim
    just before the start failed); it claims in turn and is answered as its own start is (here refused too, then,
    once the queue has room, one start and the others answered with it)."""
    secrets = TriggerSecrets(db, SecretBox(new_key()))
    catalog = WorkflowCatalog(History(db), default_registry(), trigger_secrets=secrets)
    await catalog.put('hooked', TRIGGERED, utcnow())
    full = True
    tried: list[str] = []

    class QueueFull(Exception):
        pass

    async def start(
        workflow_id: str, input: Any, *, trigger: Mapping[str, Any], execution_id: str | None = None
    ) -> str:
        assert execution_id is not None
        tried.append(execution_id)
        await asyncio.sleep(0.05)  # the other copies arrive meanwhile and find the claim
        if full:
            raise QueueFull('the queue is full')
        return execution_id

    service = TriggerService(db, catalog, start, secrets)
    seen = service._seen

    async def slow_seen(workflow_id: str, message_id: str) -> Any:
        found = await seen(workflow_id, message_id)
        await asyncio.sleep(0.1)  # read the claim; the start it belongs to fails meanwhile
        return found

    service._seen = slow_seen  # type: ignore[method-assign]
    secret = (await service.reveal_secret('hooked'))['secret']
    body = b'{"n": 1}'

    async def receive() -> Received:
        signature = Webhook(secret).sign('msg_1', utcnow(), body.decode())
        headers = {'webhook-id': 'msg_1', 'webhook-timestamp': str(int(utcnow().timestamp()))}
        return await service.receive('hooked', {**headers, 'webhook-signature': signature}, body)

    results = await asyncio.gather(receive(), receive(), receive(), return_exceptions=True)
    assert [type(result) for result in results] == [QueueFull] * 3  # none says 202 for a start that failed
    assert len(tried) == 3  # each copy tried a start of its own, in turn
    full = False
    answers = await asyncio.gather(receive(), receive(), receive())
    assert len(tried) == 4  # one start
    assert sorted(answers, key=lambda answer: answer.replayed) == [
        Received(execution_id=tried[-1], replayed=False),
        *[Received(execution_id=tried[-1], replayed=True)] * 2,
    ]
    assert service._starting == {}


async def test_a_webhook_id_used_again_with_another_body_is_refused_unless_kept_before_body_hashes(
    db: Database,
) -> None:
    secrets = TriggerSecrets(db, SecretBox(new_key()))
    catalog = WorkflowCatalog(History(db), default_registry(), trigger_secrets=secrets)
    await catalog.put('hooked', TRIGGERED, utcnow())
    started: list[Any] = []

    async def start(
        workflow_id: str, input: Any, *, trigger: Mapping[str, Any], execution_id: str | None = None
    ) -> str:
        assert execution_id is not None
        started.append(input)
        return execution_id

    service = TriggerService(db, catalog, start, secrets)
    secret = (await service.reveal_secret('hooked'))['secret']

    async def receive(message_id: str, body: bytes) -> Received:
        signature = Webhook(secret).sign(message_id, utcnow(), body.decode())
        headers = {'webhook-id': message_id, 'webhook-timestamp': str(int(utcnow().timestamp()))}
        return await service.receive('hooked', {**headers, 'webhook-signature': signature}, body)

    first = await receive('msg_1', b'{"n": 1}')
    with pytest.raises(TriggerConflict, match=r"^webhook-id 'msg_1' was already used with a different body$"):
        await receive('msg_1', b'{"n": 2}')
    assert await receive('msg_1', b'{"n": 1}') == Received(execution_id=first.execution_id, replayed=True)

    async with db.engine.begin() as conn:  # kept by an earlier flowmon, without the hash of its body: a retry
        await conn.execute(
            inbound.insert().values(
                workflow_id='hooked', webhook_id='msg_old', execution_id='run-old', received_at=utcnow()
            )
        )
    assert await receive('msg_old', b'{"n": 3}') == Received(execution_id='run-old', replayed=True)
    assert started == [{'n': 1}]


ROUNDS = 20  # (each round a new race: a lost or leaked secret showed in most of them)
Secrets = dict[str, Any]  # reveal_secret's answer: secret, previous_secret, previous_secret_expires_at


async def rotations_at_once(harness: Harness, graces: Callable[[int], tuple[timedelta, timedelta]]) -> list[Any]:
    """Two processes rotating one endpoint's secret at the same moment, :data:`ROUNDS` times (``graces``: the two
    rotations' grace periods in each round); each round's secret before, the two answers and the secrets after."""
    here, there = await harness.service(), await harness.service()
    endpoint, _ = await here.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    await there.endpoints.refresh()  # (as the announcement of the new endpoint would)
    rounds = []
    for number in range(ROUNDS):
        before = (await here.endpoints.reveal_secret(endpoint.id))['secret']
        grace_here, grace_there = graces(number)
        answers = await asyncio.gather(
            here.endpoints.rotate_secret(endpoint.id, grace=grace_here),
            there.endpoints.rotate_secret(endpoint.id, grace=grace_there),
        )
        rounds.append((before, answers, await there.endpoints.reveal_secret(endpoint.id)))
    return rounds


def signing(secrets: Secrets) -> set[str]:
    """The secrets deliveries are signed with."""
    return {secrets['secret'], *([secrets['previous_secret']] if secrets['previous_secret'] else [])}


async def test_two_rotations_of_an_endpoint_secret_at_once_each_hand_out_a_secret_that_signs(harness: Harness) -> None:
    """Both keeping the old secret for 24 h: whichever wrote last, each caller's new secret signs afterwards (one
    rotation stands for both, or one followed the other); none is handed a secret that was never kept."""
    rounds = await rotations_at_once(harness, lambda _: (timedelta(hours=24), timedelta(hours=24)))
    unsigned = [(answers, after) for _, answers, after in rounds if {a['secret'] for a in answers} - signing(after)]
    assert unsigned == []


async def test_a_rotation_after_a_leak_stops_the_old_secret_even_when_a_rotation_keeping_it_runs_at_once(
    harness: Harness,
) -> None:
    """One rotation stops the old secret at once (grace 0, after a leak), the other keeps it 24 h: the old secret
    never stays the previous one, whichever wrote last. The keeping caller's secret signs afterwards unless the
    stopping rotation came after it (then that one's secret alone signs, as it asked)."""
    now, keep = timedelta(0), timedelta(hours=24)
    rounds = await rotations_at_once(harness, lambda number: (now, keep) if number % 2 else (keep, now))
    leaked = [after for before, _, after in rounds if before in signing(after)]
    assert leaked == []
    for number, (_, answers, after) in enumerate(rounds):
        stopping, keeping = answers if number % 2 else reversed(answers)
        assert keeping['secret'] in signing(after) or signing(after) == {stopping['secret']}, (answers, after)


async def test_an_endpoint_created_by_another_process_is_found_before_its_announcement_is_read(
    harness: Harness,
) -> None:
    """A script behind a load balancer creates an endpoint through one process and reads, edits or rotates it
    through another at once: that one answered 404 until it had read the first one's announcement."""
    here, there = await harness.service(), await harness.service()
    endpoint, secret = await here.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    found = await there.endpoints.get(endpoint.id)  # no announcement is read here: the harness wires none
    assert found is not None and found.url == URL
    assert (await there.endpoints.reveal_secret(endpoint.id))['secret'] == secret

    other, _ = await here.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    assert (await there.endpoints.update(other.id, EndpointPatch(description='edited'))).description == 'edited'
    third, _ = await here.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    assert (await there.endpoints.rotate_secret(third.id))['previous_secret'] is not None
    fourth, _ = await here.endpoints.create(EndpointSpec(url=URL, event_types=['execution.failed']))
    assert (await there.send_test(fourth.id)).status in {'pending', 'sending'}
    assert await there.endpoints.get('ep_0000000000000000') is None


async def test_processes_creating_endpoints_together_stop_at_the_limit(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each endpoint subscribed to an event type is a delivery of every such event: their number is bounded, for all
    the processes sharing the database together (each counts 1 and creates 4 more at once: without one turn at a
    time both counts pass)."""
    monkeypatch.setattr(endpoints_module, 'MAX_ENDPOINTS', 5)
    here, there = await harness.service(), await harness.service()
    spec = EndpointSpec(url=URL, event_types=['execution.failed'])
    kept, _ = await here.endpoints.create(spec)

    outcomes = await asyncio.gather(
        *(service.endpoints.create(spec) for _ in range(4) for service in (here, there)), return_exceptions=True
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(refused) == 4, outcomes
    assert {str(error) for error in refused} == {'at most 5 webhook endpoints can be stored; delete one first'}
    assert all(isinstance(error, TooManyEndpoints) for error in refused)
    await there.endpoints.refresh()
    assert len(there.endpoints.cached_all()) == 5

    assert await there.endpoints.delete(kept.id) is True  # room for one more
    created, _ = await here.endpoints.create(spec)
    with pytest.raises(TooManyEndpoints):
        await there.endpoints.create(spec)
    await here.endpoints.refresh()
    assert len(here.endpoints.cached_all()) == 5 and here.endpoints.cached(created.id) is not None
