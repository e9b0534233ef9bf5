"""ReplayLoader: indexes of finished executions are cached (bounded), running ones are always fresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from flowmon.application.replays import ReplayLoader
from flowmon.engine import Event, EventType
from flowmon.store import EventRecorder, History

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
