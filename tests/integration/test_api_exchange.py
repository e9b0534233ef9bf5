"""The export, import and replay-position API over a real system, in-process via ASGI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from inprocess import put, run, start
from sample_workflows import WAIT_ONLY, upstream_flaky

from flowmon.application.views import execution_summary
from flowmon.engine import Event, fold
from flowmon.engine.core.state import initial_state

FLAKY = upstream_flaky(times=1, max_attempts=2)
SLOW = WAIT_ONLY


@pytest.fixture
def token() -> str:
    return 'exchange-token'


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> str:
    return await run(client, FLAKY, {'input': {'n': 2}})


async def events_of(client: httpx.AsyncClient, execution_id: str) -> list[dict[str, Any]]:
    response = await client.get(f'/api/executions/{execution_id}/events')
    assert response.status_code == 200, response.text
    return list(response.json())


async def total(client: httpx.AsyncClient) -> int:
    return int((await client.get('/api/executions')).json()['total'])


async def test_export_is_a_json_attachment(client: httpx.AsyncClient, finished: str) -> None:
    response = await client.get(f'/api/executions/{finished}/export')
    assert response.status_code == 200, response.text
    assert response.headers['content-type'] == 'application/json'
    assert response.headers['content-disposition'] == f'attachment; filename="flowmon-flaky-{finished}.json"'
    document = response.json()
    assert (document['format'], document['version'], document['workflow']['id']) == ('flowmon.execution', 1, 'flaky')
    assert [
        {key: value for key, value in event.items() if key != 'execution_id'} for event in document['events']
    ] == await events_of(client, finished)


async def test_export_refuses_unknown_and_running_executions(client: httpx.AsyncClient) -> None:
    missing = await client.get('/api/executions/nope/export')
    assert (missing.status_code, missing.json()['detail']) == (404, "execution 'nope' not found")
    await put(client, SLOW)
    running = await start(client, 'slow', {'input': {'n': 2}})
    refused = await client.get(f'/api/executions/{running}/export')
    assert refused.status_code == 409
    assert 'export it when it has finished' in refused.json()['detail']
    assert (await client.post(f'/api/executions/{running}/cancel')).status_code == 202


async def test_import_json_body_then_replay_the_import(client: httpx.AsyncClient, finished: str) -> None:
    document = (await client.get(f'/api/executions/{finished}/export')).json()
    response = await client.post('/api/executions/import', json=document)
    assert response.status_code == 201, response.text
    body = response.json()
    new_id = body['id']
    assert (body['imported_from'], body['status'], body['events']) == (finished, 'succeeded', len(document['events']))
    assert new_id != finished
    assert await events_of(client, new_id) == await events_of(client, finished)
    listed = {item['id']: item for item in (await client.get('/api/executions')).json()['items']}
    assert listed[new_id]['imported_from'] == finished and listed[finished]['imported_from'] is None
    summary = (await client.get(f'/api/executions/{new_id}')).json()
    assert summary == {**(await client.get(f'/api/executions/{finished}')).json(), 'id': new_id}
    # The import replays like any other execution: the same state at every position.
    for k in range(len(document['events']) + 1):
        mine = (await client.get(f'/api/executions/{new_id}/state', params={'at': k})).json()
        theirs = (await client.get(f'/api/executions/{finished}/state', params={'at': k})).json()
        assert mine == {**theirs, 'id': new_id}


async def test_import_a_multipart_upload(client: httpx.AsyncClient, finished: str) -> None:
    exported = await client.get(f'/api/executions/{finished}/export')
    files = {'file': ('flaky.json', exported.content, 'application/json')}
    response = await client.post('/api/executions/import', files=files)
    assert response.status_code == 201, response.text
    assert response.json()['imported_from'] == finished
    nameless = await client.post('/api/executions/import', files={'upload': ('x.json', exported.content)})
    assert nameless.status_code == 201, nameless.text  # the only file in the form is taken
    missing = await client.post('/api/executions/import', data={'note': 'no file'}, files={})
    assert missing.status_code in (400, 422)


@pytest.mark.parametrize(
    ('content', 'status', 'message'),
    [
        (b'', 400, 'the request has no export document'),
        (b'{"format": ', 400, 'the export is not valid JSON'),
        (b'[1, 2]', 422, 'an export must be a JSON object, got a list'),
        (b'{"format": "flowmon.execution", "version": 9}', 422, 'unsupported export version 9'),
        (b'{"hello": "world"}', 422, 'not a flowmon execution export'),
    ],
)
async def test_an_invalid_import_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, finished: str, content: bytes, status: int, message: str
) -> None:
    before = await total(client)
    response = await client.post(
        '/api/executions/import', content=content, headers={'Content-Type': 'application/json'}
    )
    assert response.status_code == status, response.text
    assert message in response.json()['detail']
    assert await total(client) == before


async def test_an_export_without_events_is_refused_saying_its_list_is_empty(
    client: httpx.AsyncClient, finished: str
) -> None:
    """The refusal said 'must be a non-empty list, got a list' of an empty one."""
    document = (await client.get(f'/api/executions/{finished}/export')).json()
    response = await client.post('/api/executions/import', json={**document, 'events': []})
    assert response.status_code == 422
    assert response.json()['detail'] == 'export "events" must be a non-empty list, got an empty list'


async def test_an_export_edited_into_nonsense_is_refused_with_the_reason(
    client: httpx.AsyncClient, finished: str
) -> None:
    document = (await client.get(f'/api/executions/{finished}/export')).json()
    del document['events'][3]
    before = await total(client)
    response = await client.post('/api/executions/import', json=document)
    assert response.status_code == 422
    assert response.json()['detail'] == 'events[3] has seq 5, expected 4: seq must run 1..n without gaps'
    assert await total(client) == before


async def test_a_number_no_json_holds_in_an_imported_payload_is_refused_where_it_is(
    client: httpx.AsyncClient, finished: str
) -> None:
    """An integer beyond 64 bits or NaN in an event's payload is named in the message and in ``errors[].loc``, from
    a JSON body and an uploaded file alike (the message said only 'data holds an integer ...', without errors)."""
    document = (await client.get(f'/api/executions/{finished}/export')).json()
    queued = document['events'][0]
    assert queued['type'] == 'execution.queued'
    queued['data']['input'] = {'order': {'n': 123456789012345678901234567890}}
    text = json.dumps(document)
    before = await total(client)
    place = ['events', 0, 'data', 'input', 'order', 'n']
    for response, loc, said in [
        (
            await client.post('/api/executions/import', content=text, headers={'Content-Type': 'application/json'}),
            ['body', *place],
            ' holds an integer outside the 64-bit range',
        ),
        (
            await client.post('/api/executions/import', files={'file': ('x.json', text, 'application/json')}),
            ['body', 'file', *place],
            ' holds an integer outside the 64-bit range',
        ),
        (
            await client.post(
                '/api/executions/import',
                content=text.replace('123456789012345678901234567890', 'NaN'),
                headers={'Content-Type': 'application/json'},
            ),
            ['body', *place],
            ': NaN and Infinity are not JSON numbers',
        ),
    ]:
        assert response.status_code == 422, response.text
        assert response.json()['detail'] == f'events[0] (execution.queued) data at input.order.n{said}'
        assert [error['loc'] for error in response.json()['errors']] == [loc], response.text
    assert await total(client) == before


async def test_import_and_export_need_the_token(client: httpx.AsyncClient, finished: str) -> None:
    anonymous = {'Authorization': ''}
    assert (await client.get(f'/api/executions/{finished}/export', headers=anonymous)).status_code == 401
    assert (await client.post('/api/executions/import', json={}, headers=anonymous)).status_code == 401
    assert (await client.get(f'/api/executions/{finished}/state', headers=anonymous)).status_code == 401


async def test_state_at_every_position_is_the_fold_of_the_first_k_events(
    client: httpx.AsyncClient, finished: str
) -> None:
    raw = await events_of(client, finished)
    events = [Event.unmarshal({**event, 'execution_id': finished}) for event in raw]
    for k in range(len(events) + 1):
        response = await client.get(f'/api/executions/{finished}/state', params={'at': k})
        assert response.status_code == 200, response.text
        body = response.json()
        position = body.pop('position')
        expected = fold(events[:k]) or initial_state(finished)
        assert body == json.loads(json.dumps(execution_summary(expected)))
        assert (position['at'], position['events']) == (k, len(events))
        assert position['elapsed_s'] == ((events[k - 1].ts - events[0].ts).total_seconds() if k else 0)
    end = (await client.get(f'/api/executions/{finished}/state')).json()
    assert end['position']['at'] == len(events)
    end.pop('position')
    assert end == (await client.get(f'/api/executions/{finished}')).json()


async def test_state_refuses_positions_out_of_range_and_unknown_executions(
    client: httpx.AsyncClient, finished: str
) -> None:
    n = len(await events_of(client, finished))
    for at in (-1, n + 1):
        response = await client.get(f'/api/executions/{finished}/state', params={'at': at})
        assert response.status_code == 422
        assert response.json()['detail'] == f'at must be between 0 and {n} (the number of events), got {at}'
    assert (await client.get(f'/api/executions/{finished}/state', params={'at': 'x'})).status_code == 422
    missing = await client.get('/api/executions/nope/state')
    assert (missing.status_code, missing.json()['detail']) == (404, "execution 'nope' not found")


async def test_origin_tells_imported_executions_from_those_run_here_on_every_route(
    client: httpx.AsyncClient, finished: str
) -> None:
    """One ``origin`` (local or imported) on the list, the bulk filter and saved views, refused alike elsewhere."""
    document = (await client.get(f'/api/executions/{finished}/export')).json()
    imported = (await client.post('/api/executions/import', json=document)).json()['id']

    async def listed(origin: str) -> set[str]:
        response = await client.get('/api/executions', params={'origin': origin})
        assert response.status_code == 200, response.text
        return {item['id'] for item in response.json()['items']}

    assert await listed('imported') == {imported}
    assert await listed('local') == {finished}
    assert await listed('') == {finished, imported}  # an empty origin filters nothing
    refused = await client.get('/api/executions', params={'origin': 'elsewhere'})
    assert refused.status_code == 422
    assert (
        refused.json()['detail']
        == "origin must be local (run by this instance) or imported (from an export file); got 'elsewhere'"
    )

    view = await client.post('/api/views', json={'name': 'Imported', 'filter': {'origin': 'imported'}})
    assert view.status_code in (200, 201), view.text
    assert view.json()['filter'] == {'origin': 'imported'}
    bad_view = await client.post('/api/views', json={'name': 'Odd', 'filter': {'origin': 'remote'}})
    assert bad_view.status_code == 422 and 'filter.origin must be local' in bad_view.json()['detail']

    rerun = await client.post('/api/executions/bulk', json={'action': 'rerun', 'filter': {'origin': 'imported'}})
    assert rerun.status_code == 200, rerun.text
    assert [(item['id'], item['outcome']) for item in rerun.json()['items']] == [(imported, 'skipped')]
    deleted = await client.post('/api/executions/bulk', json={'action': 'delete', 'filter': {'origin': 'imported'}})
    assert (deleted.json()['done'], await listed('')) == (1, {finished})
    bad_bulk = await client.post('/api/executions/bulk', json={'action': 'delete', 'filter': {'origin': 'x'}})
    assert bad_bulk.status_code == 422 and 'origin must be local' in bad_bulk.json()['detail']
