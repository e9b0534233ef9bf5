"""Store contract: schedules stay paused across restarts, and a cron tick fired by several processes starts one
execution (a claimed tick row per workflow and scheduled time), on both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, func, select
from store_samples import T0

from flowmon.automation.schedules import ScheduleService, job_id, latest_tick
from flowmon.automation.triggers import upsert_automation
from flowmon.engine.core.events import utcnow
from flowmon.engine.cron import crontab_trigger
from flowmon.engine.nodes import default_registry
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.timers import Timers
from flowmon.store import Database, History, WorkflowCatalog
from flowmon.store.cluster import TickClaims
from flowmon.store.tables import ExecutionRow, ScheduleTickRow, WorkflowRow
from flowmon.store.trigger_secrets import TriggerSecrets
from flowmon.store.webhook_tables import automation

TICKS = ScheduleTickRow.__table__  # type: ignore[attr-defined]
SCHEDULED = {
    'id': 'tick',
    'name': 'Tick',
    'schedule': {'cron': '*/5 * * * *', 'timezone': 'Europe/Paris'},
    'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': 'tick'}}],
}


class Starts:
    """Stands for the executions use case: records what each schedule started."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str | None]] = []

    async def __call__(
        self, workflow_id: str, input: Any, *, trigger: Mapping[str, Any], execution_id: str | None = None
    ) -> str:
        assert trigger['type'] == 'schedule'
        self.calls.append((workflow_id, input, execution_id))
        return execution_id or f'local-{len(self.calls)}'


async def test_a_tick_is_claimed_once_whatever_the_zone_of_its_time(db: Database) -> None:
    claims = [TickClaims(db, me=lambda n=n: f'process-{n}') for n in range(3)]
    paris = T0.astimezone(timezone(timedelta(hours=2)))
    won = await asyncio.gather(
        *(claim.claim('tick', when, f'execution-{n}', T0) for n, claim in enumerate(claims) for when in (T0, paris))
    )
    assert won.count(True) == 1
    assert await claims[0].claim('tick', T0 + timedelta(minutes=5), 'next', T0) is True
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(TICKS).order_by(TICKS.c.fire_time))).all()
    assert [(row.fire_time, row.execution_id) for row in rows][1] == (T0 + timedelta(minutes=5), 'next')
    assert rows[0].fire_time == T0 and rows[0].owner == f'process-{won.index(True) // 2}'

    assert await claims[1].prune(T0 + timedelta(days=7, minutes=1)) == 1
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(TICKS))).scalar_one() == 1


