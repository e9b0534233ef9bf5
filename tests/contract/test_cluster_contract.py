"""PostgreSQL only: two flowmon systems (the composition root, without the web layer) on one database, as two
processes would run. What one runs, the other shows live and can cancel; a process that is taken for dead writes
nothing more and joins again; a dead one's executions are closed by the other; changes to cached tables travel.

The same with real processes, ``kill -9`` included: tests/integration/test_cluster_process.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sample_workflows import SLOW_CHAIN
from sqlalchemy import delete, select, text

from flowmon.bootstrap import System
from flowmon.delivery.endpoints import EndpointSpec
from flowmon.engine import Engine, Event, EventBus, default_registry, parse_workflow
from flowmon.engine.core.events import EventType, utcnow
from flowmon.engine.core.provenance import api_trigger
from flowmon.settings import load_settings
from flowmon.store import Database, EventRecorder, History
from flowmon.store.cluster import EVENTS_CHANNEL, Membership, WriteFence, orphaned_executions
from flowmon.store.dialect import Fenced, Listener
from flowmon.store.event_tail import parse_events_notice
from flowmon.store.tables import ExecutionRow, ProcessRow

EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]
PROCESSES = ProcessRow.__table__  # type: ignore[attr-defined]
T = TypeVar('T')

SLOW = SLOW_CHAIN  # first -> wait (30 s) -> after
QUICK = {'id': 'quick', 'name': 'Quick', 'nodes': [{'id': 'only', 'type': 'log', 'config': {'message': 'hi'}}]}


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 20.0) -> T:
    """The first truthy result of ``check``, polled until ``timeout`` (real processes: real time)."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.02)
    return result


Start = Callable[..., Awaitable[System]]


