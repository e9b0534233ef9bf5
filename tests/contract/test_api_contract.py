"""Store contract through the REST API: a started system (the composition root) on each database, called over ASGI.
What the API says about executions is what the database holds, on SQLite as on PostgreSQL: lists, summaries, events,
cancel, rerun, export and import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sample_workflows import QUICK_CHAIN, WAIT_ONLY, transform

from flowmon.api import install_api
from flowmon.bootstrap import System
from flowmon.settings import Settings, load_settings

AUTH = {'Authorization': 'Bearer contract-token-0123456789'}
TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}
# prepare -> work -> report, whose first node passes non-ASCII text on as well
QUICK = {**QUICK_CHAIN, 'nodes': [transform('prepare', '{n: input.n, text: `"ü ✓"`}'), *QUICK_CHAIN['nodes'][1:]]}
SLOW = WAIT_ONLY


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The system of these tests (tests/conftest.py's ``system``) on the database of the dialect under test."""
    return load_settings({
        'FLOWMON_DATA_DIR': str(tmp_path / 'data'), 'FLOWMON_WORKFLOWS_DIR': str(tmp_path / 'none'),
        'FLOWMON_DATABASE_URL': database_url,
    })  # fmt: skip


@pytest.fixture
def token() -> str:
    return AUTH['Authorization'].split()[1]


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_api(app, system.application)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url='http://flowmon', headers=AUTH
    ) as client:
        for workflow in (QUICK, SLOW):
            assert (await client.put(f'/api/workflows/{workflow["id"]}', json=workflow)).status_code == 201
        yield client


async def start(client: httpx.AsyncClient, workflow_id: str, input: Any = None) -> str:
    response = await client.post(f'/api/workflows/{workflow_id}/executions', json={'input': input or {}})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


async def summary_when(
    client: httpx.AsyncClient,
    execution_id: str,
    done: Callable[[dict[str, Any]], bool] = lambda s: s['status'] in TERMINAL,
) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while not done(summary := (await client.get(f'/api/executions/{execution_id}')).json()):
            await asyncio.sleep(0.02)
    return summary


async def test_runs_are_listed_summarised_and_their_events_paged(client: httpx.AsyncClient) -> None:
    ids = [await start(client, 'quick', {'n': n}) for n in range(3)]
    summaries = [await summary_when(client, execution_id) for execution_id in ids]
    assert [s['status'] for s in summaries] == ['succeeded'] * 3
    assert summaries[2]['nodes']['prepare']['output'] == {'n': 2, 'text': 'ü ✓'}

    listed = (await client.get('/api/executions?workflow_id=quick&limit=2')).json()
    assert listed['total'] == 3 and [item['id'] for item in listed['items']] == ids[:0:-1]
    second_page = (await client.get('/api/executions?workflow_id=quick&limit=2&offset=2')).json()
    assert [item['id'] for item in second_page['items']] == ids[:1]
    assert (await client.get('/api/executions?status=failed')).json()['total'] == 0

    events = (await client.get(f'/api/executions/{ids[0]}/events')).json()
    assert [e['seq'] for e in events] == list(range(1, len(events) + 1))
    assert events[0]['type'] == 'execution.queued' and events[-1]['type'] == 'execution.completed'
    page = (await client.get(f'/api/executions/{ids[0]}/events?after_seq=3&limit=2')).json()
    assert [e['seq'] for e in page] == [4, 5]
    at = (await client.get(f'/api/executions/{ids[0]}/state?at=2')).json()
    assert at['status'] == 'running'


async def test_cancel_rerun_export_and_import(client: httpx.AsyncClient) -> None:
    running = await start(client, 'slow')
    await summary_when(client, running, lambda s: s['nodes']['wait']['status'] == 'running')
    assert (await client.post(f'/api/executions/{running}/cancel')).status_code == 202
    assert (await summary_when(client, running))['status'] == 'cancelled'
    assert (await client.post(f'/api/executions/{running}/cancel')).status_code == 409

    finished = await start(client, 'quick', {'n': 4})
    await summary_when(client, finished)
    rerun = await client.post(f'/api/executions/{finished}/rerun', json={'from_node': 'work'})
    assert rerun.status_code == 202, rerun.text
    again = await summary_when(client, rerun.json()['id'])
    assert again['retry_of'] == finished and again['nodes']['prepare']['reused'] is True

    exported = (await client.get(f'/api/executions/{finished}/export')).json()
    imported = await client.post('/api/executions/import', json=exported)
    assert imported.status_code == 201, imported.text
    copy = (await client.get(f'/api/executions/{imported.json()["id"]}')).json()
    original = (await client.get(f'/api/executions/{finished}')).json()
    assert {key: copy[key] for key in ('status', 'input', 'output', 'nodes')} == {
        key: original[key] for key in ('status', 'input', 'output', 'nodes')
    }
    listed = (await client.get('/api/executions?limit=10')).json()
    assert {item['id']: item['imported_from'] for item in listed['items']}[imported.json()['id']] == finished