async def test_two_processes_firing_the_same_schedule_start_one_execution_per_tick(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """Each process runs its own APScheduler with the same schedule; every tick starts exactly one execution."""
    starts, services, all_timers = Starts(), [], []
    first_tick = datetime.now(UTC) + timedelta(seconds=0.5)
    for n in range(2):
        process_db = open_database()
        timers = Timers()
        catalog = WorkflowCatalog(History(process_db), default_registry())
        service = ScheduleService(
            process_db, catalog, timers, starts, claims=TickClaims(process_db, me=lambda n=n: f'p{n}')
        )
        await service.start()
        # the tick every 0.2 s that a cron schedule makes every minute, at the same times in both processes
        timers.add(job_id('tick'), IntervalTrigger(seconds=0.2, start_date=first_tick), service._fire, 'tick')
        services.append(service)
        all_timers.append(timers)
    await WorkflowCatalog(History(db), default_registry()).put('tick', {**SCHEDULED, 'schedule': None}, utcnow())
    for timers in all_timers:
        timers.start()
    async with asyncio.timeout(15):
        while len(starts.calls) < 10:
            await asyncio.sleep(0.05)
    for timers in all_timers:
        timers.shutdown()

    async def settled() -> list[Any]:
        """The claimed ticks once the firings still under way (shutdown does not wait for them) have ended: the
        database and the starts agree, twice in a row."""
        seen, deadline = None, asyncio.get_running_loop().time() + 15
        while True:
            async with db.engine.connect() as conn:
                ticks = (await conn.execute(select(TICKS.c.fire_time, TICKS.c.execution_id, TICKS.c.owner))).all()
            now = (len(ticks), len(starts.calls))
            if (now[0] == now[1] and now == seen) or asyncio.get_running_loop().time() > deadline:
                return list(ticks)  # past the deadline: as they are, for the assertions below to say how they differ
            seen = now
            await asyncio.sleep(0.3)

    ticks = await settled()
    assert len(ticks) == len(starts.calls) >= 10
    assert Counter(execution_id for _, _, execution_id in starts.calls) == Counter(row.execution_id for row in ticks)
    assert len({row.fire_time for row in ticks}) == len(ticks)  # one execution per tick
    assert {row.owner for row in ticks} <= {'p0', 'p1'}


async def test_a_paused_schedule_stays_paused_in_a_process_started_later(
    db: Database, open_database: Callable[[], Database]
) -> None:
    timers = [Timers(), Timers()]
    catalog = WorkflowCatalog(History(db), default_registry())
    await catalog.put('tick', SCHEDULED, utcnow())
    first = ScheduleService(open_database(), catalog, timers[0], Starts())
    await first.start()
    announced: list[str] = []
    first.announce = announced.append
    assert (await first.pause('tick'))['paused'] is True
    assert announced == ['tick']

    second = ScheduleService(open_database(), WorkflowCatalog(History(db), default_registry()), timers[1], Starts())
    await second.start()
    assert (await second.info('tick'))['paused'] is True and second.next_run_at('tick') is None
    await first.resume('tick')
    await second.refresh_paused('tick')  # what the change feed does on the other process's announcement
    info = await second.info('tick')
    assert info['paused'] is False and info['next_run_at'] is not None
    for service in (first, second):
        await service.stop()


async def test_two_schedules_paused_one_after_the_other_elsewhere_both_stop_here(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """Two pauses announced one after the other: the first refresh here reads both as paused, but must leave the
    second to its own refresh (it marked both paused and paused one timer: the second kept firing here)."""
    timers = [Timers(), Timers()]
    catalog = WorkflowCatalog(History(db), default_registry())
    for workflow_id in ('tick', 'tock'):
        await catalog.put(workflow_id, {**SCHEDULED, 'id': workflow_id}, utcnow())
    services = [
        ScheduleService(open_database(), WorkflowCatalog(History(db), default_registry()), clock, Starts())
        for clock in timers
    ]
    for clock in timers:
        clock.start()
    for service in services:
        await service.start()
    here, elsewhere = services
    assert here.next_run_at('tick') is not None and here.next_run_at('tock') is not None
    await elsewhere.pause('tick')
    await elsewhere.pause('tock')
    for workflow_id in ('tick', 'tock'):  # the change feed's refreshes, in the order announced
        await here.refresh_paused(workflow_id)
    for workflow_id in ('tick', 'tock'):
        assert (await here.info(workflow_id))['paused'] is True
        assert here.next_run_at(workflow_id) is None, f'{workflow_id} still fires here'
    for service in services:
        await service.stop()
    for clock in timers:
        clock.shutdown()


async def test_a_pause_made_here_while_a_refresh_reads_stays(
    db: Database, open_database: Callable[[], Database]
) -> None:
    """The listener reconnected and everything is read again; meanwhile the schedule is paused here. The refresh,
    which read before the pause, must not follow its older read after it (the schedule went on firing here)."""
    timers = Timers()
    timers.start()
    catalog = WorkflowCatalog(History(db), default_registry())
    await catalog.put('tick', SCHEDULED, utcnow())
    here = ScheduleService(open_database(), WorkflowCatalog(History(db), default_registry()), timers, Starts())
    await here.start()
    stored_paused = here._stored_paused
    read, go_on = asyncio.Event(), asyncio.Event()

    async def slow_read() -> set[str]:
        stored = await stored_paused()
        read.set()
        await go_on.wait()
        return stored

    here._stored_paused = slow_read  # type: ignore[method-assign]
    refresh = asyncio.create_task(here.refresh_paused(None))
    await read.wait()
    pausing = asyncio.create_task(here.pause('tick'))
    await asyncio.sleep(0.1)  # the pause goes as far as it can while the refresh holds its read
    go_on.set()
    await asyncio.gather(refresh, pausing)
    assert (await here.info('tick'))['paused'] is True
    assert here.next_run_at('tick') is None, 'paused, and still firing here'
    await here.stop()
    timers.shutdown()


# --- catching up a tick missed while flowmon was not running -------------------------------------------------------

HOURLY = {**SCHEDULED, 'schedule': {'cron': '0 * * * *', 'timezone': 'UTC'}}
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)  # the 10:00 tick is half an hour old


async def started_after_a_stop(
    db: Database, *, created: datetime = NOW - timedelta(hours=2), catch_up_s: int = 3600, **changes: Any
) -> Starts:
    """What a start of flowmon at NOW starts of the hourly workflow stored at ``created`` (by nobody else since)."""
    catalog = WorkflowCatalog(History(db), default_registry())
    await catalog.put('tick', {**HOURLY, **changes}, created)
    starts, timers = Starts(), Timers()
    service = ScheduleService(db, catalog, timers, starts, clock=lambda: NOW, catch_up_s=catch_up_s)
    try:
        await service.start()
    finally:
        await service.stop()
    return starts


async def test_a_tick_missed_while_flowmon_was_not_running_starts_once_at_start_up(db: Database) -> None:
    starts = await started_after_a_stop(db)
    assert [(workflow_id, input['trigger']) for workflow_id, input, _ in starts.calls] == [('tick', 'schedule')]


async def ran_at(db: Database, created: datetime, trigger: str = 'schedule') -> None:
    executions = ExecutionRow.__table__  # type: ignore[attr-defined]
    async with db.engine.begin() as conn:
        await conn.execute(
            executions.insert().values(
                id=f'ran-{trigger}', workflow_id='tick', status='succeeded', created_at=created, trigger_type=trigger
            )
        )


async def test_a_tick_that_ran_is_not_started_again(db: Database) -> None:
    await ran_at(db, NOW - timedelta(minutes=30))
    assert (await started_after_a_stop(db)).calls == []


async def test_a_run_started_another_way_does_not_stand_for_the_tick(db: Database) -> None:
    await ran_at(db, NOW - timedelta(minutes=10), trigger='api')
    assert len((await started_after_a_stop(db)).calls) == 1


async def test_no_catch_up_for_a_tick_before_the_workflow_existed_or_older_than_the_window(db: Database) -> None:
    assert (await started_after_a_stop(db, created=NOW - timedelta(minutes=20))).calls == []
    async with db.engine.begin() as conn:
        await conn.execute(delete(WorkflowRow.__table__))  # type: ignore[attr-defined]
    assert (await started_after_a_stop(db, catch_up_s=600)).calls == []  # the 10:00 tick is 30 minutes old
    assert (await started_after_a_stop(db, catch_up_s=0)).calls == []


async def test_no_catch_up_for_a_paused_schedule_or_one_paused_or_resumed_since_the_tick(db: Database) -> None:
    async with db.engine.begin() as conn:
        await upsert_automation(conn, 'tick', NOW - timedelta(minutes=5), schedule_paused=False)  # resumed since
    assert (await started_after_a_stop(db)).calls == []
    async with db.engine.begin() as conn:
        await upsert_automation(conn, 'tick', NOW - timedelta(hours=3), schedule_paused=True)
    assert (await started_after_a_stop(db)).calls == []


def test_the_latest_tick_of_a_window() -> None:
    hourly = crontab_trigger('0 * * * *', UTC)
    assert latest_tick(hourly, NOW - timedelta(hours=1), NOW) == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert latest_tick(hourly, NOW - timedelta(minutes=20), NOW) is None
    daily = crontab_trigger('0 10 * * *', UTC)
    assert latest_tick(daily, NOW - timedelta(minutes=30), NOW) is None  # (since, now]: 10:00 is its start
    assert latest_tick(daily, NOW - timedelta(minutes=31), NOW) == NOW - timedelta(minutes=30)
    assert latest_tick(daily, NOW - timedelta(days=3), NOW - timedelta(hours=1)) == datetime(
        2026, 12, 4, 10, tzinfo=UTC
    )


async def test_no_catch_up_of_a_tick_its_cron_line_did_not_have_then(db: Database) -> None:
    """Changed from 03:00 daily to hourly at 10:20: the 10:00 tick was not the schedule's then."""
    catalog = WorkflowCatalog(History(db), default_registry())
    daily = {**SCHEDULED, 'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'}}
    await catalog.put('tick', daily, NOW - timedelta(hours=2))
    assert (await started_after_a_stop(db, created=NOW - timedelta(minutes=10))).calls == []