@pytest.fixture
async def start_system(postgresql_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    """``await start_system(name)``: a started system on the shared database, with a data directory of its own."""
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    started: list[System] = []

    async def start(name: str, **env: str) -> System:
        settings = load_settings({
            'FLOWMON_DATA_DIR': str(tmp_path / name), 'FLOWMON_WORKFLOWS_DIR': str(tmp_path / 'none'),
            'FLOWMON_DATABASE_URL': postgresql_url, 'FLOWMON_SECRET_KEY': key, 'FLOWMON_LEASE_SECONDS': '3', **env,
        })  # fmt: skip
        system = System.build(settings, token='cluster-token-0123456789')
        await system.start()
        started.append(system)
        return system

    yield start
    for system in started:
        if system.application.is_ready:
            await system.stop()


async def test_a_run_in_one_process_is_live_in_the_other_and_cancelled_from_there(start_system: Start) -> None:
    a, b = await start_system('a'), await start_system('b')
    await a.application.workflows.put('slow', json.dumps(SLOW).encode())
    execution_id = await a.application.executions.start('slow', {'from': 'a'}, trigger=api_trigger())

    async def wait_running_in_b() -> Any:
        state = b.application.live.get(execution_id)
        return state if state is not None and state.nodes['wait'].status == 'running' else None

    state = await eventually(wait_running_in_b)
    assert state.status == 'running' and state.nodes['first'].status == 'succeeded' and state.input == {'from': 'a'}
    taken = b.application.live.recent_events(execution_id, 0)
    assert taken[0].type is EventType.EXECUTION_QUEUED
    # with their stored text, which the live projection counts their size by (an estimate was 50x short for
    # outputs nested deeper than it samples)
    assert all(e.data_json is not None and json.loads(e.data_json) == dict(e.data) for e in taken), taken
    records, _ = await b.application.history.page()
    assert [(r.id, r.status) for r in records] == [(execution_id, 'running')]
    assert not b.application.live.is_active(execution_id) and a.application.live.is_active(execution_id)

    await b.application.executions.cancel(execution_id)  # b does not run it: the request goes through the database

    async def cancelled_in_a() -> Any:
        state = a.application.live.get(execution_id)
        return state if state is not None and state.status == 'cancelled' else None

    await eventually(cancelled_in_a)  # how fast is for the benchmarks; on two busy cores a second can pass
    final = await eventually(lambda: _status_in(b, execution_id, 'cancelled'))
    assert final.nodes['wait'].status == 'cancelled' and final.nodes['after'].status == 'cancelled'
    stored = await b.application.history.events(execution_id)
    assert stored[-1].type is EventType.EXECUTION_CANCELLED


async def test_a_start_and_a_rerun_answer_once_their_execution_is_written(start_system: Start) -> None:
    """The id a start answers with opens on every process at once: its row is in the database by then."""
    a, b = await start_system('a'), await start_system('b')
    await a.application.workflows.put('quick', json.dumps(QUICK).encode())

    async def stored(execution_id: str) -> bool:
        async with b.db.engine.connect() as conn:  # the database as it is, without a flush of either process
            return (
                await conn.execute(select(EXECUTIONS.c.id).where(EXECUTIONS.c.id == execution_id))
            ).first() is not None

    first = await a.application.executions.start('quick', {}, trigger=api_trigger())
    assert await stored(first)
    await eventually(lambda: _status_in(a, first, 'succeeded'))
    again = await a.application.executions.rerun(first)
    assert await stored(again)
    assert (await b.application.history.state(again)).workflow_id == 'quick'


async def _status_in(system: System, execution_id: str, status: str) -> Any:
    state = system.application.live.get(execution_id)
    return state if state is not None and state.status == status else None


async def test_a_dead_process_runs_are_interrupted_by_the_other_after_its_lease(start_system: Start) -> None:
    # the others have leases of 3 s: both systems share this event loop, and a stall of a third of a lease on a
    # loaded machine would take one for dead; this test needs a lease that runs out soon
    a, b = await start_system('a', FLOWMON_LEASE_SECONDS='1'), await start_system('b', FLOWMON_LEASE_SECONDS='1')
    await a.application.workflows.put('slow', json.dumps(SLOW).encode())
    execution_id = await a.application.executions.start('slow', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(b, execution_id, 'running'))
    assert a.cluster is not None and b.cluster is not None
    a_id = a.cluster.membership.id

    a.cluster._beating.cancel()  # type: ignore[union-attr]  # a stops renewing its lease, as a frozen process
    state = await eventually(lambda: _status_in(b, execution_id, 'interrupted'), timeout=20.0)
    assert state.nodes['wait'].status == 'cancelled' and state.nodes['after'].status == 'cancelled'
    events = await b.application.history.events(execution_id)
    assert [(e.type, e.node_id) for e in events[-3:]] == [
        (EventType.NODE_CANCELLED, 'wait'),
        (EventType.NODE_CANCELLED, 'after'),
        (EventType.EXECUTION_INTERRUPTED, None),
    ]
    assert a_id in events[-1].data['reason']
    assert b.cluster.taken_over == 1
    assert [row['id'] for row in await b.cluster.membership.members()] == [b.cluster.membership.id]

    # a comes back: its next renewal finds its lease gone; it writes nothing more of that run and joins again
    await a.cluster.renew()
    assert a.cluster.membership.id != a_id
    assert await b.application.history.events(execution_id) == events
    assert not a.application.live.is_active(execution_id)
    again = await a.application.executions.start('slow', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(b, again, 'running'))
    async with a.db.engine.connect() as conn:
        owner = (await conn.execute(select(EXECUTIONS.c.owner).where(EXECUTIONS.c.id == again))).scalar_one()
    assert owner == a.cluster.membership.id != a_id


async def _async(value: T) -> T:
    return value


async def test_a_restart_on_the_same_data_directory_closes_its_crashed_run_at_once(start_system: Start) -> None:
    """The data directory remembers the process's id: a restart after a crash need not wait for the lease."""
    crashed = await start_system('same', FLOWMON_LEASE_SECONDS='3600')
    await crashed.application.workflows.put('slow', json.dumps(SLOW).encode())
    execution_id = await crashed.application.executions.start('slow', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(crashed, execution_id, 'running'))
    await crashed.recorder.flush()
    assert crashed.cluster is not None
    crashed_id = crashed.cluster.membership.id

    # started on its data directory as if it had died (kill -9 leaves its lease and its run behind)
    restarted = await start_system('same', FLOWMON_LEASE_SECONDS='3600')
    record = await restarted.application.history.record(execution_id)
    assert record is not None and record.status == 'interrupted'
    assert restarted.cluster is not None and restarted.cluster.membership.id != crashed_id
    assert crashed_id not in {row['id'] for row in await restarted.cluster.membership.members()}


async def test_changes_to_cached_tables_reach_the_other_process(start_system: Start) -> None:
    a, b = await start_system('a'), await start_system('b')
    await a.application.secrets.put('api_key', 'sk-0123456789')
    await eventually(lambda: _async('api_key' in b.secrets.names()))
    assert await b.secrets.resolve({'api_key'}) == {'api_key': 'sk-0123456789'}

    scheduled = {**SLOW, 'id': 'nightly', 'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'}}
    await a.application.workflows.put('nightly', json.dumps(scheduled).encode())
    await eventually(lambda: _async(b.schedules.next_run_at('nightly') is not None))
    await a.application.automation.set_paused('nightly', True)
    await eventually(lambda: _async(b.schedules.next_run_at('nightly') is None))
    await a.application.workflows.delete('nightly')
    await eventually(lambda: _async(not b.timers.armed('cron:nightly')))

    endpoint, _ = await a.application.endpoints.create(
        EndpointSpec(url='https://example.org/hook', event_types=['execution.failed'])
    )
    await eventually(lambda: _async(b.application.endpoints.cached(endpoint.id) is not None))


