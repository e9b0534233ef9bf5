"""Store contract: workflows, executions and their events read back the same from SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from store_samples import T0, chain, run_events

from flowmon.engine import Event, EventBus, EventType
from flowmon.engine.core.snapshot import definition_hash
from flowmon.store import Database, EventRecorder, History, interrupt_unfinished
from flowmon.store.history import ANY_VERSION, NO_VERSION, TooManyWorkflows, VersionMismatch


async def test_workflows_are_created_replaced_listed_and_deleted(history: History) -> None:
    definition = {**chain('w1', name='Zeta'), 'description': 'Grüße, 日本語, "quotes" and\nnew lines'}
    assert await history.put_workflow('w1', 'Zeta', definition, T0) is True
    assert await history.put_workflow('w2', 'Alpha', chain('w2', name='Alpha'), T0) is True
    later = T0 + timedelta(minutes=5)
    assert await history.put_workflow('w1', 'Zeta', {**definition, 'name': 'Zeta'}, later) is False
    unchanged = await history.get_workflow('w1')  # stored again as it was: not an update
    assert unchanged is not None and (unchanged.created_at, unchanged.updated_at) == (T0, T0)
    changed = {**definition, 'description': 'changed'}
    assert await history.put_workflow('w1', 'Zeta', changed, later) is False

    stored = await history.get_workflow('w1')
    assert stored is not None and stored.definition == changed
    assert (stored.created_at, stored.updated_at) == (T0, later)
    assert stored.updated_at.tzinfo is not None and stored.updated_at.utcoffset() == timedelta(0)
    assert [w.id for w in await history.list_workflows()] == ['w2', 'w1']  # by name
    assert await history.delete_workflow('w2') is True
    assert await history.delete_workflow('w2') is False
    assert [w.id for w in await history.list_workflows()] == ['w1']


async def test_processes_storing_the_same_workflow_at_once_create_it_once(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """Processes that share a database start together, and each stores the workflows of its files."""
    histories = [History(db), *(History(open_database()) for _ in range(3))]
    for round_ in range(5):
        workflow_id = f'provisioned-{round_}'
        created = await asyncio.gather(
            *(history.put_workflow(workflow_id, 'P', chain(workflow_id), T0) for history in histories)
        )
        assert sorted(created) == [False, False, False, True]
    assert [w.id for w in await histories[0].list_workflows()] == [f'provisioned-{n}' for n in range(5)]


async def test_a_conditional_change_stores_only_over_the_version_it_expects(history: History) -> None:
    """The version is the stored definition's content hash; a change that expects another one stores nothing and
    says what is stored; ANY_VERSION asks only that it exists, NO_VERSION that it does not."""
    first, second = chain('w', name='First'), chain('w', 'a', 'b', 'c', name='Second')
    with pytest.raises(VersionMismatch) as absent:
        await history.put_workflow('w', 'First', first, T0, expected=ANY_VERSION)
    assert absent.value.current is None
    assert await history.put_workflow('w', 'First', first, T0, expected=NO_VERSION) is True
    opened = await history.get_workflow('w')
    assert opened is not None and opened.version == definition_hash(first)

    later = T0 + timedelta(minutes=1)
    assert await history.put_workflow('w', 'Second', second, later, expected=opened.version) is False
    with pytest.raises(VersionMismatch) as stale:  # a second writer that opened the first version too
        await history.put_workflow('w', 'Stale', chain('w', name='Stale'), later, expected=opened.version)
    current = stale.value.current
    assert current is not None and current.definition == second and current.updated_at == later
    assert current.version == definition_hash(second) != opened.version
    with pytest.raises(VersionMismatch):
        await history.put_workflow('w', 'Again', first, later, expected=NO_VERSION)
    assert (await history.get_workflow('w')).definition == second  # type: ignore[union-attr]
    either = frozenset({'0' * 64, current.version})
    assert await history.put_workflow('w', 'Either', first, later, expected=either) is False

    with pytest.raises(VersionMismatch):
        await history.delete_workflow('w', expected=current.version)  # the first is stored again
    assert await history.delete_workflow('w', expected=ANY_VERSION) is True
    with pytest.raises(VersionMismatch):
        await history.delete_workflow('w', expected=ANY_VERSION)


async def test_of_writers_that_opened_the_same_version_in_other_processes_one_wins(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """Each process reads the version, then writes over it: the stored text read is the condition of the write, so
    one of them stores and every other is told what it stored (on PostgreSQL too, where they run at once)."""
    histories = [History(db), *(History(open_database()) for _ in range(3))]

    async def save(history: History, name: str, opened: str) -> str:
        try:
            await history.put_workflow('w', name, chain('w', name=name), T0, expected=opened)
        except VersionMismatch as lost:
            assert lost.current is not None and lost.current.version != opened
            return str(lost.current.definition['name'])
        return 'won'

    await histories[0].put_workflow('w', 'Opened', chain('w', name='Opened'), T0)
    for round_ in range(5):
        opened = await histories[0].get_workflow('w')
        assert opened is not None
        saves = (save(history, f'Round {round_} by {n}', opened.version) for n, history in enumerate(histories))
        outcomes = await asyncio.gather(*saves)
        assert outcomes.count('won') == 1, outcomes
        stored = await histories[0].get_workflow('w')
        assert stored is not None and {*outcomes} == {'won', stored.definition['name']}


async def test_events_and_states_round_trip_exactly(history: History, recorder: EventRecorder) -> None:
    paris = timezone(timedelta(hours=2))
    events = run_events('e1', 'w', T0.astimezone(paris), 'succeeded')
    events[3] = Event(
        execution_id='e1', seq=4, type=EventType.NODE_COMPLETED, ts=events[3].ts, node_id='a',
        data={'output': {'text': 'ünïcode ✓ \u2028', 'big': 2**62, 'nested': [[{'x': None}]], 'f': 0.1}},
    )  # fmt: skip
    await recorder.write(events)

    stored = await history.events('e1')
    assert [(e.seq, e.type, e.node_id, e.data) for e in stored] == [(e.seq, e.type, e.node_id, e.data) for e in events]
    assert [e.ts for e in stored] == [e.ts.astimezone(UTC) for e in events]  # the same instants, in UTC
    assert all(e.ts.tzinfo is not None and e.ts.utcoffset() == timedelta(0) for e in stored)
    assert [e.seq for e in await history.events('e1', after_seq=2, limit=2)] == [3, 4]
    state = await history.load_state('e1')
    assert state is not None and state.status == 'succeeded' and state.nodes['a'].output == events[3].data['output']
    record = await history.get_execution('e1')
    assert record is not None and (record.status, record.nodes_done, record.nodes_total) == ('succeeded', 1, 1)
    assert record.created_at == T0
    assert (record.finished_at, record.last_seq) == (events[-1].ts, len(events))  # (the instant, in UTC)


async def test_a_page_of_events_stops_at_its_count_or_at_the_event_that_passes_its_size(
    history: History, recorder: EventRecorder, database: Database
) -> None:
    events = run_events('e1', 'w', T0, 'succeeded')  # queued, started, a started, a completed, completed
    events[3] = Event(
        execution_id='e1', seq=4, type=EventType.NODE_COMPLETED, ts=events[3].ts, node_id='a',
        data={'output': {'text': 'x' * 5_000}},
    )  # fmt: skip
    await recorder.write(events)
    stored = await history.events('e1')
    async with database.engine.connect() as conn:
        sizes = dict((await conn.execute(text("SELECT seq, length(data) FROM events WHERE execution_id = 'e1'"))).all())
    assert 5_000 <= sizes[4] < 5_100 and all(size < 5_000 for seq, size in sizes.items() if seq != 4), sizes

    async def seqs(after_seq: int, limit: int, max_chars: int) -> tuple[list[int], bool]:
        page, cut, chars = await history.event_page('e1', after_seq=after_seq, limit=limit, max_chars=max_chars)
        assert [(e.seq, e.data, e.ts) for e in page] == [(e.seq, e.data, e.ts) for e in stored[after_seq:][: len(page)]]
        assert chars == sum(sizes[e.seq] for e in page)  # the characters of the page's data as stored
        return [e.seq for e in page], cut

    assert await seqs(0, 1_000, 1_000_000) == ([1, 2, 3, 4, 5], False)
    assert await seqs(0, 2, 1_000_000) == ([1, 2], False)  # (cut by count: the caller knows its limit)
    assert await seqs(0, 1_000, 5_000) == ([1, 2, 3, 4], True)  # the large output passes the size: it ends the page
    assert await seqs(3, 1_000, 10) == ([4], True)  # alone larger than a page: a page of its own
    assert await seqs(4, 1_000, 10) == ([5], False)
    assert await seqs(5, 1_000, 10) == ([], False)


async def test_the_execution_list_filters_pages_and_counts(history: History, recorder: EventRecorder) -> None:
    statuses = ['succeeded', 'failed', 'running', 'queued', 'succeeded', 'cancelled']
    for n, status in enumerate(statuses):
        workflow = 'even' if n % 2 == 0 else 'odd'
        await recorder.write(run_events(f'e{n}', workflow, T0 + timedelta(minutes=n), status))

    records, total = await history.list_executions()
    assert total == 6 and [r.id for r in records] == [f'e{n}' for n in range(5, -1, -1)]  # newest first
    records, total = await history.list_executions(workflow_id='even', status='succeeded')
    assert (total, [r.id for r in records]) == (2, ['e4', 'e0'])
    records, total = await history.list_executions(status=['running', 'queued'])
    assert (total, sorted(r.id for r in records)) == (2, ['e2', 'e3'])
    records, total = await history.list_executions(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=4))
    assert [r.id for r in records] == ['e3', 'e2', 'e1']
    records, total = await history.list_executions(limit=2, offset=2)
    assert (total, [r.id for r in records]) == (6, ['e3', 'e2'])
    assert sorted(await history.unfinished_execution_ids()) == ['e2', 'e3']


async def test_a_taken_event_key_is_refused_as_an_integrity_error_and_nothing_of_the_batch_stays(
    history: History, recorder: EventRecorder
) -> None:
    """On PostgreSQL the rows go by COPY: the refusal comes out as Core's IntegrityError all the same."""
    events = run_events('e1', 'w', T0, 'running')
    await recorder.write(events)
    other = run_events('e2', 'w', T0, 'succeeded')
    with pytest.raises(IntegrityError, match=r'(?i)unique|duplicate'):
        await recorder.write([*other, events[0]])
    assert await history.get_execution('e2') is None and await history.events('e2') == []
    assert len(await history.events('e1')) == len(events)


