"""Store contract: the event tail (how a process follows the runs other processes record) reads every run it is told
of to its end, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from store_samples import T0, run_events

from flowmon.engine import EventBus
from flowmon.engine.core.events import Event, EventType, utcnow
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder
from flowmon.store.event_tail import EventTail
from flowmon.store.tables import EventRow, ExecutionRow

EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]
EVENTS = EventRow.__table__  # type: ignore[attr-defined]


def progress(execution_id: str, after: list[Event], count: int) -> list[Event]:
    """``count`` progress events after ``after`` (a run that records much: a long loop of nodes, say)."""
    last = after[-1]
    return [
        Event(execution_id=execution_id, seq=last.seq + n, type=EventType.EXECUTION_PROGRESS, ts=last.ts)
        for n in range(1, count + 1)
    ]


async def test_a_run_with_many_events_does_not_starve_a_short_one_that_ends(
    db: Database, recorder: EventRecorder
) -> None:
    """Told of two runs at once, the tail reads both to the seq it was told, however many queries of ``batch``
    events that takes: the short run ended, and nothing would tell of it again."""
    long = run_events('a-long', 'w', T0, 'running')
    long += progress('a-long', long, 25)
    short = run_events('b-short', 'w', T0, 'succeeded')
    await recorder.write(long + short)
    projector = Projector(EventBus())
    tail = EventTail(db, projector, me=lambda: 'this-process', batch=10)
    heard: list[Event] = []
    tail.listeners.append(heard.extend)

    taken = await tail.notified({'a-long': long[-1].seq, 'b-short': short[-1].seq})

    assert taken == len(long) + len(short) == tail.events_read
    finished = projector.get('b-short')
    assert finished is not None and finished.status == 'succeeded'
    running = projector.get('a-long')
    assert running is not None and running.last_seq == long[-1].seq
    assert heard == long + short  # the event streams hear each event once, in order
    assert tail.following == frozenset({'a-long'})  # the ended one is let go
    assert await tail.notified({'a-long': long[-1].seq}) == 0  # nothing more to read


async def test_a_sweep_reads_the_runs_that_began_and_ended_unheard_once(db: Database, recorder: EventRecorder) -> None:
    """After the listener reconnected: runs of other processes created since then, read from their first event to
    their last; one already read to its end is not read again (the event streams would hear it twice)."""
    heard_before = run_events('a-heard', 'w', T0, 'succeeded')
    unheard = run_events('b-unheard', 'w', T0 + timedelta(seconds=5), 'failed')
    running = run_events('c-running', 'w', T0 + timedelta(seconds=6), 'running')
    mine = run_events('d-mine', 'w', T0 + timedelta(seconds=7), 'succeeded')
    old = run_events('e-old', 'w', T0 - timedelta(hours=1), 'succeeded')
    await recorder.write(heard_before + unheard + running + mine + old)
    async with db.engine.begin() as conn:
        await conn.execute(update(EXECUTIONS).values(owner='other-process'))
        await conn.execute(update(EXECUTIONS).where(EXECUTIONS.c.id == 'd-mine').values(owner='this-process'))
    projector = Projector(EventBus())
    tail = EventTail(db, projector, me=lambda: 'this-process')
    heard: list[Event] = []
    tail.listeners.append(heard.extend)
    await tail.notified({'a-heard': heard_before[-1].seq})
    heard.clear()

    seconds = (utcnow() - (T0 - timedelta(seconds=30))).total_seconds()  # the runs created since 30 s before T0
    taken = await tail.sweep(seconds)

    assert heard == unheard + running and taken == len(heard)
    assert projector.get('b-unheard').status == 'failed'  # type: ignore[union-attr]
    assert projector.get('c-running').status == 'running'  # type: ignore[union-attr]
    assert projector.get('d-mine') is None and projector.get('e-old') is None
    heard.clear()
    await tail.sweep(seconds)
    assert heard == []  # nothing read twice (the running one has nothing new)
    await tail.notified({'b-unheard': unheard[-1].seq, 'a-heard': heard_before[-1].seq})  # a late notice of them
    assert heard == []


async def test_a_poll_finds_a_followed_run_deleted_before_its_end_was_read(
    db: Database, recorder: EventRecorder
) -> None:
    """Another process's run, followed while it ran, ended and was deleted by its owner before this tail read its end
    (the notifications lost): the poll finds it gone and says so (the process forgets it: else its live view would
    hold it as running for good); a run still there is followed on."""
    gone, on = run_events('a-gone', 'w', T0, 'running'), run_events('b-on', 'w', T0, 'running')
    await recorder.write(gone + on)
    async with db.engine.begin() as conn:
        await conn.execute(update(EXECUTIONS).values(owner='other-process'))
    projector = Projector(EventBus())
    tail = EventTail(db, projector, me=lambda: 'this-process')
    told: list[str] = []
    tail.gone = told.append
    await tail.notified({'a-gone': gone[-1].seq, 'b-on': on[-1].seq})
    assert tail.following == frozenset({'a-gone', 'b-on'}) and told == []
    async with db.engine.begin() as conn:  # (its end written, then the run deleted: neither heard here)
        await conn.execute(delete(EVENTS).where(EVENTS.c.execution_id == 'a-gone'))
        await conn.execute(delete(EXECUTIONS).where(EXECUTIONS.c.id == 'a-gone'))

    await tail.poll()

    assert told == ['a-gone'] and tail.following == frozenset({'b-on'})
    await tail.poll()
    assert told == ['a-gone']  # said once