async def test_pages_of_one_process_hear_of_deliveries_and_saved_views_changed_in_the_other(
    start_system: Start,
) -> None:
    """The webhooks pages and the saved-views sidebar re-read when their version moves: a change in a moves b's (and
    only once: b's refresh is not announced back to a)."""
    a, b = await start_system('a'), await start_system('b')
    await a.cluster.feed.settled()  # type: ignore[union-attr]  # the refreshes of the first connect are applied
    await b.cluster.feed.settled()  # type: ignore[union-attr]
    views_a, views_b = a.application.saved_views.version, b.application.saved_views.version
    await a.application.saved_views.save('failures', {'status': 'failed'})
    await eventually(lambda: _async(b.application.saved_views.version > views_b))
    assert [view.name for view in await b.application.saved_views.all()] == ['failures']

    deliveries_a, deliveries_b = a.application.deliveries.version, b.application.deliveries.version
    a.delivery.notifier.changed()  # what every change of a delivery in a does (queued, sent, settled, cancelled)
    await eventually(lambda: _async(b.application.deliveries.version > deliveries_b))
    await asyncio.sleep(0.5)  # had b announced its refresh, a would have heard by now
    assert a.application.deliveries.version == deliveries_a + 1
    assert a.application.saved_views.version == views_a + 1


async def test_an_execution_deleted_in_one_process_is_forgotten_by_the_other(start_system: Start) -> None:
    """b holds a's finished run in its live view (pages of it are open there): a deletes it, b drops it and notes the
    deletion, which b's pages watch for; a lost notification makes b's pages ask the database; a run b's tail finds
    gone is forgotten too."""
    a, b = await start_system('a'), await start_system('b')
    await b.cluster.feed.settled()  # type: ignore[union-attr]  # the refreshes of the first connect are applied
    await a.application.workflows.put('quick', json.dumps(QUICK).encode())
    execution_id = await a.application.executions.start('quick', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(b, execution_id, 'succeeded'))
    seen = b.application.live.deletions
    await a.application.executions.delete(execution_id)
    await eventually(lambda: _async(b.application.live.deleted_since(seen, execution_id)[1]))
    assert b.application.live.get(execution_id) is None
    assert a.application.live.deleted_since(seen, execution_id)[1]  # and in a, where it was deleted
    seen = b.application.live.deletions
    b.cluster.feed.received(None)  # type: ignore[union-attr]  # what a reconnect of b's listener asks for
    await b.cluster.feed.settled()  # type: ignore[union-attr]
    assert b.application.live.deleted_since(seen, execution_id)[1] is None
    # a run b follows, found gone by b's tail (ended and deleted by a, its news lost): b forgets it, running as it was
    await a.application.workflows.put('slow', json.dumps(SLOW).encode())
    running = await a.application.executions.start('slow', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(b, running, 'running'))
    seen = b.application.live.deletions
    b.cluster.tail.gone(running)  # type: ignore[union-attr]
    assert b.application.live.get(running) is None and b.application.live.deleted_since(seen, running)[1]
    await a.application.executions.cancel(running)  # (not to wait 30 s for it at the end)


