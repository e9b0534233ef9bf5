"""The operations use cases over the real composition root: deleting an execution (nothing shows a ghost of it),
the retention job (what it deletes, its last result, its re-arming), and the status report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from quiet_examples import quiet_examples
from waiting import until

from flowmon.application import Application
from flowmon.application.errors import Conflict, Invalid, NotFound
from flowmon.application.retention import JOB_ID, MAX_INTERVAL_S, Retention
from flowmon.bootstrap import System
from flowmon.engine.core.events import utcnow
from flowmon.engine.core.provenance import api_trigger, ui_trigger
from flowmon.settings import Settings, load_settings
from flowmon.store.retention import Pruner, RetentionPolicy
from flowmon.store.webhook_tables import deliveries

QUICK = {'id': 'quick', 'name': 'Quick', 'nodes': [{'id': 'a', 'type': 'log', 'config': {'message': 'hi'}}]}
SLOW = {'id': 'slow', 'name': 'Slow', 'nodes': [{'id': 'w', 'type': 'delay', 'config': {'seconds': 30}}]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Keep the three newest finished executions; prune every hour (the tests prune when they want)."""
    return load_settings(
        {
            'FLOWMON_DATA_DIR': str(tmp_path / 'data'),
            'FLOWMON_WORKFLOWS_DIR': str(quiet_examples()),
            'FLOWMON_RETENTION_MAX_EXECUTIONS': '3',
        }
    )


@pytest.fixture
async def application(system: System) -> AsyncIterator[Application]:
    await system.application.workflows.put('quick', json.dumps(QUICK).encode())
    await system.application.workflows.put('slow', json.dumps(SLOW).encode())
    yield system.application


async def finished_run(system: System, workflow_id: str = 'quick') -> str:
    execution_id = await system.application.executions.start(workflow_id, {}, trigger=api_trigger())
    await system.engine.wait_idle()
    return execution_id


# --- delete -------------------------------------------------------------------------------------------------------


async def test_a_deleted_execution_is_gone_from_every_view(system: System, application: Application) -> None:
    keep = await finished_run(system)
    gone = await finished_run(system)
    await application.history.replay(gone)  # cached, as after a visit to its replay page
    assert application.live.get(gone) is not None  # and held by the live projection

    deleted = await application.executions.delete(gone)

    assert (deleted.executions, deleted.events, deleted.node_runs) == (1, 6, 1)
    assert application.live.get(gone) is None
    assert gone not in [state.id for state in application.live.states()]
    for read in (application.history.state, application.history.replay, application.history.events):
        with pytest.raises(NotFound):
            await read(gone)
    records, total = await application.history.page()
    assert [record.id for record in records] == [keep] and total == 1
    with pytest.raises(NotFound):
        await application.executions.delete(gone)  # afterwards: 404
    with pytest.raises(NotFound):
        await application.executions.delete('no-such-execution')


async def test_an_active_execution_cannot_be_deleted(system: System, application: Application) -> None:
    running = await application.executions.start('slow', {}, trigger=ui_trigger())
    await asyncio.sleep(0)
    with pytest.raises(Conflict, match=r'still (queued|running)'):
        await application.executions.delete(running)
    await application.executions.cancel(running)
    await system.engine.wait_idle()
    await application.executions.delete(running)  # once it has ended
    with pytest.raises(NotFound):
        await application.history.state(running)


async def test_the_list_refuses_an_unknown_trigger(application: Application) -> None:
    with pytest.raises(Invalid, match='trigger must be one of api, ui, schedule, hook, rerun'):
        await application.history.page(trigger='cron')


# --- retention ----------------------------------------------------------------------------------------------------


