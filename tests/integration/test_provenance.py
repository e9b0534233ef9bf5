"""Provenance: a run from each source records how it was started, and ``GET /api/executions?trigger=`` filters by it.

The system and its REST API in-process (:mod:`webhook_app`): the API starts one run, the workflow's cron job fires
on the real timers (brought forward: it ticks once a year, so no tick of its own falls in the test), a signed
``POST /hooks/{id}`` starts one and a rerun starts one. A run from a page's Run button is in
``tests/ui/test_provenance_ui.py``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signed_hooks import signed
from webhook_app import App, running_app

TICKING = {
    'id': 'ticking',
    'name': 'Ticking',
    'trigger': {'enabled': True},
    'schedule': {'cron': '0 0 1 1 *', 'timezone': 'Europe/Berlin'},
    'nodes': [{'id': 'echo', 'type': 'transform', 'config': {'expression': 'input'}}],
}


async def executions(app: App, **params: Any) -> dict[str, Any]:
    response = await app.api.get('/api/executions', params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for_new(app: App, known: set[str], timeout: float = 10.0) -> str:
    async with asyncio.timeout(timeout):
        while True:
            found = {item['id'] for item in (await executions(app, workflow_id='ticking'))['items']} - known
            if found:
                (execution_id,) = found
                return execution_id
            await asyncio.sleep(0.02)


async def test_every_source_records_its_trigger_and_the_list_filters_by_it(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        assert (await app.api.put('/api/workflows/ticking', json=TICKING)).status_code == 201

        started = await app.api.post('/api/workflows/ticking/executions', json={'input': {'via': 'api'}})
        by_api = started.json()['id']

        app.system.timers.scheduler.modify_job('cron:ticking', next_run_time=datetime.now(UTC))  # the real job, early
        by_schedule = await wait_for_new(app, {by_api})

        secret = (await app.api.get('/api/workflows/ticking/trigger/secret')).json()['secret']
        body = json.dumps({'via': 'hook'}).encode()
        headers = signed(secret, body, message_id='msg_provenance_1')
        hooked = await app.public.post('/hooks/ticking', content=body, headers=headers)
        assert hooked.status_code == 202, hooked.text
        by_hook = hooked.json()['execution_id']

        await app.wait_execution(by_api)
        rerun = await app.api.post(f'/api/executions/{by_api}/rerun', json={})
        assert rerun.status_code == 202, rerun.text
        by_rerun = rerun.json()['id']

        triggers = {}
        for execution_id in (by_api, by_schedule, by_hook, by_rerun):
            summary = await app.wait_execution(execution_id)
            triggers[execution_id] = summary['trigger']
            events = (await app.api.get(f'/api/executions/{execution_id}/events', params={'limit': 1})).json()
            assert events[0]['type'] == 'execution.queued' and events[0]['data']['trigger'] == summary['trigger']
        assert triggers == {
            by_api: {'type': 'api'},
            by_schedule: {'type': 'schedule', 'cron': '0 0 1 1 *', 'timezone': 'Europe/Berlin'},
            by_hook: {'type': 'hook', 'webhook-id': 'msg_provenance_1'},
            by_rerun: {'type': 'rerun', 'retry_of': by_api},
        }

        for kind, expected in (('api', by_api), ('schedule', by_schedule), ('hook', by_hook), ('rerun', by_rerun)):
            listed = await executions(app, trigger=kind)
            assert [item['id'] for item in listed['items']] == [expected] and listed['total'] == 1
            assert listed['items'][0]['trigger_type'] == kind
        assert (await executions(app, trigger='ui'))['total'] == 0
        unknown = await app.api.get('/api/executions', params={'trigger': 'cron'})
        assert unknown.status_code == 422
        assert unknown.json()['detail'] == "trigger must be one of api, ui, schedule, hook, rerun, got 'cron'"