async def test_node_statistics_follow_runs_that_end_in_the_other_process(start_system: Start) -> None:
    a, b = await start_system('a'), await start_system('b')
    quick = {**SLOW, 'id': 'quick', 'nodes': SLOW['nodes'][:1], 'edges': []}
    await a.application.workflows.put('quick', json.dumps(quick).encode())
    assert (await b.application.stats.nodes('quick'))['first'].count == 0  # b reads, and caches, nothing yet
    await a.application.executions.start('quick', {}, trigger=api_trigger())

    async def counted_in_b() -> bool:
        return (await b.application.stats.nodes('quick'))['first'].count == 1

    await eventually(counted_in_b)  # a wrote the node runs and told b, which forgot what it had cached


async def test_membership_leases_use_the_database_clock(postgresql_url: str) -> None:
    db = Database(postgresql_url)
    await db.start()
    try:
        alive, dead = Membership(db, lease_seconds=5), Membership(db, lease_seconds=5)
        await alive.join()
        await dead.join()
        async with db.engine.begin() as conn:  # dead's last renewal, 10 s ago by the database's clock
            await conn.execute(
                PROCESSES.update().where(PROCESSES.c.id == dead.id).values(heartbeat_at=text("now() - interval '10 s'"))
            )
        claimers = [Membership(db, lease_seconds=5) for _ in range(3)]
        for claimer in claimers:
            await claimer.join()
        claimed = await asyncio.gather(*(claimer.claim_dead() for claimer in claimers))
        assert sorted(map(len, claimed)) == [0, 0, 1] and [dead.id] in claimed  # one survivor takes it over
        assert await dead.beat() is False and await alive.beat() is True
        assert await orphaned_executions(db) == []
        await alive.leave()
        assert alive.id not in {row['id'] for row in await claimers[0].members()}
    finally:
        await db.stop()


async def test_the_listener_listens_again_after_its_connection_is_killed(postgresql_url: str) -> None:
    received: list[str | None] = []
    listener = Listener(
        postgresql_url, {'flowmon_test': received.append}, application_name='listener test', probe_s=0.2
    )
    task = asyncio.get_running_loop().create_task(listener.run())
    db = Database(postgresql_url)
    try:
        await eventually(lambda: _async(listener.connected.is_set()))
        async with db.engine.begin() as conn:
            await conn.execute(text("SELECT pg_notify('flowmon_test', 'one')"))
        await eventually(lambda: _async('one' in received))
        async with db.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'listener test'")
            )
        await eventually(lambda: _async(listener.connections == 2))
        assert received.count(None) == 2  # after each (re)connect: re-read what may have been missed
        async with db.engine.begin() as conn:
            await conn.execute(text("SELECT pg_notify('flowmon_test', 'two')"))
        await eventually(lambda: _async('two' in received))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.stop()


async def test_a_write_after_the_lease_was_taken_writes_nothing(postgresql_url: str) -> None:
    """A lease row removed under a recorder: its next write is refused before anything is written."""
    db = Database(postgresql_url)
    await db.start()
    try:
        membership = Membership(db, lease_seconds=30)
        await membership.join()
        async with db.engine.begin() as conn:
            await conn.execute(delete(PROCESSES))
        fence = WriteFence(db, membership)
        fenced: list[bool] = []
        fence.fenced = lambda: fenced.append(True)
        recorder = EventRecorder(db, EventBus(), fence=fence)
        event = Event(execution_id='e', seq=1, type=EventType.EXECUTION_QUEUED, ts=utcnow(), data={'workflow_id': 'w'})
        with pytest.raises(Fenced):
            await recorder.write([event])
        assert fenced == [True] and await History(db).events('e') == []
    finally:
        await db.stop()


async def test_a_run_whose_first_events_a_refused_write_dropped_is_not_written_from_the_middle(
    postgresql_url: str,
) -> None:
    """The lease was taken while a run went on here: the write refused drops its first events, and the process
    joins again under a new id. The run's later events must not be written either (a history that starts in the
    middle, which no replay can open)."""
    db = Database(postgresql_url)
    await db.start()
    bus = EventBus()
    engine = Engine(bus=bus, registry=default_registry())
    published: list[Event] = []
    bus.subscribe(published.append)
    try:
        membership = Membership(db, lease_seconds=30)
        await membership.join()
        fence = WriteFence(db, membership)
        fenced: list[bool] = []
        fence.fenced = lambda: fenced.append(True)
        recorder = EventRecorder(db, bus, fence=fence, flush_interval=60)
        await recorder.start()
        execution_id = engine.submit(parse_workflow(SLOW, default_registry()), {})
        await eventually(
            lambda: _async(any(e.type is EventType.NODE_STARTED and e.node_id == 'wait' for e in published))
        )
        async with db.engine.begin() as conn:
            await conn.execute(delete(PROCESSES))  # taken for dead
        await recorder.flush()  # refused: the run's first events are dropped, never to be written
        assert fenced == [True]
        await membership.rejoin()
        engine.cancel(execution_id)  # its end, and what comes before it, after the process joined again
        await engine.wait_idle()
        await recorder.flush()
        assert await History(db).events(execution_id) == []
        assert await History(db).get_execution(execution_id) is None
        await recorder.stop()
    finally:
        await engine.stop()
        await db.stop()


