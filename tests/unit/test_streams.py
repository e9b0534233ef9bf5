"""The event streams' use case over a real system: bounded buffers that cut a slow client off, keep-alives at an
injected interval, resuming from the store without gaps or duplicates, and the cursor and type checks. The HTTP
side, through the whole app, is in ``tests/integration/test_event_streams.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from event_history import History
from paged_reads import delete_events
from sqlalchemy import text

from flowmon.application import history as application_history
from flowmon.application.errors import Invalid, Malformed, NotFound, Unavailable
from flowmon.application.streams import Cursor, EventStreams, Stream, parse_cursor, parse_types
from flowmon.bootstrap import System
from flowmon.engine import Event, EventBus, EventType
from flowmon.engine.core.provenance import api_trigger
from flowmon.engine.runtime.clock import event_stamps
from flowmon.store import Database, EventRecorder
from flowmon.store.history import History as Store

QUICK = b'{"id": "quick", "name": "Quick", "nodes": [{"id": "a", "type": "log", "config": {"message": "hi"}}]}'
T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
ROOM = 1 << 30  # characters of data a replay page may hold: more than any page here comes near


def streams_of(system: System, **options: float) -> EventStreams:
    application = system.application
    return EventStreams(bus=system.bus, history=application.history, live=application.live, **options)  # type: ignore[arg-type]


def progress(execution_id: str, seq: int) -> Event:
    return Event(execution_id=execution_id, seq=seq, type=EventType.EXECUTION_PROGRESS, ts=T0, data={'done': seq})


async def items(stream: Stream, count: int) -> list[Event | None]:
    taken: list[Event | None] = []
    async for item in stream:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


async def test_a_client_that_falls_behind_is_cut_off_and_never_holds_up_the_bus(system: System) -> None:
    streams = streams_of(system, buffer=3)
    baseline = system.bus.subscriber_count
    stream = await streams.events()
    assert system.bus.subscriber_count == baseline + 1
    for seq in range(1, 6):  # the client reads nothing meanwhile: publish returns at once all the same
        system.bus.publish(progress('x1', seq))
    assert stream.overflowed and stream.closed
    assert system.bus.subscriber_count == baseline and streams.open_count == 0
    assert [event.seq for event in [item async for item in stream] if event] == [1, 2, 3]  # then it ends


async def test_a_quiet_stream_sends_keep_alives_at_the_injected_interval(system: System) -> None:
    streams = streams_of(system, keepalive_seconds=0.001)
    stream = await streams.events()
    assert await items(stream, 2) == [None, None]
    system.bus.publish(progress('x2', 1))
    assert [item.seq if item else None for item in await items(stream, 1)] == [1]
    stream.close()


async def test_an_execution_stream_replays_then_follows_and_ends_with_the_final_event(system: System) -> None:
    application = system.application
    await application.workflows.put('quick', QUICK)
    execution_id = await application.executions.start('quick', trigger=api_trigger())
    stream = await application.streams.execution(execution_id)
    assert stream is not None
    received = [item async for item in stream if item is not None]
    stored = await application.history.events(execution_id)
    assert received == stored and received[-1].type is EventType.EXECUTION_COMPLETED

    resumed = await application.streams.execution(execution_id, last_event_id=f'{execution_id}:2')
    assert resumed is not None
    assert [item async for item in resumed if item is not None] == stored[2:]
    assert await application.streams.execution(execution_id, last_event_id=f'{execution_id}:{len(stored)}') is None
    assert application.streams.open_count == 0


async def recorded_run(system: System, execution_id: str, sizes: Sequence[int]) -> list[Event]:
    """A finished execution written to the store: one node per size, its output that many characters long."""
    run = History(execution_id=execution_id, step_ms=1)
    run.then(EventType.EXECUTION_QUEUED, nodes=[f'n{i}' for i in range(len(sizes))], workflow_id='wf')
    run.then(EventType.EXECUTION_STARTED)
    for i, size in enumerate(sizes):
        run.then(EventType.NODE_STARTED, f'n{i}', attempt=1)
        run.then(EventType.NODE_COMPLETED, f'n{i}', attempt=1, output={'text': 'x' * size})
    run.then(EventType.EXECUTION_COMPLETED)
    await system.recorder.write(run.events)
    return run.events


async def test_an_execution_replay_reads_pages_bounded_by_size(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of at most 1,000 characters of data here (``EVENT_PAGE_CHARS`` is 4 Mi): the replay of an execution
    reads the store a page at a time, as its event list does, not 500 events a read whatever their size."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE_CHARS', 1_000)
    events = await recorded_run(system, 'big', [600, 300, 2_500])
    reads: list[tuple[str, int | None]] = []
    read, read_page = Store.events, Store.event_page

    async def counted(store: Store, execution_id: str, **options: Any) -> list[Event]:
        reads.append(('events', options.get('limit')))
        return await read(store, execution_id, **options)

    async def counted_page(store: Store, execution_id: str, **options: Any) -> tuple[list[Event], bool, int]:
        page = await read_page(store, execution_id, **options)
        reads.append(('page', len(page[0])))
        return page

    monkeypatch.setattr(Store, 'events', counted)
    monkeypatch.setattr(Store, 'event_page', counted_page)
    stream = await system.application.streams.execution('big')
    assert stream is not None
    reads.clear()  # (opening the stream looks its execution up)
    assert [item async for item in stream] == events
    assert [kind for kind, _ in reads] == ['page'] * 3 and sum(count or 0 for _, count in reads) == len(events)


async def test_a_resumed_stream_of_every_execution_replays_pages_bounded_by_size(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay of ``/api/events/stream`` after a cursor reads at most ``EVENT_PAGE_CHARS`` characters of data a
    page as well (plus the event that passes them), not 500 events whatever their size."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE_CHARS', 1_000)
    events = await recorded_run(system, 'big', [600, 300, 2_500])
    pages: list[tuple[int, int | None]] = []
    read = Store.events_after

    async def counted(store: Store, after: Any, **options: Any) -> tuple[list[Event], bool]:
        page = await read(store, after, **options)
        pages.append((len(page[0]), options.get('max_chars')))
        return page

    monkeypatch.setattr(Store, 'events_after', counted)
    stream = await system.application.streams.events(last_event_id='big:1')
    assert await items(stream, len(events) - 1) == events[1:]
    stream.close()
    # seq 2-7 (under 1,000 characters before the 7th), 8 (c's output, 2,500 alone), then the final event
    assert pages == [(6, 1_000), (1, 1_000), (1, 1_000)]


async def test_an_execution_deleted_while_its_replay_reads_it_ends_its_stream(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion takes an execution's events lowest seq first: a page that does not follow the one before means
    the execution is going, and its stream ends there rather than give a part of its events or wait for more."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE', 2)
    await recorded_run(system, 'going', [10, 10, 10])
    streams = system.application.streams
    stream = await streams.execution('going')
    assert stream is not None
    taken: list[int] = []
    async with asyncio.timeout(10):
        async for item in stream:
            assert item is not None, 'the stream waits for more of a deleted execution'
            taken.append(item.seq)
            if item.seq == 2:  # the first page given: the deletion is under way before the next read
                await delete_events(system, 'going', through_seq=4)
    assert taken == [1, 2] and stream.closed and streams.open_count == 0


async def test_events_both_replayed_and_heard_live_are_given_once(system: System) -> None:
    application = system.application
    await application.workflows.put('quick', QUICK)
    first = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()
    stored = await application.history.events(first)
    stream = await application.streams.events(last_event_id=f'{first}:1')  # subscribed from here on
    second = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()  # the second run is in the stream's buffer and, once flushed, in the store
    more = await application.history.events(second)
    received = await items(stream, len(stored) - 1 + len(more))
    assert received == [*stored[1:], *more]
    system.bus.publish(progress('x3', 1))  # and then live again, without a repeat of the second run
    assert await items(stream, 1) == [progress('x3', 1)]
    stream.close()


@pytest.mark.parametrize('types', [None, 'execution.started'])
async def test_a_resumed_stream_keeps_no_seq_of_the_executions_that_ended(system: System, types: str | None) -> None:
    application = system.application
    await application.workflows.put('quick', QUICK)
    runs = [await application.executions.start('quick', trigger=api_trigger()) for _ in range(3)]
    await system.engine.wait_idle()
    stream = await application.streams.events(types=types, last_event_id=f'{runs[0]}:1')
    stored = [event for run in runs for event in await application.history.events(run)]
    replayed = [event for event in stored[1:] if types is None or event.type == types]
    assert await items(stream, len(replayed)) == replayed
    system.bus.publish(Event(execution_id='x4', seq=1, type=EventType.EXECUTION_STARTED, ts=T0, data={}))
    assert [item.execution_id if item else None for item in await items(stream, 1)] == ['x4']  # nothing repeated
    assert stream.tracked_executions == 0  # the replay's executions all ended: none can send an event again
    # another process's tail may bring what the replay gave once more (it polls the shared database): not repeated
    stream.offer_stored(replayed)
    system.bus.publish(Event(execution_id='x5', seq=1, type=EventType.EXECUTION_STARTED, ts=T0, data={}))
    assert [item.execution_id if item else None for item in await items(stream, 1)] == ['x5']
    stream.close()


async def test_refusals(system: System) -> None:
    streams = streams_of(system, max_streams=1)
    with pytest.raises(NotFound):
        await streams.execution('0000000nope')
    with pytest.raises(Malformed):
        await streams.events(last_event_id='x')
    with pytest.raises(Invalid, match='no recorded event'):
        await streams.events(last_event_id='abc:4')
    with pytest.raises(Invalid, match=r"'node\.exploded'"):
        await streams.events(types='node.completed, node.exploded')
    held = await streams.events()
    with pytest.raises(Unavailable):
        await streams.events()
    held.close()
    (await streams.events()).close()
    assert streams.open_count == 0


@pytest.mark.parametrize('text', ['', 'abc', 'abc:', ':1', 'a b:1', 'abc:-1', 'abc:01', 'abc:1:2', 'x' * 41 + ':1'])
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(Malformed, match='Last-Event-ID'):
        parse_cursor(text)


def test_cursors_and_types_parse() -> None:
    assert parse_cursor('19b2f3a4c5d0123456789:17') == Cursor('19b2f3a4c5d0123456789', 17)
    assert str(Cursor('abc', 0)) == 'abc:0'
    assert parse_types(None) is None and parse_types(' ') is None
    assert parse_types('node.failed,execution.failed') == {'node.failed', 'execution.failed'}


def run_of(execution_id: str, workflow_id: str, start_ms: int, *, ended: bool) -> list[Event]:
    """An execution's events 10 ms apart from ``start_ms`` (so two runs interleave by time)."""
    types = [EventType.EXECUTION_QUEUED, EventType.EXECUTION_STARTED, EventType.EXECUTION_PROGRESS]
    types += [EventType.EXECUTION_COMPLETED] if ended else []
    return [
        Event(
            execution_id=execution_id, seq=seq, type=event_type, ts=T0 + timedelta(milliseconds=start_ms + 10 * seq),
            data={'workflow_id': workflow_id, 'nodes': []} if event_type is EventType.EXECUTION_QUEUED else {},
        )
        for seq, event_type in enumerate(types, start=1)
    ]  # fmt: skip


