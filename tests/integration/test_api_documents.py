"""The request bodies that ``/openapi.json`` documents for routes that parse their body themselves.

Clients and the fuzz run (tests/fuzz) generate requests from these schemas, so they must accept what the API
accepts (every shipped workflow, YAML too, secret references, an export as the API writes it) and must not
be vacuous (an unknown node type is outside them, as the API refuses it).
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from inprocess import put
from waiting import until

from flowmon.engine.documents import load_document

EXAMPLES = Path(__file__).resolve().parents[2] / 'data' / 'workflows'
JSON = {'content-type': 'application/json'}
QUICK = {
    'id': 'quick',
    'name': 'Quick',
    'nodes': [
        {'id': 'shape', 'type': 'transform', 'config': {'expression': '{n: input.n}'}},
        {'id': 'say', 'type': 'log', 'config': {'message': {'$secret': 'greeting'}}},
    ],
    'edges': [{'source': 'shape', 'target': 'say'}],
}


def workflow_validator(app: FastAPI) -> Any:
    return jsonschema_rs.validator_for(body_schemas(app, '/api/workflows/{workflow_id}', 'put')['application/json'])


def body_schemas(app: FastAPI, path: str, method: str) -> dict[str, Any]:
    return {
        media_type: content['schema']
        for media_type, content in app.openapi()['paths'][path][method]['requestBody']['content'].items()
    }


def test_the_document_has_no_dangling_local_references(app: FastAPI) -> None:
    text = json.dumps(app.openapi())
    assert '#/$defs/' not in text  # OpenAPI would resolve those against the whole document


def test_the_trigger_route_declares_the_signature_headers(app: FastAPI) -> None:
    operation = app.openapi()['paths']['/hooks/{workflow_id}']['post']
    headers = {p['name']: p for p in operation['parameters'] if p['in'] == 'header'}
    assert set(headers) == {'webhook-id', 'webhook-timestamp', 'webhook-signature'}
    assert all(header['required'] and header['description'] for header in headers.values())
    assert [p['name'] for p in operation['parameters'] if p['in'] == 'path'] == ['workflow_id']


def test_the_document_declares_the_bearer_token_on_every_operation_that_needs_it(app: FastAPI) -> None:
    """So /docs shows Authorize (and sends the token with Try it out), and generated clients send it; the health
    check and the signed trigger take no token."""
    document = app.openapi()
    assert document['components']['securitySchemes'] == {
        'bearerToken': {
            'type': 'http',
            'scheme': 'bearer',
            'description': 'The access token (FLOWMON_TOKEN), sent as `Authorization: Bearer <token>`.',
        }
    }
    operations = [(path, method, op) for path, item in document['paths'].items() for method, op in item.items()]
    assert len(operations) > 30
    for path, method, operation in operations:
        public = path in ('/api/health', '/hooks/{workflow_id}')
        assert operation.get('security') == (None if public else [{'bearerToken': []}]), (method, path)


def documented_error(app: FastAPI, path: str, method: str, code: int) -> Any:
    """A validator of the answer ``/openapi.json`` documents for ``code`` of ``method path``."""
    document = app.openapi()
    schema = document['paths'][path][method]['responses'][str(code)]['content']['application/json']['schema']
    return jsonschema_rs.validator_for({**schema, 'components': document['components']})


def test_every_refusal_is_documented_as_the_one_error_model(app: FastAPI) -> None:
    """Not FastAPI's HTTPValidationError (``detail`` a list): a client generated from the document reads every 4xx."""
    document = app.openapi()
    assert 'HTTPValidationError' not in json.dumps(document) and 'ValidationError' not in document['components']
    for path, item in document['paths'].items():
        for method, operation in item.items():
            responses = operation['responses']
            refusals = {code: response for code, response in responses.items() if code.startswith('4')}
            assert refusals or path == '/api/health', (method, path)  # (the one operation that refuses nothing)
            for code, response in refusals.items():
                assert response['description'], (method, path, code)
                assert response['content'] == {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}
            assert '401' in responses or 'security' not in operation, (method, path)
            assert ('404' in responses) or '{' not in path, (method, path)
    hook = document['paths']['/hooks/{workflow_id}']['post']
    assert hook['responses']['202']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/HookAccepted'
    }
    assert set(document['components']['schemas']['HookAccepted']['required']) == {
        'execution_id',
        'workflow_id',
        'replayed',
    }
    assert 'security' not in hook and hook['responses']['401']['description'].startswith('No valid signature')
    assert {'400', '401', '404', '413', '422'} <= set(
        document['paths']['/api/workflows/{workflow_id}/executions']['post']['responses']
    )


