"""EventBus: filtering, unsubscribing, fault isolation, bounded queues and back-pressure."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from waiting import until

from flowmon.engine import Event, EventBus, EventType

pytestmark = pytest.mark.looptime  # virtual time: waits on the loop take no wall-clock time

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def ev(
    seq: int, type_: EventType = EventType.NODE_STARTED, execution_id: str = 'e1', node_id: str | None = 'a'
) -> Event:
    return Event(execution_id=execution_id, seq=seq, type=type_, ts=T0, node_id=node_id)


def test_every_subscriber_sees_every_event_in_order() -> None:
    bus = EventBus()
    first: list[Event] = []
    second: list[Event] = []
    bus.subscribe(first.append)
    bus.subscribe(second.append)
    events = [ev(n) for n in range(1, 6)]
    for event in events:
        bus.publish(event)
    assert first == second == events
    assert bus.published == 5


def test_filter_by_types() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append, types=[EventType.NODE_COMPLETED, 'execution.failed'])
    bus.publish(ev(1, EventType.NODE_STARTED))
    bus.publish(ev(2, EventType.NODE_COMPLETED))
    bus.publish(ev(3, EventType.EXECUTION_FAILED, node_id=None))
    assert [e.seq for e in seen] == [2, 3]


def test_unsubscribe_and_subscriber_count() -> None:
    bus = EventBus()
    seen: list[Event] = []
    assert bus.subscriber_count == 0
    subscription = bus.subscribe(seen.append)
    other = bus.subscribe(lambda event: None)
    assert bus.subscriber_count == 2
    bus.publish(ev(1))
    subscription.unsubscribe()
    assert bus.subscriber_count == 1
    bus.publish(ev(2))
    assert [e.seq for e in seen] == [1]
    subscription.unsubscribe()  # twice is harmless
    assert bus.subscriber_count == 1
    with other:
        pass
    assert bus.subscriber_count == 0


def test_unsubscribe_during_publish_is_safe() -> None:
    bus = EventBus()
    seen: list[str] = []

    def first(event: Event) -> None:
        seen.append('first')
        second_sub.unsubscribe()

    bus.subscribe(first)
    second_sub = bus.subscribe(lambda event: seen.append('second'))
    bus.publish(ev(1))  # the list being iterated is replaced, not mutated
    bus.publish(ev(2))
    assert seen == ['first', 'second', 'first']


def test_raising_subscriber_does_not_break_publish(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    before: list[Event] = []
    after: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError('subscriber bug')

    bus.subscribe(before.append)
    bus.subscribe(broken)
    bus.subscribe(after.append)
    with caplog.at_level(logging.ERROR, logger='flowmon.engine.runtime.bus'):
        bus.publish(ev(1))
        bus.publish(ev(2))
    assert [e.seq for e in before] == [1, 2]
    assert [e.seq for e in after] == [1, 2]
    assert 'subscriber failed' in caplog.text


def test_queue_drops_oldest_when_full_and_counts() -> None:
    bus = EventBus()
    queue = bus.subscribe_queue(maxsize=3)
    for n in range(1, 6):
        bus.publish(ev(n))
    assert queue.dropped == 2
    assert [e.seq for e in queue.drain()] == [3, 4, 5]
    assert queue.drain() == []
    bus.publish(ev(6))
    assert queue.dropped == 2
    assert [e.seq for e in queue.drain()] == [6]


def test_queue_respects_its_types() -> None:
    bus = EventBus()
    queue = bus.subscribe_queue(types=[EventType.NODE_STARTED])
    bus.publish(ev(1, execution_id='e1'))
    bus.publish(ev(1, execution_id='e2'))
    bus.publish(ev(2, EventType.NODE_COMPLETED, execution_id='e2'))
    assert [(e.execution_id, e.seq) for e in queue.drain()] == [('e1', 1), ('e2', 1)]


async def test_queue_async_iteration() -> None:
    bus = EventBus()
    queue = bus.subscribe_queue(maxsize=100)
    received: list[int] = []

    async def reader() -> None:
        async for event in queue:
            received.append(event.seq)

    task = asyncio.create_task(reader())
    bus.publish(ev(1))
    bus.publish(ev(2))
    await until(lambda: received == [1, 2], 'the first two events', seen=lambda: received)
    bus.publish(ev(3))  # the reader was waiting: it wakes up
    await until(lambda: received == [1, 2, 3], 'the third event', seen=lambda: received)
    bus.publish(ev(4))
    queue.unsubscribe()  # ends the iteration after what is buffered
    await asyncio.wait_for(task, timeout=1)
    assert received == [1, 2, 3, 4]
    assert bus.subscriber_count == 0


async def test_wait_ready_returns_at_once_without_pressure() -> None:
    bus = EventBus()
    assert not bus.under_pressure()
    await asyncio.wait_for(bus.wait_ready(poll_seconds=10), timeout=0.5)
    bus.add_pressure_gauge(lambda: False)
    assert not bus.under_pressure()
    await asyncio.wait_for(bus.wait_ready(poll_seconds=10), timeout=0.5)


async def test_wait_ready_waits_while_a_gauge_says_true() -> None:
    bus = EventBus()
    backlog = {'full': True}
    bus.add_pressure_gauge(lambda: False)
    bus.add_pressure_gauge(lambda: backlog['full'])
    assert bus.under_pressure()
    waiter = asyncio.create_task(bus.wait_ready(poll_seconds=0.001))
    await asyncio.sleep(1)  # time passes (virtual): the waiter polls on and on
    assert not waiter.done()
    backlog['full'] = False
    await asyncio.wait_for(waiter, timeout=1)
    assert not bus.under_pressure()
