"""Cron schedules: armed from workflow definitions, following catalog changes, paused durably."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmon.automation.schedules import ScheduleNotFound, ScheduleService
from flowmon.engine.core.events import utcnow
from flowmon.engine.nodes import default_registry
from flowmon.infra.timers import Timers
from flowmon.store import Database, History, WorkflowCatalog


def workflow(cron: str | None, timezone: str = 'UTC') -> dict[str, Any]:
    definition: dict[str, Any] = {
        'id': 'tick',
        'name': 'Tick',
        'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': 'tick'}}],
    }
    if cron is not None:
        definition['schedule'] = {'cron': cron, 'timezone': timezone}
    return definition


class Starts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.triggers: list[Mapping[str, Any]] = []
        self.missing: set[str] = set()

    async def __call__(self, workflow_id: str, input: Any, *, trigger: Mapping[str, Any]) -> str:
        if workflow_id in self.missing:
            raise LookupError(workflow_id)
        self.calls.append((workflow_id, input))
        self.triggers.append(trigger)
        return f'exec-{len(self.calls)}'


@pytest.fixture
async def parts(database: Database) -> AsyncIterator[tuple[WorkflowCatalog, Timers, Starts, Database]]:
    timers = Timers()
    timers.start()
    yield WorkflowCatalog(History(database), default_registry()), timers, Starts(), database
    timers.shutdown()


async def started(parts: Any) -> ScheduleService:
    """A schedule service on the parts, started (a new process on the same database, if one ran before)."""
    catalog, timers, starts, database = parts
    service = ScheduleService(database, catalog, timers, starts)
    await service.start()
    return service


async def test_a_schedule_is_armed_coalesced_with_a_misfire_grace_and_fires(parts: Any) -> None:
    catalog, timers, starts, _database = parts
    await catalog.put('tick', workflow('*/5 * * * *'), utcnow())
    before = datetime.now(UTC)
    schedules = await started(parts)
    info = await schedules.info('tick')
    after = datetime.now(UTC)  # (a five-minute mark may pass between the arming and this line)
    next_run = datetime.fromisoformat(info['next_run_at'])
    assert info['paused'] is False and before < next_run <= after + timedelta(minutes=5)
    assert next_run.minute % 5 == 0 and next_run.second == 0
    job = timers.scheduler.get_job('cron:tick')
    assert job.coalesce is True and job.misfire_grace_time == 60

    await job.func(*job.args)  # what APScheduler runs at the fire time
    assert starts.calls[0][0] == 'tick' and starts.calls[0][1]['trigger'] == 'schedule'
    assert starts.triggers == [{'type': 'schedule', 'cron': '*/5 * * * *', 'timezone': 'UTC'}]  # its provenance
    await schedules.stop()
    assert not timers.armed('cron:tick')


async def test_schedules_follow_catalog_changes(parts: Any) -> None:
    catalog, timers, _starts, _database = parts
    schedules = await started(parts)
    with pytest.raises(ScheduleNotFound):
        await schedules.info('tick')
    await catalog.put('tick', workflow('0 9 * * *', 'Asia/Tokyo'), utcnow())
    info = await schedules.info('tick')
    assert info['timezone'] == 'Asia/Tokyo'
    assert datetime.fromisoformat(info['next_run_at']).astimezone(UTC).hour == 0  # 09:00 in Tokyo
    await catalog.put('tick', workflow(None), utcnow())
    assert not timers.armed('cron:tick')
    await catalog.put('tick', workflow('* * * * *'), utcnow())
    await catalog.delete('tick')
    assert not timers.armed('cron:tick')
    await schedules.stop()


async def test_pause_is_durable_across_restarts(parts: Any) -> None:
    catalog, timers, _starts, _database = parts
    await catalog.put('tick', workflow('* * * * *'), utcnow())
    first = await started(parts)
    paused = await first.pause('tick')
    assert paused['paused'] is True and paused['next_run_at'] is None
    await first.stop()

    second = await started(parts)  # a new process on the same database
    assert (await second.info('tick'))['paused'] is True
    assert timers.scheduler.get_job('cron:tick').next_run_time is None
    resumed = await second.resume('tick')
    assert resumed['paused'] is False and resumed['next_run_at'] is not None
    await second.stop()


async def test_a_fire_for_a_vanished_workflow_removes_its_schedule(parts: Any) -> None:
    catalog, timers, starts, _database = parts
    await catalog.put('tick', workflow('* * * * *'), utcnow())
    schedules = await started(parts)
    starts.missing.add('tick')
    job = timers.scheduler.get_job('cron:tick')
    await job.func(*job.args)
    assert not timers.armed('cron:tick')
    await schedules.stop()
