"""A NUL character in an address gets a clear 4xx naming it, the same on SQLite and PostgreSQL (whose text columns
cannot hold one: it failed there as a 500): the perimeter refuses it in a real process, and below it, an id that no
stored workflow or execution can have is not found before any query (the bare API app has no perimeter)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from flowmon_process import FlowmonProcess
from postgres_support import Storage
from signed_hooks import TRIGGERED
from webhook_app import running_app

TOKEN = 'nul-characters-test-token'
AUTH = {'Authorization': f'Bearer {TOKEN}'}

# (method, path, the loc of the refusal): public trigger addresses, then API routes that look an id or a filter up
NUL_ADDRESSES = [
    ('POST', '/hooks/%00', ['path']),
    ('POST', '/hooks/a%00b', ['path']),
    ('GET', '/api/workflows/%00', ['path']),
    ('DELETE', '/api/workflows/%00', ['path']),
    ('GET', '/api/workflows/%00/trigger', ['path']),
    ('GET', '/api/workflows/%00/trigger/secret', ['path']),
    ('POST', '/api/workflows/%00/trigger/secret/rotate', ['path']),
    ('GET', '/api/executions/%00', ['path']),
    ('GET', '/api/executions?workflow_id=%00', ['query', 'workflow_id']),
    ('GET', '/api/executions?q=abc%00', ['query', 'q']),
    ('GET', '/executions?workflow_id=a%00', ['query', 'workflow_id']),
]


@pytest.fixture
def flowmon(launch: Callable[..., FlowmonProcess], storage: Storage) -> FlowmonProcess:
    process = launch(FLOWMON_TOKEN=TOKEN, **storage.env)
    process.wait_started(token=TOKEN)
    return process


def test_a_nul_in_the_path_or_a_query_parameter_gets_400_naming_it(flowmon: FlowmonProcess) -> None:
    assert flowmon.api('PUT', '/api/workflows/triggered', json=TRIGGERED).status_code == 201
    with httpx.Client(base_url=flowmon.base_url, headers=AUTH, timeout=10.0) as client:
        for method, path, loc in NUL_ADDRESSES:
            response = client.request(method, path, content=b'{}' if method == 'POST' else None)
            assert response.status_code == 400, (method, path, response.text)
            body = response.json()
            assert 'holds a NUL character' in body['detail'], body
            assert [error['loc'] for error in body['errors']] == [loc], (path, body)
        assert client.get('/api/workflows/triggered').status_code == 200  # the rest is served as before
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as stranger:  # the token is checked first
        assert stranger.get('/api/workflows/%00').status_code == 401


# (method, path, the 404's detail): ids of no stored workflow's or execution's form, in the bare API app
UNKNOWN_IDS = [
    ('POST', '/hooks/a%00b', 'no trigger at this address'),
    ('POST', '/hooks/' + 'x' * 5000, 'no trigger at this address'),
    ('GET', '/api/workflows/%00', "workflow '\\x00' not found"),
    ('DELETE', '/api/workflows/a%20b', "workflow 'a b' not found"),
    ('GET', '/api/workflows/%00/trigger/secret', "workflow '\\x00' not found"),
    ('POST', '/api/workflows/a%00/trigger/secret/rotate', "workflow 'a\\x00' not found"),
    ('POST', '/api/workflows/%00/executions', "workflow '\\x00' not found"),
    ('GET', '/api/executions/%00', "execution '\\x00' not found"),
    ('GET', '/api/executions/x%00/events', "execution 'x\\x00' not found"),
]


async def test_an_id_no_stored_one_can_have_is_not_found(tmp_path: Path, storage: Storage) -> None:
    async with running_app(tmp_path, storage.env) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        for method, path, detail in UNKNOWN_IDS:
            client = app.public if path.startswith('/hooks/') else app.api
            response = await client.request(method, path, content=b'{}' if method == 'POST' else None)
            assert (response.status_code, response.json()['detail']) == (404, detail), path
        listed = await app.api.get('/api/executions', params={'workflow_id': 'a\x00'})
        assert listed.status_code == 422, listed.text
        assert [error['loc'] for error in listed.json()['errors']] == [['query', 'workflow_id']]
        assert 'workflow_id must be a workflow id' in listed.json()['detail']
        assert (await app.api.get('/api/workflows/triggered/trigger')).status_code == 200