async def test_a_definition_stored_again_unchanged_is_no_change(db: Database) -> None:
    """A file loaded again at each start stores the same definition: the tick is still caught up."""
    catalog = WorkflowCatalog(History(db), default_registry())
    await catalog.put('tick', HOURLY, NOW - timedelta(hours=2))
    await catalog.put('tick', HOURLY, NOW - timedelta(minutes=5))  # (as load_directory does, at start-up)
    assert len((await started_after_a_stop(db, created=NOW - timedelta(minutes=1))).calls) == 1


async def test_a_first_trigger_secret_is_no_change(db: Database) -> None:
    """The hourly workflow accepts triggers: its secret, issued as it was stored or at this start (an earlier flowmon
    stored it without one), does not stand in the way of the missed tick."""
    accepting = {**HOURLY, 'trigger': {'enabled': True}}
    secrets = TriggerSecrets(db, SecretBox(new_key()))
    issuing = WorkflowCatalog(History(db), default_registry(), trigger_secrets=secrets)
    await issuing.put('tick', accepting, NOW - timedelta(hours=2))
    assert len((await started_after_a_stop(db, trigger={'enabled': True})).calls) == 1

    async with db.engine.begin() as conn:
        await conn.execute(delete(automation))
    assert await issuing.issue_missing_trigger_secrets() == ['tick']
    assert len((await started_after_a_stop(db, trigger={'enabled': True})).calls) == 1
    stored = await secrets.read('tick')
    assert stored is not None and stored.secret