async def test_the_answers_fit_the_documented_error_model(app: FastAPI, client: httpx.AsyncClient) -> None:
    start = '/api/workflows/{workflow_id}/executions'
    cases = [
        (start, 'post', 422, client.post('/api/workflows/quick/executions', json={'input': [1, 2]})),
        (start, 'post', 404, client.post('/api/workflows/nope/executions', json={'input': {}})),
        (start, 'post', 400, client.post('/api/workflows/quick/executions', content=b'{"input": ', headers=JSON)),
        (start, 'post', 401, client.post('/api/workflows/quick/executions', json={}, headers={'Authorization': ''})),
        ('/api/executions/{execution_id}', 'get', 404, client.get('/api/executions/nope')),
        ('/api/executions', 'get', 422, client.get('/api/executions', params={'limit': 'many'})),
    ]
    assert (
        await client.put('/api/workflows/quick', json={**QUICK, 'nodes': QUICK['nodes'][:1], 'edges': []})
    ).status_code == 201
    for path, method, code, request in cases:
        response = await request
        assert response.status_code == code, (path, response.text)
        body = response.json()
        documented_error(app, path, method, code).validate(body)
        assert isinstance(body['detail'], str) and body['detail']
        if code == 422 and 'errors' in body:
            assert body['errors'][0]['loc'][0] in ('body', 'query'), body