async def test_start_up_recovery_interrupts_what_a_crash_left_open(
    db: Database, history: History, recorder: EventRecorder
) -> None:
    await recorder.write(run_events('done', 'w', T0, 'succeeded'))
    await recorder.write(run_events('running', 'w', T0, 'running'))
    await recorder.write(run_events('queued', 'w', T0, 'queued'))
    now = datetime(2025, 6, 1, 13, 0, tzinfo=UTC)

    assert sorted(await interrupt_unfinished(history, EventRecorder(db, EventBus()), now)) == [
        'queued',
        'running',
    ]
    running = await history.events('running')
    assert [(e.type, e.node_id) for e in running[-2:]] == [
        (EventType.NODE_CANCELLED, 'a'),
        (EventType.EXECUTION_INTERRUPTED, None),
    ]
    assert running[-1].ts == now
    records, _ = await history.list_executions(status='interrupted')
    assert sorted(r.id for r in records) == ['queued', 'running']
    assert [r.finished_at for r in records] == [now, now]


async def test_processes_creating_workflows_together_stop_at_the_limit(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """Each process counts 2 workflows and creates 3 more at once, half of them expecting none stored under their id
    (the editor's save of a new workflow): without one turn at a time each count passes. Replacing one needs no
    room, with or without an expected version."""
    limit = 5
    here, there = History(db), History(open_database())
    await here.put_workflow('kept', 'Kept', chain('kept'), T0, limit=limit)
    await there.put_workflow('other', 'Other', chain('other'), T0, limit=limit)

    async def create(history: History, workflow_id: str, expected: str | None) -> bool | TooManyWorkflows:
        try:
            return await history.put_workflow(
                workflow_id, 'New', chain(workflow_id), T0, expected=expected, limit=limit
            )
        except TooManyWorkflows as full:
            return full

    outcomes = await asyncio.gather(
        *(
            create(history, f'{side}-{n}', NO_VERSION if n % 2 else None)
            for n in range(3)
            for side, history in (('a', here), ('b', there))
        )
    )
    assert outcomes.count(True) == 3, outcomes
    assert {str(outcome) for outcome in outcomes if outcome is not True} == {
        'at most 5 workflows can be stored; delete one first'
    }
    assert len(await there.list_workflows()) == limit

    later = T0 + timedelta(minutes=1)
    assert await here.put_workflow('kept', 'Renamed', chain('kept', name='Renamed'), later, limit=limit) is False
    stored = await there.get_workflow('kept')
    assert stored is not None and stored.name == 'Renamed'
    renamed = chain('kept', name='Again')
    assert await there.put_workflow('kept', 'Again', renamed, later, expected=stored.version, limit=limit) is False
    with pytest.raises(TooManyWorkflows):
        await here.put_workflow('one-more', 'One more', chain('one-more'), later, expected=NO_VERSION, limit=limit)
    assert await here.get_workflow('one-more') is None
    assert await there.delete_workflow('other') is True  # room for one more
    assert await here.put_workflow('one-more', 'One more', chain('one-more'), later, limit=limit) is True
    assert len(await here.list_workflows()) == limit


async def test_a_save_expecting_no_workflow_that_another_process_creates_meanwhile_at_the_limit_is_a_mismatch(
    db: Database, open_database: Callable[[], Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save looks for the workflow, finds none, and another process creates it (the last room there was) before
    the save takes its turn: the save did not fail for want of room, it found a version it did not expect (a 412
    naming it, not a 409 asking to delete one)."""
    here, there = History(db), History(open_database())
    await here.put_workflow('kept', 'Kept', chain('kept'), T0, limit=2)
    looked = here._workflow_row  # (the moment between the look and the turn, made to happen)

    async def look_then_lose_the_race(workflow_id: str) -> Any:
        row = await looked(workflow_id)
        if row is None:
            await there.put_workflow(workflow_id, 'Theirs', chain(workflow_id), T0, limit=2)
            monkeypatch.setattr(here, '_workflow_row', looked)  # once
        return row

    monkeypatch.setattr(here, '_workflow_row', look_then_lose_the_race)
    with pytest.raises(VersionMismatch) as mismatch:
        await here.put_workflow('new', 'Mine', chain('new'), T0, expected=NO_VERSION, limit=2)
    assert mismatch.value.current is not None and mismatch.value.current.name == 'Theirs'