async def test_the_replay_query_reads_every_execution_in_time_order_on_each_dialect(db: Database) -> None:
    """``events_after`` (what a resumed ``/api/events/stream`` replays) is portable SQL: SQLite and PostgreSQL."""
    early = run_of('a1', 'orders', 0, ended=True)  # 10, 20, 30, 40 ms
    late = run_of('b2', 'orders', 15, ended=False)  # 25, 35, 45 ms: still running
    other = run_of('c3', 'billing', 7, ended=True)  # 17, 27, 37, 47 ms
    await EventRecorder(db, EventBus()).write([*early, *late, *other])
    history = Store(db)
    assert await history.event_time('a1', 2) == early[1].ts
    assert await history.event_time('a1', 9) is None

    after = (early[1].ts, 'a1', 2)  # a1:2, at 20 ms
    everything, cut = await history.events_after(after, max_chars=ROOM)
    assert [(e.execution_id, e.seq) for e in everything] == [
        ('b2', 1), ('c3', 2), ('a1', 3), ('b2', 2), ('c3', 3), ('a1', 4), ('b2', 3), ('c3', 4),
    ]  # fmt: skip
    assert everything[0] == late[0] and not cut  # as recorded, data included
    orders, _ = await history.events_after(after, workflow_id='orders', types=['execution.progress'], max_chars=ROOM)
    assert [(e.execution_id, e.seq) for e in orders] == [('a1', 3), ('b2', 3)]
    paged, _ = await history.events_after(after, limit=3, max_chars=ROOM)
    rest, _ = await history.events_after((paged[-1].ts, paged[-1].execution_id, paged[-1].seq), max_chars=ROOM)
    assert [*paged, *rest] == everything
    assert await history.events_after((other[-1].ts, 'c3', 4), max_chars=ROOM) == ([], False)
    finished_early, _ = await history.events_after((T0 + timedelta(milliseconds=41), 'a1', 0), max_chars=ROOM)
    assert [(e.execution_id, e.seq) for e in finished_early] == [('b2', 3), ('c3', 4)]  # a1 ended at 40 ms

    # bounded by size: no event after the one that brings the page's data to max_chars (the first always comes)
    async with db.engine.connect() as conn:
        size = dict(
            ((row[0], row[1]), row[2])
            for row in (await conn.execute(text('SELECT execution_id, seq, length(data) FROM events'))).all()
        )
    first_two = size['b2', 1] + size['c3', 2]
    assert await history.events_after(after, max_chars=first_two) == (everything[:2], True)
    assert await history.events_after(after, max_chars=first_two + 1) == (everything[:3], True)
    assert await history.events_after(after, max_chars=1) == (everything[:1], True)
    assert await history.events_after(after, limit=2, max_chars=1_000_000) == (everything[:2], False)
    pages: list[list[Event]] = []
    position, cut = after, True
    while cut or (pages and len(pages[-1]) == 3):
        page, cut = await history.events_after(position, limit=3, max_chars=first_two)
        pages.append(page)
        position = (page[-1].ts, page[-1].execution_id, page[-1].seq) if page else position
    assert [event for page in pages for event in page] == everything and all(len(page) <= 3 for page in pages)


def test_event_stamps_strictly_increase_even_when_the_clock_steps_back() -> None:
    readings = iter([T0, T0, T0 - timedelta(seconds=5), T0 + timedelta(seconds=1)])
    stamp = event_stamps(lambda: next(readings))
    stamps = [stamp() for _ in range(4)]
    tick = timedelta(microseconds=1)
    assert stamps == [T0, T0 + tick, T0 + 2 * tick, T0 + timedelta(seconds=1)]