async def test_the_answers_a_script_reads_most_fit_their_documented_models(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Workflows, executions (a page, one, one at a position), events, start, cancel and rerun (and their 409),
    trigger and endpoint secrets (read and rotated): each answer as sent fits the model ``/openapi.json`` gives it,
    and the models are not vacuous (a field of the wrong type is outside)."""
    await put(client, {**QUICK, 'nodes': QUICK['nodes'][:1], 'edges': []})
    started = await client.post('/api/workflows/quick/executions', json={'input': {'n': 1}})
    execution_id = started.json()['id']

    async def ended() -> bool:
        return (await client.get(f'/api/executions/{execution_id}')).json()['status'] == 'succeeded'

    await until(ended, 'the execution to succeed')
    rerun = await client.post(f'/api/executions/{execution_id}/rerun', json={})
    await put(
        client, {'id': 'slow', 'name': 'Slow', 'nodes': [{'id': 'wait', 'type': 'delay', 'config': {'seconds': 60}}]}
    )
    running = await client.post('/api/workflows/slow/executions', json={'input': {}})
    still_running = await client.post(f'/api/executions/{running.json()["id"]}/rerun', json={})
    cancel = await client.post(f'/api/executions/{running.json()["id"]}/cancel')
    await put(client, {**QUICK, 'id': 'hooked', 'nodes': QUICK['nodes'][:1], 'edges': [], 'trigger': {'enabled': True}})
    trigger = '/api/workflows/{workflow_id}/trigger/secret'
    rotated_trigger = await client.post('/api/workflows/hooked/trigger/secret/rotate')
    subscription = {'url': 'https://x.test/', 'event_types': ['execution.failed']}
    endpoint_id = (await client.post('/api/webhooks/endpoints', json=subscription)).json()['id']
    endpoint = '/api/webhooks/endpoints/{endpoint_id}/secret'
    rotated_endpoint = await client.post(f'/api/webhooks/endpoints/{endpoint_id}/secret/rotate')
    execution = '/api/executions/{execution_id}'
    cases = [
        ('/api/workflows', 'get', 200, await client.get('/api/workflows')),
        ('/api/workflows/{workflow_id}/executions', 'post', 202, started),
        ('/api/executions', 'get', 200, await client.get('/api/executions')),
        (execution, 'get', 200, await client.get(f'/api/executions/{execution_id}')),
        (f'{execution}/state', 'get', 200, await client.get(f'/api/executions/{execution_id}/state?at=2')),
        (f'{execution}/events', 'get', 200, await client.get(f'/api/executions/{execution_id}/events')),
        (f'{execution}/rerun', 'post', 202, rerun),
        (f'{execution}/cancel', 'post', 202, cancel),
        (trigger, 'get', 200, await client.get('/api/workflows/hooked/trigger/secret')),
        (f'{trigger}/rotate', 'post', 200, rotated_trigger),
        (endpoint, 'get', 200, await client.get(f'/api/webhooks/endpoints/{endpoint_id}/secret')),
        (f'{endpoint}/rotate', 'post', 200, rotated_endpoint),
        (f'{execution}/cancel', 'post', 409, await client.post(f'/api/executions/{execution_id}/cancel')),
        (f'{execution}/rerun', 'post', 409, still_running),
    ]
    for path, method, code, response in cases:
        assert response.status_code == code, (path, response.text)
        validator = documented_error(app, path, method, code)
        body = response.json()
        assert body, path
        validator.validate(body)
        wrong = {**body, 'status': 42} if isinstance(body, dict) and 'status' in body else None
        if code == 409:
            wrong = {**body, 'detail': ['not', 'words']}
        elif path.endswith(('/secret', '/rotate')):
            if path.endswith('/rotate'):  # in the grace period: the previous secret and its end are checked too
                assert body['previous_secret'] and body['previous_secret_expires_at'], body
            wrong = {**body, 'secret': None}
        if path == '/api/executions':
            wrong = {**body, 'items': [{**body['items'][0], 'progress': {'done': 'all'}}]}
        elif path in ('/api/workflows', f'{execution}/events'):
            wrong = [{**body[0], 'id' if path == '/api/workflows' else 'seq': None}]
        assert wrong is not None and not validator.is_valid(wrong), path


def test_put_documents_json_and_yaml_with_one_schema_per_node_type(app: FastAPI) -> None:
    schemas = body_schemas(app, '/api/workflows/{workflow_id}', 'put')
    assert set(schemas) == {'application/json', 'application/yaml'}
    assert schemas['application/json'] == schemas['application/yaml']
    variants = schemas['application/json']['properties']['nodes']['items']['oneOf']
    types = [variant['properties']['type']['const'] for variant in variants]
    installed = sorted(entry_point.name for entry_point in entry_points(group='flowmon.node_types'))
    assert types == installed  # every installed node type: the built-ins and the example plugin's
    assert {'condition', 'delay', 'fail', 'http', 'log', 'python', 'transform', 'webhook'} <= set(types)
    assert 'id' not in schemas['application/json']['required']  # the path names the workflow


@pytest.mark.parametrize('path', sorted(EXAMPLES.iterdir()), ids=lambda path: path.name)
def test_every_shipped_workflow_fits_the_documented_schema(app: FastAPI, path: Path) -> None:
    document = load_document(path.read_bytes(), yaml_allowed=path.suffix in ('.yaml', '.yml'))
    workflow_validator(app).validate(document)


async def test_what_the_schema_accepts_and_refuses_the_api_does_too(app: FastAPI, client: httpx.AsyncClient) -> None:
    validator = workflow_validator(app)
    assert (await client.put('/api/secrets/greeting', json={'value': 'hello'})).status_code == 201
    assert validator.is_valid(QUICK)
    assert (await client.put('/api/workflows/quick', json=QUICK)).status_code == 201

    unknown_type = {**QUICK, 'nodes': [{'id': 'x', 'type': 'teleport', 'config': {}}], 'edges': []}
    assert not validator.is_valid(unknown_type)
    response = await client.put('/api/workflows/quick', json=unknown_type)
    assert response.status_code == 422
    assert 'teleport' in response.json()['detail']

    choice_from_a_secret = {**QUICK, 'nodes': [{'id': 'x', 'type': 'log', 'config': {'message': 'm'}}], 'edges': []}
    choice_from_a_secret['nodes'][0]['config']['level'] = {'$secret': 'greeting'}
    assert not validator.is_valid(choice_from_a_secret)
    assert (await client.put('/api/workflows/quick', json=choice_from_a_secret)).status_code == 422


async def test_a_secret_name_with_a_line_break_after_it_is_refused_as_the_schema_refuses_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    stored = await client.put('/api/secrets/greeting%0A', json={'value': 'hello'})
    assert stored.status_code == 422 and 'secret name' in stored.json()['detail']
    assert (await client.get('/api/secrets')).json() == []
    referring = {**QUICK, 'nodes': [{'id': 'x', 'type': 'log', 'config': {'message': {'$secret': 'greeting\n'}}}]}
    assert not workflow_validator(app).is_valid({**referring, 'edges': []})
    response = await client.put('/api/workflows/quick', json={**referring, 'edges': []})
    assert response.status_code == 422 and "'greeting\\n' is not a secret name" in response.json()['detail']


async def exported(client: httpx.AsyncClient, execution_id: str) -> httpx.Response | None:
    export = await client.get(f'/api/executions/{execution_id}/export')
    return None if export.status_code == 409 else export


async def test_an_export_fits_the_documented_import_schema_and_imports(app: FastAPI, client: httpx.AsyncClient) -> None:
    schema = body_schemas(app, '/api/executions/import', 'post')['application/json']
    assert (await client.put('/api/secrets/greeting', json={'value': 'hello'})).status_code == 201
    assert (await client.put('/api/workflows/quick', json=QUICK)).status_code == 201
    response = await client.post('/api/workflows/quick/executions', json={'input': {'n': 1}})
    assert response.status_code == 202, response.text
    execution_id = response.json()['id']
    # 409 until the execution has finished and its events are written
    export = await until(
        lambda: exported(client, execution_id), f'the export of {execution_id}', seen=lambda: 'HTTP 409'
    )
    assert export.status_code == 200, export.text
    document = export.json()
    jsonschema_rs.validator_for(schema).validate(document)
    assert (await client.post('/api/executions/import', json=document)).status_code == 201
    assert not jsonschema_rs.validator_for(schema).is_valid({**document, 'format': 'something.else'})


def error_model(app: FastAPI) -> Any:
    """A validator of the one ``Error`` model of ``/openapi.json``."""
    document = app.openapi()
    return jsonschema_rs.validator_for({'$ref': '#/components/schemas/Error', 'components': document['components']})


async def test_a_refusal_about_one_input_says_where_it_is_as_a_schema_refusal_does(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A script finds the culprit in ``errors[].loc`` whichever check refused it (the schema's or the use case's),
    and ``detail`` keeps its words."""
    await put(client, {**QUICK, 'nodes': QUICK['nodes'][:1], 'edges': []})
    endpoint = {'url': 'ftp://example.com/hook', 'event_types': ['execution.failed']}
    cases = [
        (client.get('/api/executions', params={'limit': 0}), 422, ['query', 'limit'], 'query.limit: Input should'),
        (client.get('/api/executions', params={'status': 'bogus'}), 422, ['query', 'status'], 'status must be one'),
        (client.get('/api/executions', params={'q': 'ab'}), 422, ['query', 'q'], 'q must be at least 3 characters'),
        (client.get('/api/executions', params={'origin': 'x'}), 422, ['query', 'origin'], 'origin must be local'),
        (client.get('/api/webhooks/deliveries', params={'status': 'x'}), 422, ['query', 'status'], 'status must'),
        (client.post('/api/webhooks/endpoints', json=endpoint), 422, ['body', 'url'], 'url: only http and https'),
        (
            client.post('/api/webhooks/endpoints', json={**endpoint, 'bogus': 1}),
            422,
            ['body', 'bogus'],
            'bogus: unknown key (known: url, event_types, description, headers, auth, enabled)',
        ),
        (  # a body's key that has no place is said as a workflow's is, with the keys that place takes
            client.post('/api/workflows/quick/executions', json={'inputs': {'n': 1}}),
            422,
            ['body', 'inputs'],
            "inputs: unknown key (known: input, priority; did you mean 'input'?)",
        ),
        (
            client.post(
                '/api/webhooks/deliveries',
                json={'url': 'https://x.test/', 'body': {}, 'auth': {'type': 'bearer', 'tok': 'x'}},
            ),
            422,
            ['body', 'auth', 'tok'],
            "auth.tok: unknown key (known: type, token, username, password, header, value; did you mean 'token'?)",
        ),
        (  # a field named body is named (the detail said 'Field required' alone)
            client.post('/api/webhooks/deliveries', json={'url': 'https://x.test/'}),
            422,
            ['body', 'body'],
            'body: Field required',
        ),
        (  # a body missing or not an object is said to be the body (the detail was 'Field required' alone)
            client.post('/api/executions/bulk'),
            422,
            ['body'],
            'the request body is required: a JSON object',
        ),
        (client.post('/api/views', json=[1]), 422, ['body'], 'the request body must be a JSON object'),
        (  # a value that is not an object is said so, as in a workflow (not 'Input should be a valid dictionary')
            client.post('/api/workflows/quick/executions', json={'input': [1]}),
            422,
            ['body', 'input'],
            'input: Input should be an object',
        ),
        (
            client.post('/api/executions/bulk', json={'action': 'cancel', 'filter': {'status': 'x'}}),
            422,
            ['body', 'filter', 'status'],
            'status must be one of',
        ),
        (
            client.post('/api/views', json={'name': 'v', 'filter': {'trigger': 'x'}}),
            422,
            ['body', 'filter', 'trigger'],
            'filter.trigger must be one of',
        ),
        (client.put('/api/secrets/a%20b', json={'value': 'x'}), 422, ['path', 'name'], "secret name 'a b' must"),
        (client.put('/api/secrets/ab', json={'value': ''}), 422, ['body', 'value'], 'the value must not be empty'),
        (
            client.delete('/api/workflows/quick', headers={'If-Match': ','}),
            422,
            ['header', 'If-Match'],
            'If-Match: give the ETag',
        ),
        (
            client.get('/api/events/stream', headers={'Last-Event-ID': 'zz'}),
            400,
            ['header', 'last-event-id'],
            'Last-Event-ID must be <execution id>:<seq>',
        ),
        (  # a seq past any an event can have (PostgreSQL's column is 32-bit: it answered 500)
            client.get('/api/events/stream', headers={'Last-Event-ID': f'run-1:{2**31}'}),
            400,
            ['header', 'last-event-id'],
            'Last-Event-ID must be <execution id>:<seq>',
        ),
        (
            client.post('/api/workflows/quick/executions', content=b'{"input": {"x": NaN}}', headers=JSON),
            422,
            ['body', 'input', 'x'],
            'the execution input at x: NaN and Infinity are not JSON numbers',
        ),
        (
            client.post(
                '/api/workflows/quick/executions', content=b'{"input": {"o": {"t": [Infinity]}}}', headers=JSON
            ),
            422,
            ['body', 'input', 'o', 't', 0],
            'the execution input at o.t[0]: NaN and Infinity are not JSON numbers',
        ),
        (  # a number too large for a float, named as typed (Python reads it as an infinity)
            client.post('/api/workflows/quick/executions', content=b'{"input": {"n": [1, -1e999]}}', headers=JSON),
            422,
            ['body', 'input', 'n', 1],
            'the execution input at n[1]: -1e999 is out of range: JSON numbers must be finite',
        ),
        (  # an integer beyond 64 bits too (it was refused at ['body', 'input'], its place in the message alone)
            client.post(
                '/api/workflows/quick/executions', json={'input': {'order': {'n': 123456789012345678901234567890}}}
            ),
            422,
            ['body', 'input', 'order', 'n'],
            'the execution input at order.n holds an integer outside the 64-bit range',
        ),
    ]
    nodes = [
        {'id': 'a', 'type': 'log', 'config': {'message': 'hi'}},
        {'id': 'b', 'type': 'log', 'config': {'message': 'hi'}},
        {'id': 'c', 'type': 'http', 'config': {'url': 'https://x.test/', 'timeout_seconds': -1}},
    ]
    secret = {'X-Plain': 'yes', 'X-Key': {'$secret': 'no_such_secret'}}  # a reference to a secret never stored
    definitions = [  # PUT /api/workflows/w: a definition the workflow's checks refuse, where, the refusal's words
        ({'nodes': []}, ['body', 'name'], 'name: Field required'),
        ({'name': 'W', 'nodes': 'no'}, ['body', 'nodes'], 'nodes: Input should be a valid list'),
        ({'name': 'W', 'nodes': nodes}, ['body', 'nodes', 2, 'config', 'timeout_seconds'], "node 'c' (http)"),
        (
            {'name': 'W', 'nodes': [nodes[0], {**nodes[1], 'config': {'mesage': 'hi'}}]},
            ['body', 'nodes', 1, 'config', 'mesage'],
            "node 'b' (log): unknown config key 'mesage'",
        ),
        ({'name': 'W', 'nodes': [nodes[0], {**nodes[1], 'type': 'nope'}]}, ['body', 'nodes', 1, 'type'], "node 'b'"),
        ({'name': 'W', 'nodes': [nodes[0], nodes[0]]}, ['body', 'nodes', 1, 'id'], "duplicate node id 'a'"),
        (
            {'name': 'W', 'nodes': nodes[:2], 'edges': [{'source': 'a', 'target': 'z'}]},
            ['body', 'edges', 0, 'target'],
            "edges[0] refers to missing node 'z'",
        ),
        ({'id': 'v', 'name': 'W', 'nodes': nodes[:1]}, ['body', 'id'], "id 'v' in the body does not match 'w'"),
        (  # a key of the body named as the route's path parameter is still the body's
            {'name': 'W', 'nodes': nodes[:1], 'workflow_id': 'w'},
            ['body', 'workflow_id'],
            'workflow_id: unknown key (known: id, name, description, timeout_seconds, nodes, edges, schedule, trigger',
        ),
        (
            {'name': 'W', 'nodes': nodes[:1], 'schedule': {'cron': '0 0 31 2 *'}},
            ['body', 'schedule', 'cron'],
            "schedule.cron: invalid cron expression '0 0 31 2 *': it never fires",
        ),
        (
            {'name': 'W', 'nodes': [nodes[0], {**nodes[2], 'config': {'url': 'https://x.test/', 'headers': secret}}]},
            ['body', 'nodes', 1, 'config', 'headers', 'X-Key'],
            "unknown secret 'no_such_secret'",
        ),
        (
            {'name': 'W', 'nodes': [nodes[0], {'id': 'd', 'type': 'webhook', 'config': {'endpoint': 'nope'}}]},
            ['body', 'nodes', 1, 'config', 'endpoint'],
            "unknown webhook endpoint 'nope'",
        ),
    ]
    cases += [(client.put('/api/workflows/w', json=body), 422, loc, words) for body, loc, words in definitions]
    known = 'known: workflow_id, status, trigger, origin, q, since, until'
    view_filters = [  # a key no view takes is unknown whatever its value (not 'Input should be a valid string')
        ({'status': 'failed', 'limit': 5}, 'limit', f'filter.limit: unknown key ({known})'),
        ({'stauts': 'failed'}, 'stauts', f"filter.stauts: unknown key ({known}; did you mean 'status'?)"),
    ]
    cases += [
        (client.post('/api/views', json={'name': 'v', 'filter': view_filter}), 422, ['body', 'filter', key], words)
        for view_filter, key, words in view_filters
    ]
    cases += [  # a bulk action's filter, a saved view's filter as it is, says it alike (not 'Extra inputs are ...')
        (
            client.post('/api/executions/bulk', json={'action': 'cancel', 'filter': bulk_filter}),
            422,
            ['body', 'filter', key],
            words,
        )
        for bulk_filter, key, words in view_filters
    ]
    validator = error_model(app)
    for request, code, loc, words in cases:
        response = await request
        body = response.json()
        assert response.status_code == code, (loc, response.text)
        validator.validate(body)
        assert body['detail'].startswith(words), body
        assert [error['loc'] for error in body.get('errors', ())] == [loc], body
        assert body['errors'][0]['msg'] in body['detail'], body


async def test_a_body_with_thousands_of_errors_gets_a_bounded_refusal(client: httpx.AsyncClient) -> None:
    """A body of thousands of unknown keys (a megabyte of them fits the body's budget) is refused with the first 20
    errors and the count of the rest, each said once: listing them all made the answer larger than the request."""
    keys = {f'k{n}': 0 for n in range(3000)}
    response = await client.post('/api/executions/bulk', json={'action': 'cancel', 'filter': keys})
    assert response.status_code == 422
    body = response.json()
    assert len(body['errors']) == 20
    assert body['errors'][0]['loc'] == ['body', 'filter', 'k0']
    assert body['errors'][0]['msg'].startswith('unknown key (known: workflow_id, status')
    assert body['detail'].endswith('(and 2995 more, errors lists the first 20)')
    assert body['detail'].count('unknown key') == 5

    long_key = 'x' * 100_000  # no typo of a known key: said without a "did you mean" (and not compared at length)
    response = await client.post('/api/executions/bulk', json={'action': 'cancel', 'filter': {long_key: 0}})
    assert response.status_code == 422
    assert 'did you mean' not in response.json()['errors'][0]['msg']
    response = await client.post('/api/executions/bulk', json={'action': 'cancel', 'filter': {'stauts': 0}})
    assert "did you mean 'status'?" in response.json()['errors'][0]['msg']
    response = await client.post(
        '/api/executions/bulk',
        json={'action': 'cancel', 'filter': {'a1': 0, 'a2': 0, 'a3': 0, 'a4': 0, 'a5': 0, 'a6': 0}},
    )
    assert len(response.json()['errors']) == 6
    assert response.json()['detail'].endswith('(and 1 more, in errors)')
