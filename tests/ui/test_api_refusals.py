"""Refusals of the REST API through the whole app (``app.py``: every middleware in front of the routes), by the user
simulation's HTTP client: each refusal of an import names its place in the file in ``errors[].loc``, and a query
parameter that takes one value is refused when given twice, on every route."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
from nicegui.testing.user import User
from uisim import AUTH, api, start, wait_until_ended

IMPORT = '/api/executions/import'
ERROR_TYPES = {400: 'malformed', 413: 'too_large', 422: 'invalid'}


def assert_refused(response: httpx.Response, status: int, loc: list[str | int], words: str) -> None:
    """Refused with ``status`` and a ``detail`` that starts with ``words``, with one error at ``loc`` in the same
    words, as a schema's refusal is."""
    assert response.status_code == status, (loc, response.text)
    body = response.json()
    assert body['detail'].startswith(words), (loc, response.text)
    assert body == {
        'detail': body['detail'],
        'errors': [{'loc': loc, 'msg': body['detail'], 'type': ERROR_TYPES[status]}],
    }


async def exported(user: User) -> dict[str, Any]:
    """The export of a finished run of the quick workflow."""
    execution_id = await start(user, 'quick')
    await wait_until_ended(user, execution_id)
    response = await api(user, 'GET', f'/api/executions/{execution_id}/export')
    assert response.status_code == 200, response.text
    return dict(response.json())


async def send(user: User, content: bytes | str) -> httpx.Response:
    return await user.http_client.post(IMPORT, content=content, headers={**AUTH, 'Content-Type': 'application/json'})


async def upload(user: User, content: bytes | str, field: str = 'file') -> httpx.Response:
    return await user.http_client.post(IMPORT, files={field: ('run.json', content, 'application/json')}, headers=AUTH)


async def total(user: User) -> int:
    return int((await api(user, 'GET', '/api/executions')).json()['total'])


async def test_every_refusal_of_an_import_names_its_place_in_the_file(user: User) -> None:
    """The format, the version, an event's node id, a gap in seq, an event's field: each was named in the message
    alone (``events[3] has seq 5``), without ``errors``; now ``errors[].loc`` is its place, as a payload's is."""
    document = await exported(user)
    types = [event['type'] for event in document['events']]
    node = types.index('node.started')
    last = len(types) - 1
    before = await total(user)

    def edited(change: Any) -> str:
        copied = copy.deepcopy(document)
        change(copied)
        return json.dumps(copied)

    cases: list[tuple[str, int, list[str | int], str]] = [
        (
            edited(lambda doc: doc.update(format='n8n.workflow')),
            422,
            ['body', 'format'],
            "not a flowmon execution export: the document has format 'n8n.workflow', expected 'flowmon.execution'",
        ),
        (
            edited(lambda doc: doc.update(version=9)),
            422,
            ['body', 'version'],
            'unsupported export version 9 (this flowmon reads version 1)',
        ),
        (
            edited(lambda doc: doc['events'][node].update(node_id='ghost')),
            422,
            ['body', 'events', node, 'node_id'],
            f"events[{node}] (node.started) names node 'ghost', not in the workflow",
        ),
        (
            edited(lambda doc: doc['events'][node].update(node_id='a b')),
            422,
            ['body', 'events', node, 'node_id'],
            f'events[{node}].node_id must be null or a node id (letters, digits, "_.-", at most 64), got \'a b\'',
        ),
        (
            edited(lambda doc: doc['events'].pop(2)),
            422,
            ['body', 'events', 2, 'seq'],
            'events[2] has seq 4, expected 3: seq must run 1..n without gaps',
        ),
        (
            edited(lambda doc: doc['events'][1].pop('ts')),
            422,
            ['body', 'events', 1, 'ts'],
            "events[1]: event is missing the field 'ts'",
        ),
        (
            edited(lambda doc: doc['events'][0]['data'].update(workflow_id='other')),
            422,
            ['body', 'events', 0, 'data', 'workflow_id'],
            "execution.queued names workflow 'other' but the export holds the definition of 'quick'",
        ),
        (
            edited(lambda doc: doc['events'].pop()),
            422,
            ['body', 'events', last - 1, 'type'],
            f'the execution never finished (the last event is {types[-2]}); only finished executions can be imported',
        ),
        (
            edited(lambda doc: doc['workflow']['nodes'][0].update(type='teleport')),
            422,
            ['body', 'workflow', 'nodes', 0, 'type'],
            "the workflow definition is not valid: node 'shape' has unknown type 'teleport'",
        ),
        (
            edited(lambda doc: doc.update(events=[])),
            422,
            ['body', 'events'],
            'export "events" must be a non-empty list, got an empty list',
        ),
        ('[1, 2]', 422, ['body'], 'an export must be a JSON object, got a list'),
        ('{"format": ', 400, ['body'], 'the export is not valid JSON: Expecting value: line 1 column 12 (char 11)'),
        (
            ' ',
            400,
            ['body'],
            'the request has no export document (send the JSON as the body or as "file")',
        ),
    ]
    for content, status, loc, words in cases:
        assert_refused(await send(user, content), status, loc, words)

    gap = cases[4][0]  # an uploaded file's places are in the form's field that holds it
    seq = 'events[2] has seq 4, expected 3: seq must run 1..n without gaps'
    assert_refused(await upload(user, gap), 422, ['body', 'file', 'events', 2, 'seq'], seq)
    assert_refused(await upload(user, gap, field='export'), 422, ['body', 'export', 'events', 2, 'seq'], seq)
    assert_refused(await upload(user, '[1]'), 422, ['body', 'file'], 'an export must be a JSON object, got a list')
    form = b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\nno file\r\n--x--\r\n'
    multipart = {**AUTH, 'Content-Type': 'multipart/form-data; boundary=x'}
    assert_refused(
        await user.http_client.post(IMPORT, content=form, headers=multipart),
        400,
        ['body', 'file'],
        'the upload has no "file" field with the export',
    )
    assert await total(user) == before


