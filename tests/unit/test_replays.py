"""ReplayLoader: indexes of finished executions are cached (bounded), running ones are always fresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from flowmon.application.history import ExecutionHistory
from flowmon.application.live import LiveView
from flowmon.application.replays import ReplayLoader
from flowmon.engine import Engine, Event, EventBus, EventType, default_registry
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History
from flowmon.store.retention import Pruner

T0 = datetime(2025, 8, 1, tzinfo=UTC)


def execution(execution_id: str, *, finished: bool = True, progress: int = 0) -> list[Event]:
    kinds = [EventType.EXECUTION_QUEUED, EventType.EXECUTION_STARTED]
    kinds += [EventType.EXECUTION_PROGRESS] * progress
    kinds += [EventType.EXECUTION_COMPLETED] if finished else []
    data = {'workflow_id': 'wf', 'nodes': []}
    return [
        Event(
            execution_id=execution_id,
            seq=seq,
            type=kind,
            ts=T0 + timedelta(seconds=seq),
            data=data if kind == EventType.EXECUTION_QUEUED else {},
        )
        for seq, kind in enumerate(kinds, start=1)
    ]


async def test_finished_executions_are_built_once_and_shared(recorder: EventRecorder, history: History) -> None:
    await recorder.write(execution('done'))
    loader = ReplayLoader(history)
    first = await loader.open('done')
    assert first is not None and first.n == 3 and first.final is not None and first.final.status == 'succeeded'
    assert await loader.open('done') is first
    assert loader.cached == ['done']


async def test_running_executions_are_never_cached(recorder: EventRecorder, history: History) -> None:
    await recorder.write(execution('live', finished=False))
    loader = ReplayLoader(history)
    first = await loader.open('live')
    assert first is not None and first.n == 2
    assert loader.cached == []
    await recorder.write(
        [Event(execution_id='live', seq=3, type=EventType.EXECUTION_COMPLETED, ts=T0 + timedelta(seconds=9))]
    )
    later = await loader.open('live')
    assert later is not None and later.n == 3  # the new event is there: nothing stale was kept


async def test_unknown_executions_are_none(history: History) -> None:
    assert await ReplayLoader(history).open('nope') is None


async def test_the_cache_is_bounded_by_entries_and_by_events(recorder: EventRecorder, history: History) -> None:
    for name in ('a', 'b', 'c'):
        await recorder.write(execution(name, progress=7))  # 10 events each
    by_count = ReplayLoader(history, max_indexes=2)
    for name in ('a', 'b', 'c'):
        await by_count.open(name)
    assert by_count.cached == ['b', 'c']
    await by_count.open('b')  # used again: now the most recent
    await by_count.open('a')
    assert by_count.cached == ['b', 'a']
    by_events = ReplayLoader(history, max_events=25)
    for name in ('a', 'b', 'c'):
        await by_events.open(name)
    assert by_events.cached == ['b', 'c']
    too_big = ReplayLoader(history, max_events=5)
    assert await too_big.open('a') is not None and too_big.cached == []


async def test_concurrent_opens_share_one_build(recorder: EventRecorder, history: History) -> None:
    await recorder.write(execution('done', progress=50))
    loader = ReplayLoader(history)
    first, second = await asyncio.gather(loader.open('done'), loader.open('done'))
    assert first is second is not None


async def test_a_few_executions_are_read_and_built_at_a_time(recorder: EventRecorder, history: History) -> None:
    """Each build holds its execution's events whole: opens of many executions at once read and build at most
    ``max_builds`` of them together, the others waiting their turn; all of them are answered."""
    names = [f'run-{n}' for n in range(5)]
    for name in names:
        await recorder.write(execution(name))
    loader = ReplayLoader(history, max_builds=2)
    read = history.events
    reading: set[str] = set()
    most = 0
    release = asyncio.Event()

    async def held_read(execution_id: str, *args: object, **kwargs: object) -> list[Event]:
        nonlocal most
        reading.add(execution_id)
        most = max(most, len(reading))
        try:
            await release.wait()
            return await read(execution_id, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            reading.discard(execution_id)

    history.events = held_read  # type: ignore[method-assign]
    opening = [asyncio.create_task(loader.open(name)) for name in names]
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(reading) == 2  # two reading, three waiting
    release.set()
    indexes = await asyncio.gather(*opening)
    assert most == 2
    assert [index.n if index else None for index in indexes] == [3] * 5
    history.events = read  # type: ignore[method-assign]


async def test_an_open_given_up_leaves_the_build_to_the_others_sharing_it(
    recorder: EventRecorder, history: History
) -> None:
    """Two opens of one execution share its build: the first one given up while it waits its turn (its page closed)
    does not take the build away from the second."""
    for name in ('busy', 'wanted'):
        await recorder.write(execution(name))
    loader = ReplayLoader(history, max_builds=1)
    read = history.events
    release = asyncio.Event()

    async def held_read(execution_id: str, *args: object, **kwargs: object) -> list[Event]:
        if execution_id == 'busy':
            await release.wait()
        return await read(execution_id, *args, **kwargs)  # type: ignore[arg-type]

    history.events = held_read  # type: ignore[method-assign]
    busy = asyncio.create_task(loader.open('busy'))  # takes the one turn
    given_up = asyncio.create_task(loader.open('wanted'))
    kept = asyncio.create_task(loader.open('wanted'))
    for _ in range(10):
        await asyncio.sleep(0)
    given_up.cancel()
    release.set()
    index = await kept
    assert index is not None and index.n == 3 and (await busy) is not None
    assert given_up.cancelled()
    assert loader.cached == ['busy', 'wanted']
    history.events = read  # type: ignore[method-assign]


async def test_an_index_built_while_the_store_is_asked_about_unheard_deletions_is_not_cached(
    recorder: EventRecorder, history: History
) -> None:
    """The store is asked which cached runs were deleted by another process unheard: a build that began before (its
    run may be one of them, not cached yet, so not asked about) is answered but not cached; the next open builds it
    again, from what the store holds then."""
    await recorder.write(execution('done'))
    loader = ReplayLoader(history)
    release = asyncio.Event()
    read = history.events

    async def slow_read(*args: object, **kwargs: object) -> list[Event]:
        events = await read(*args, **kwargs)  # type: ignore[arg-type]
        await release.wait()
        return events

    history.events = slow_read  # type: ignore[method-assign]
    opening = asyncio.create_task(loader.open('done'))
    await asyncio.sleep(0.01)  # (reading)
    loader.asking()
    release.set()
    index = await opening
    assert index is not None and index.n == 3 and loader.cached == []
    history.events = read  # type: ignore[method-assign]
    again = await loader.open('done')
    assert again is not None and again is not index and loader.cached == ['done']  # built after: cached


async def test_replays_cached_of_runs_deleted_unheard_are_forgotten_once_the_store_is_asked(
    database: Database, recorder: EventRecorder, history: History
) -> None:
    """Runs this process holds only as cached replays (its live projection never had them, or let them go): another
    process deletes one, its news lost; once the store is asked, that one is forgotten (opened again: none) and the
    other stays cached."""
    await recorder.write(execution('deleted') + execution('kept'))
    bus = EventBus()
    engine = Engine(bus=bus, registry=default_registry())
    replays = ReplayLoader(history)
    reads = ExecutionHistory(
        history=history, recorder=recorder, live=LiveView(Projector(bus), engine, bus), replays=replays
    )
    for execution_id in ('deleted', 'kept'):
        assert await replays.open(execution_id) is not None
    assert (await Pruner(database, delivery_final_statuses=[]).delete_executions(['deleted']))[0] == ['deleted']
    assert await replays.open('deleted') is not None  # (the copy held here, until the store is asked)
    await reads.forget_unknown()
    assert replays.cached == ['kept']
    assert await replays.open('deleted') is None
    await engine.stop()
