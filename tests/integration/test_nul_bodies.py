"""A NUL character inside a request body, a trigger body, an import file or what a node produces: a clear refusal
or failure naming it, the same on SQLite and PostgreSQL (whose text and jsonb columns cannot hold one, jsonb not even
as the \\u0000 escape: it failed there as a 500, or, for a run's input, stopped the recorder's writes). A lone
surrogate (the \\ud800 escape), which neither database stores as UTF-8, is refused alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from postgres_support import Storage
from signed_hooks import TRIGGERED, signed
from webhook_app import App, running_app

NUL = '\x00'
NUL_REFUSED = 'a NUL character (\\u0000) cannot be stored'
SURROGATE_REFUSED = 'a lone surrogate (\\ud800-\\udfff, half of a UTF-16 pair: no character) cannot be stored'
JSON = {'content-type': 'application/json'}
PYTHON_ENV = {'FLOWMON_PYTHON_MODULES': 'worker_functions'}
ENDPOINT = {'url': 'http://127.0.0.1:9/x', 'event_types': ['execution.completed']}

# (method, path, body, the loc of the refusal)
NUL_BODIES: list[tuple[str, str, Any, list[str | int]]] = [
    ('PUT', '/api/workflows/named', {**TRIGGERED, 'id': 'named', 'name': 'a' + NUL}, ['body', 'name']),
    (
        'PUT',
        '/api/workflows/configured',
        {**TRIGGERED, 'id': 'configured', 'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': NUL}}]},
        ['body', 'nodes', 0, 'config', 'message'],
    ),
    ('POST', '/api/workflows/triggered/executions', {'input': {'a': 'x' + NUL}}, ['body', 'input', 'a']),
    ('POST', '/api/workflows/triggered/executions', {'input': {'k' + NUL: 1}}, ['body', 'input', 'k' + NUL]),
    ('PUT', '/api/secrets/token', {'value': 'x' + NUL}, ['body', 'value']),
    ('POST', '/api/views', {'name': 'v' + NUL, 'filter': {}}, ['body', 'name']),
    ('POST', '/api/webhooks/endpoints', {**ENDPOINT, 'description': 'd' + NUL}, ['body', 'description']),
    ('POST', '/api/executions/bulk', {'action': 'delete', 'ids': [NUL]}, ['body', 'ids', 0]),
    (
        'POST',
        '/api/executions/bulk',
        {'action': 'delete', 'filter': {'workflow_id': NUL}},
        ['body', 'filter', 'workflow_id'],
    ),
]


def assert_refused(response: Any, status: int, loc: list[str | int], refusal: str = NUL_REFUSED) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert refusal in body['detail'], body
    assert [error['loc'] for error in body['errors']] == [loc], body


async def assert_still_recording(app: App) -> None:
    """A run started afterwards is recorded to its end (nothing was left that the database refuses)."""
    started = await app.api.post('/api/workflows/triggered/executions', json={'input': {'n': 1}})
    summary = await app.wait_execution(started.json()['id'])
    assert summary['status'] == 'succeeded' and summary['output'] == {'echo': {'n': 1}}


async def test_a_string_of_a_json_body_holding_a_nul_gets_422_naming_it(tmp_path: Path, storage: Storage) -> None:
    async with running_app(tmp_path, storage.env) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        for method, path, body, loc in NUL_BODIES:
            assert_refused(await app.api.request(method, path, json=body), 422, loc)
        yaml = 'id: yamled\nname: "a\\0"\nnodes: [{id: echo, type: transform, config: {expression: input}}]\n'
        put = await app.api.put('/api/workflows/yamled', content=yaml, headers={'content-type': 'application/yaml'})
        assert_refused(put, 422, ['body', 'name'])
        assert (await app.api.get('/api/workflows/named')).status_code == 404
        lone = b'{"input": {"a": "\\ud800"}}'
        started = await app.api.post('/api/workflows/triggered/executions', content=lone, headers=JSON)
        assert_refused(started, 422, ['body', 'input', 'a'], SURROGATE_REFUSED)
        await assert_still_recording(app)


async def test_a_signed_trigger_body_holding_a_nul_gets_422_naming_it(tmp_path: Path, storage: Storage) -> None:
    async with running_app(tmp_path, storage.env) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        secret = (await app.api.get('/api/workflows/triggered/trigger/secret')).json()['secret']
        body = json.dumps({'order': {'note': 'x' + NUL}}).encode()
        response = await app.public.post('/hooks/triggered', content=body, headers=signed(secret, body))
        assert_refused(response, 422, ['body', 'order', 'note'])
        lone = b'{"order": [1, "\\udc00"]}'
        response = await app.public.post('/hooks/triggered', content=lone, headers=signed(secret, lone))
        assert_refused(response, 422, ['body', 'order', 1], SURROGATE_REFUSED)
        assert (await app.api.get('/api/executions')).json()['total'] == 0
        await assert_still_recording(app)


async def test_an_import_holding_a_nul_gets_422(tmp_path: Path, storage: Storage) -> None:
    async with running_app(tmp_path, storage.env) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        started = await app.api.post('/api/workflows/triggered/executions', json={'input': {'note': 'marker'}})
        execution_id = started.json()['id']
        await app.wait_execution(execution_id)
        exported = (await app.api.get(f'/api/executions/{execution_id}/export')).text
        assert '"marker"' in exported
        poisoned = exported.replace('"marker"', '"mark\\u0000er"').encode()
        response = await app.api.post('/api/executions/import', content=poisoned)
        assert response.status_code == 422, response.text
        assert 'a NUL character (\\u0000) cannot be stored' in response.json()['detail']
        assert (await app.api.get('/api/executions')).json()['total'] == 1
        await assert_still_recording(app)


async def test_an_import_whose_error_text_holds_a_nul_gets_422(tmp_path: Path, storage: Storage) -> None:
    async with running_app(tmp_path, {**storage.env, **PYTHON_ENV}) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        node = {'id': 'p', 'type': 'python', 'config': {'callable': 'worker_functions:nul_error'}}
        assert (await app.api.put('/api/workflows/w', json={'name': 'W', 'nodes': [node]})).status_code == 201
        started = await app.api.post('/api/workflows/w/executions', json={})
        execution_id = started.json()['id']
        assert (await app.wait_execution(execution_id))['status'] == 'failed'
        exported = (await app.api.get(f'/api/executions/{execution_id}/export')).text
        assert 'bad\\\\x00byte' in exported  # the error as it is stored: the text \\x00
        poisoned = exported.replace('bad\\\\x00byte', 'bad\\u0000byte').encode()
        response = await app.api.post('/api/executions/import', content=poisoned)
        assert response.status_code == 422, response.text
        detail = response.json()['detail']
        assert detail == 'events[3] (node.failed): error holds a NUL character (\\u0000), which cannot be stored'
        assert (await app.api.get('/api/executions')).json()['total'] == 1
        await assert_still_recording(app)


async def test_a_node_whose_output_or_error_holds_a_nul_or_a_lone_surrogate_fails_and_is_recorded(
    tmp_path: Path, storage: Storage
) -> None:
    """An output is refused like any payload over the budget (the node fails, saying where the character is); an
    error message keeps it written as the text \\x00 (\\ud800 for a lone surrogate), so the failure is stored and
    shown as it was raised."""
    async with running_app(tmp_path, {**storage.env, **PYTHON_ENV}) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        for function, error in (
            ('nul_output', 'output at text: a NUL character (\\u0000) cannot be stored'),
            ('nul_error', 'ValueError: bad\\x00byte'),
            ('surrogate_output', f'output at text: {SURROGATE_REFUSED}'),
            ('surrogate_error', 'ValueError: half \\ud800 of a pair'),
        ):
            node = {'id': 'p', 'type': 'python', 'config': {'callable': f'worker_functions:{function}'}}
            workflow = {'id': function, 'name': function, 'nodes': [node]}
            assert (await app.api.put(f'/api/workflows/{function}', json=workflow)).status_code == 201
            started = await app.api.post(f'/api/workflows/{function}/executions', json={})
            summary = await app.wait_execution(started.json()['id'])
            assert summary['status'] == 'failed', summary
            assert summary['nodes']['p']['error'] == error, summary
        await assert_still_recording(app)