async def test_a_query_parameter_that_takes_one_value_is_refused_when_given_twice_on_every_route(user: User) -> None:
    """FastAPI took the last of the values unseen: ``?status=failed&status=running`` listed the running ones alone,
    ``?limit=5&limit=10`` ten. A parameter no route takes stays ignored, repeated or not."""
    execution_id = await start(user, 'quick')
    await wait_until_ended(user, execution_id)
    refused = [
        ('GET', '/api/executions?status=failed&status=running', 'status', 2),
        ('GET', '/api/executions?limit=5&limit=10', 'limit', 2),  # a parameter of the lists' shared dependency
        ('GET', '/api/executions?limit=5&q=abc&limit=x&limit=1', 'limit', 3),  # (not 'Input should be an integer')
        ('GET', '/api/executions?foo=1&foo=2&since=1d&since=2d', 'since', 2),  # the first one the route takes
        ('GET', f'/api/executions/{execution_id}/events?after_seq=0&after_seq=2', 'after_seq', 2),
        ('GET', f'/api/executions/{execution_id}/state?at=1&at=2', 'at', 2),
        ('GET', '/api/webhooks/deliveries?status=failed&status=exhausted', 'status', 2),
        ('GET', '/api/events/stream?workflow_id=quick&workflow_id=slow', 'workflow_id', 2),
        ('POST', '/api/workflows/quick/trigger/secret/rotate?grace_seconds=0&grace_seconds=60', 'grace_seconds', 2),
    ]
    for method, path, name, given in refused:
        response = await user.http_client.request(method, path, headers=AUTH)
        detail = f"query parameter '{name}' is given {given} times; it takes one value"
        assert response.status_code == 422, (path, response.text)
        assert response.json() == {
            'detail': detail,
            'errors': [{'loc': ['query', name], 'msg': detail, 'type': 'invalid'}],
        }, path
    head = await user.http_client.head('/api/executions?limit=1&limit=2', headers=AUTH)
    assert head.status_code == 422  # HEAD is answered as GET
    assert (await user.http_client.get('/api/executions?limit=1&limit=2')).status_code == 401  # the token first

    for path in (
        '/api/executions?status=succeeded&foo=1&foo=2',  # unknown parameters stay ignored
        f'/api/executions/{execution_id}/events?after_seq=0&x=&x=',
        '/api/health?check=1&check=2',
        '/api/workflows?limit=1&limit=2',  # the route takes no limit
    ):
        response = await user.http_client.get(path, headers=AUTH)
        assert response.status_code == 200, (path, response.text)
    listed = (await user.http_client.get('/api/executions?status=succeeded&foo=1&foo=2', headers=AUTH)).json()
    assert [item['id'] for item in listed['items']] == [execution_id]