async def test_pruning_keeps_the_newest_finished_executions_and_remembers_what_it_did(
    system: System, application: Application
) -> None:
    runs = [await finished_run(system) for _ in range(6)]
    running = await application.executions.start('slow', {}, trigger=api_trigger())
    await application.history.replay(runs[0])

    result = await application.retention.prune()

    assert result.error is None and result.counts.executions == 3
    assert result.counts.rows()['events'] == 3 * 6
    assert application.retention.last is result
    records, _ = await application.history.page(limit=50)
    assert {record.id for record in records} == {*runs[3:], running}
    assert application.live.get(runs[0]) is None  # gone from the projection and the replay cache too
    with pytest.raises(NotFound):
        await application.history.replay(runs[0])
    assert (await application.history.replay(runs[5])).n == 6  # the kept ones are intact
    json.dumps(result.to_json())  # what /api/status shows is JSON


async def test_the_job_runs_at_start_and_is_armed_again_after_each_pruning(system: System) -> None:
    retention = system.application.retention
    assert retention.last is not None  # the start-up pruning (the system fixture waits for it)
    next_run = system.timers.next_run_time(JOB_ID)
    assert next_run is not None and 3599 < (next_run - retention.last.finished_at).total_seconds() < 3601
    await retention.stop()
    assert not system.timers.armed(JOB_ID)


async def test_an_interval_beyond_the_calendar_arms_the_next_pruning_ten_years_on(system: System) -> None:
    await system.application.retention.stop()  # this one takes the job's place
    retention = Retention(
        pruner=Pruner(system.db, delivery_final_statuses=['succeeded']),
        policy=RetentionPolicy(days=30, max_executions=0),
        interval_s=10**12,  # accepted: any value from 1
        timers=system.timers,
        history=system.application.history,
    )
    retention.start()
    last = await until(lambda: retention.last, 'its pruning at start')
    next_run = system.timers.next_run_time(JOB_ID)  # (armed again in the same step as ``last`` is set)
    assert next_run is not None and (next_run - last.finished_at).days == MAX_INTERVAL_S // 86_400
    await retention.stop()


async def test_pruned_deliveries_make_the_webhooks_pages_read_again(system: System) -> None:
    """The webhooks pages re-read when the deliveries' version moves: pruning settled ones moves it too (the list kept
    showing them until another delivery changed)."""
    old = utcnow() - timedelta(days=40)
    async with system.db.engine.begin() as conn:
        await conn.execute(
            deliveries.insert().values(
                id='d-old', webhook_id='msg_d-old', source='api', url='https://example.org/', headers='{}', body=b'{}',
                status='succeeded', attempts=1, round_base=0, max_attempts=3, created_at=old, updated_at=old,
                finished_at=old,
            )
        )  # fmt: skip
    before = system.application.deliveries.version
    result = await system.application.retention.prune()
    assert result.counts.deliveries == 1
    assert system.application.deliveries.version > before


# --- status -------------------------------------------------------------------------------------------------------


async def test_the_status_report_says_how_the_process_is_doing(system: System, application: Application) -> None:
    await finished_run(system)
    await application.retention.prune()
    report = await application.status.report()

    assert report['version'] == '0.1.0' and report['uptime_seconds'] >= 0
    assert report['database']['url'].startswith('sqlite+aiosqlite:///') and report['database']['size_bytes'] > 0
    assert report['recorder_backlog_events'] >= 0 and report['event_loop_lag_seconds'] >= 0
    assert report['connected_clients'] >= 0 and report['executions'] == {'active': 0, 'queued': 0}
    kinds = report['scheduler']['by_kind']
    assert {'retention', 'hooks', 'wh'} <= set(kinds) and report['scheduler']['jobs'] >= 3
    assert kinds['retention']['count'] == 1 and kinds['retention']['next_run_at'] is not None
    assert report['retention']['days'] == 30 and report['retention']['max_executions'] == 3
    assert report['retention']['interval_seconds'] == 3600
    assert report['retention']['last_pruning']['deleted']['executions'] == 0


def test_the_database_url_is_shown_without_its_password() -> None:
    from flowmon.store import Database

    assert Database('postgresql+asyncpg://flow:s3cret@db.example.org:5432/flowmon').display_url == (
        'postgresql+asyncpg://flow@db.example.org:5432/flowmon'
    )
    assert Database('sqlite+aiosqlite:////var/lib/flowmon/flowmon.db').display_url == (
        'sqlite+aiosqlite:////var/lib/flowmon/flowmon.db'
    )