async def test_the_event_streams_of_one_process_follow_the_runs_of_the_other(start_system: Start) -> None:
    a, b = await start_system('a'), await start_system('b')
    await a.application.workflows.put('slow', json.dumps(SLOW).encode())
    everything = await b.application.streams.events()  # of every execution, from now
    execution_id = await a.application.executions.start('slow', {'from': 'a'}, trigger=api_trigger())
    await eventually(lambda: _async(b.application.live.get(execution_id)))
    one = await b.application.streams.execution(execution_id)  # replays what b can read, then follows
    assert one is not None
    await a.application.executions.cancel(execution_id)

    async def until_final(stream: Any) -> list[Event]:
        received = []
        async for event in stream:
            if event is not None:
                received.append(event)
                if event.type is EventType.EXECUTION_CANCELLED:
                    return received
        return received

    from_the_start = await asyncio.wait_for(until_final(one), timeout=20)
    live = await asyncio.wait_for(until_final(everything), timeout=20)
    stored = await b.application.history.events(execution_id)
    assert from_the_start == stored and live == stored  # every event once, in order
    everything.close()


async def test_a_write_of_many_executions_announces_every_one(postgresql_url: str) -> None:
    """One group commit of 600 executions: its notifications (more than one fits 8000 bytes) name every one of them,
    so that another process reads runs that began and ended within that write (a poll only finds active runs)."""
    received: list[str | None] = []
    listener = Listener(postgresql_url, {EVENTS_CHANNEL: received.append}, application_name='notice test')
    task = asyncio.get_running_loop().create_task(listener.run())
    db = Database(postgresql_url)
    await db.start()
    try:
        await eventually(lambda: _async(listener.connected.is_set()))
        membership = Membership(db, lease_seconds=30)
        await membership.join()
        recorder = EventRecorder(db, EventBus(), fence=WriteFence(db, membership))
        ids = [f'run-{n:017d}' for n in range(600)]
        events = [
            Event(execution_id=i, seq=1, type=EventType.EXECUTION_QUEUED, ts=utcnow(), data={'workflow_id': 'w'})
            for i in ids
        ]
        await recorder.write(events)
        announced: dict[str, int] = {}

        async def all_heard() -> bool:
            for payload in [p for p in received if p is not None]:
                announced.update(parse_events_notice(payload, 'another process') or {})
            return len(announced) == len(ids)

        await eventually(all_heard)
        assert announced == dict.fromkeys(ids, 1)
        assert len([p for p in received if p is not None]) > 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.stop()


async def test_runs_that_began_and_ended_while_the_listener_was_away_are_read_after_it_reconnects(
    start_system: Start,
) -> None:
    a, b = await start_system('a'), await start_system('b')
    assert b.cluster is not None and b.cluster.listener is not None
    listener = b.cluster.listener
    await eventually(lambda: _async(listener.connected.is_set()))
    await a.application.workflows.put('quick', json.dumps(QUICK).encode())
    listener.retry_s = 3.0  # away long enough for a whole run
    async with a.db.engine.begin() as conn:
        await conn.execute(
            text('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name'),
            {'name': f'{b.db.application_name} listener'},
        )
    await eventually(lambda: _async(not listener.connected.is_set()))
    execution_id = await a.application.executions.start('quick', {}, trigger=api_trigger())
    await eventually(lambda: _status_in(a, execution_id, 'succeeded'))
    await a.recorder.flush()  # written (and announced to nobody: b is not listening)
    assert not listener.connected.is_set(), 'the listener came back too early for this test'
    final = await eventually(lambda: _status_in(b, execution_id, 'succeeded'), timeout=10)
    assert final.nodes['only'].status == 'succeeded'
