"""Search (``GET /api/executions?q=``), bulk actions (``POST /api/executions/bulk``) and saved views (``/api/views``)
through the real app: one ``python app.py`` for the module, every middleware in front of the routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flowmon_process import FlowmonProcess
from sample_workflows import chain, delay, fail, transform, workflow

TOKEN = 'search-bulk-test-token-0123456789'
ECHO = chain('echo', 'Echo', transform('copy', 'input'), transform('tag', "'emitted-zq9'"))
DECLINE = workflow('decline', 'Decline', fail('charge', 'card declined by issuer-77x'))
SLOW = workflow('slow', 'Slow', delay('wait', 60))


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> Iterator[FlowmonProcess]:
    app = launch_shared(FLOWMON_TOKEN=TOKEN)
    app.wait_started(token=TOKEN)
    for definition in (ECHO, DECLINE, SLOW):
        app.put(definition)
    yield app


def run(app: FlowmonProcess, workflow_id: str, data: dict[str, Any], *, wait: bool = True) -> str:
    execution_id = app.start(workflow_id, data)
    if wait:
        app.wait_ended(execution_id)
    return execution_id


def search(app: FlowmonProcess, **params: str) -> httpx.Response:
    return httpx.get(
        f'{app.base_url}/api/executions', params=params, headers={'Authorization': f'Bearer {TOKEN}'}, timeout=10
    )


def found(app: FlowmonProcess, **params: str) -> set[str]:
    response = search(app, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['total'] == len(body['items'])
    return {item['id'] for item in body['items']}


def bulk(app: FlowmonProcess, body: Any) -> httpx.Response:
    return app.api('POST', '/api/executions/bulk', json=body)


# --- search -----------------------------------------------------------------------------------------------------


def test_search_finds_input_outputs_and_errors_combined_with_the_other_filters(flowmon: FlowmonProcess) -> None:
    order = run(flowmon, 'echo', {'order': 'A-1001', 'customer': 'Zoë Ünal'})
    other = run(flowmon, 'echo', {'order': 'B-2002'})
    declined = run(flowmon, 'decline', {'order': 'A-1001'})

    assert found(flowmon, q='A-1001') == {order, declined}  # the input
    assert found(flowmon, q='a-1001') == {order, declined}  # case-insensitive
    assert found(flowmon, q='zoë ü') == {order}  # beyond ASCII
    assert found(flowmon, q='A-1001', workflow_id='echo') == {order}
    assert found(flowmon, q='A-1001', status='failed') == {declined}
    assert found(flowmon, q='A-1001', trigger='api') == {order, declined}
    assert found(flowmon, q='A-1001', trigger='rerun') == set()
    assert found(flowmon, q='issuer-77x') == {declined}  # an error message
    assert {order, other} <= found(flowmon, q='emitted-zq9')  # a node output
    assert found(flowmon, q='A-1001', until='2000-01-01T00:00:00Z') == set()
    assert found(flowmon, q='"A-1001" OR *') == set()  # query syntax is text
    assert order in found(flowmon, q='  A-1001  ')  # surrounding white space is dropped
    assert {order, other, declined} <= found(flowmon, q='   ')  # an empty search filters nothing


@pytest.mark.parametrize(
    ('q', 'words'),
    [('ab', 'at least 3'), ('x' * 201, 'at most 200'), ('A-1\n001', 'control characters'), ('a\tbc', 'control')],
)
def test_a_search_that_cannot_be_made_is_a_422_naming_q(flowmon: FlowmonProcess, q: str, words: str) -> None:
    response = search(flowmon, q=q)
    assert response.status_code == 422, response.text
    assert 'q must' in response.json()['detail'] and words in response.json()['detail']


def test_search_needs_the_token(flowmon: FlowmonProcess) -> None:
    assert httpx.get(f'{flowmon.base_url}/api/executions', params={'q': 'A-1001'}).status_code == 401


# --- bulk -------------------------------------------------------------------------------------------------------


def test_bulk_rerun_by_ids_counts_each_outcome_and_gives_the_new_ids(flowmon: FlowmonProcess) -> None:
    first = run(flowmon, 'echo', {'order': 'C-3003'})
    second = run(flowmon, 'decline', {'order': 'C-3003'})
    running = run(flowmon, 'slow', {'order': 'C-3003'}, wait=False)

    response = bulk(flowmon, {'action': 'rerun', 'ids': [first, second, running, 'no-such-execution', first]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body['done'], body['skipped'], body['failed']) == (2, 1, 1)  # the duplicate counts once
    assert len(body['ids']) == 2
    outcomes = {item['id']: item['outcome'] for item in body['items']}
    assert outcomes == {first: 'done', second: 'done', running: 'skipped', 'no-such-execution': 'failed'}
    for new_id in body['ids']:
        assert flowmon.wait_ended(new_id)['retry_of'] in {first, second}

    cancelled = bulk(flowmon, {'action': 'cancel', 'ids': [running, first]}).json()
    assert (cancelled['done'], cancelled['skipped'], cancelled['failed']) == (1, 1, 0)
    assert 'ids' not in cancelled
    assert flowmon.wait_ended(running)['status'] == 'cancelled'


def test_bulk_delete_by_filter_deletes_what_the_filter_matches(flowmon: FlowmonProcess) -> None:
    doomed = {run(flowmon, 'echo', {'order': 'D-4004'}), run(flowmon, 'echo', {'order': 'D-4004', 'n': 2})}
    kept = run(flowmon, 'decline', {'order': 'D-4004'})
    assert found(flowmon, q='D-4004') == doomed | {kept}

    response = bulk(flowmon, {'action': 'delete', 'filter': {'workflow_id': 'echo', 'q': 'D-4004', 'status': None}})
    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in ('done', 'skipped', 'failed')} == {
        'done': 2,
        'skipped': 0,
        'failed': 0,
    }
    assert found(flowmon, q='D-4004') == {kept}
    for execution_id in doomed:
        assert flowmon.api('GET', f'/api/executions/{execution_id}').status_code == 404

    nothing = bulk(flowmon, {'action': 'delete', 'filter': {'q': 'D-4004', 'since': '2999-01-01T00:00:00Z'}})
    assert nothing.status_code == 200 and nothing.json()['done'] == 0


@pytest.mark.parametrize(
    ('body', 'words'),
    [
        ({'action': 'explode', 'ids': ['x']}, 'action'),
        ({'action': 'cancel'}, 'either "ids" or "filter"'),
        ({'action': 'cancel', 'ids': ['x'], 'filter': {}}, 'either "ids" or "filter"'),
        ({'action': 'cancel', 'ids': []}, 'ids'),
        ({'action': 'cancel', 'ids': [f'id-{n}' for n in range(501)]}, 'ids'),
        ({'action': 'cancel', 'ids': ['x' * 65]}, 'ids'),
        ({'action': 'cancel', 'ids': 'abc'}, 'ids'),
        ({'action': 'delete', 'filter': {'q': 'ab'}}, 'q must be at least 3'),
        ({'action': 'delete', 'filter': {'status': 'sleeping'}}, 'status must be one of'),
        ({'action': 'delete', 'filter': {'trigger': 'cosmic'}}, 'trigger must be one of'),
        ({'action': 'delete', 'filter': {'since': 'yesterday-ish'}}, 'since'),
        ({'action': 'delete', 'filter': {'colour': 'red'}}, 'colour'),
        ([1, 2], 'the request body must be a JSON object'),
    ],
)
def test_a_bulk_request_that_cannot_be_done_is_a_422_naming_the_problem(
    flowmon: FlowmonProcess, body: Any, words: str
) -> None:
    response = bulk(flowmon, body)
    assert response.status_code == 422, response.text
    assert words in response.json()['detail']
    assert 'Value error' not in response.text  # a check's own words, without pydantic's before them


def test_bulk_needs_the_token_and_malformed_json_is_a_400(flowmon: FlowmonProcess) -> None:
    url = f'{flowmon.base_url}/api/executions/bulk'
    assert httpx.post(url, json={'action': 'delete', 'filter': {}}).status_code == 401
    malformed = httpx.post(url, content=b'{"action": ', headers={'Authorization': f'Bearer {TOKEN}'})
    assert malformed.status_code in (400, 422), malformed.text


# --- since and until: one set of forms on every route ----------------------------------------------------------

SINCE_FORMS = 'a relative window (15m, 1h, 24h, 7d, 30d: a number then m, h or d; or today), a day YYYY-MM-DD'


def test_since_and_until_take_the_same_forms_on_the_list_the_bulk_route_and_saved_views(
    flowmon: FlowmonProcess,
) -> None:
    execution = run(flowmon, 'echo', {'order': 'W-5005'})
    today = datetime.now(UTC).date().isoformat()
    for since in ('15m', '1h', 'today', '24h', '7d', '30d', '90m', today, '2000-01-01T00:00:00Z', '946684800'):
        assert found(flowmon, q='W-5005', since=since) == {execution}, since
    assert found(flowmon, q='W-5005', since='2999-01-01') == set()
    assert found(flowmon, q='W-5005', until=today) == {execution}  # a day as until: through its end, like the page
    assert found(flowmon, q='W-5005', until='2000-01-01T00:00:00Z') == set()

    for view_filter in ({'q': 'W-5005', 'since': '15m', 'until': today}, {'q': 'W-5005', 'since': '2000-01-01T00:00'}):
        saved = flowmon.api('POST', '/api/views', json={'name': 'recent W', 'filter': view_filter})
        assert saved.status_code in (200, 201), saved.text
        stored = saved.json()['filter']
        assert found(flowmon, **stored) == {execution}  # a view's filter is the list's parameters as they are
        cancelled = bulk(flowmon, {'action': 'cancel', 'filter': stored})
        assert cancelled.status_code == 200, cancelled.text
        assert [item['id'] for item in cancelled.json()['items']] == [execution]  # (ended already: skipped)
    assert flowmon.api('DELETE', '/api/views/recent W').status_code == 204


@pytest.mark.parametrize(('name', 'value'), [('since', '15x'), ('since', 'yesterday'), ('until', '7d')])
def test_a_since_or_until_of_no_accepted_form_is_one_422_naming_it_on_every_route(
    flowmon: FlowmonProcess, name: str, value: str
) -> None:
    forms = SINCE_FORMS if name == 'since' else 'a day YYYY-MM-DD or an ISO 8601 date-time'
    listed = search(flowmon, **{name: value})
    assert listed.status_code == 422, listed.text
    assert listed.json()['detail'].startswith(f'query.{name}: must be {forms}')
    assert f'got {value!r}' in listed.json()['detail']
    deliveries = flowmon.api('GET', f'/api/webhooks/deliveries?{name}={value}')
    assert deliveries.status_code == 422 and f'query.{name}: must be {forms}' in deliveries.json()['detail']
    refused = bulk(flowmon, {'action': 'cancel', 'filter': {name: value}})
    assert refused.status_code == 422, refused.text
    assert refused.json()['detail'].startswith(f'filter.{name}: must be {forms}')
    view = flowmon.api('POST', '/api/views', json={'name': 'v', 'filter': {name: value}})
    assert view.status_code == 422 and view.json()['detail'].startswith(f'filter.{name} must be {forms}')
    for response in (listed, refused, view):
        assert 'Input should be' not in response.text


# --- saved views ------------------------------------------------------------------------------------------------


def test_saved_views_are_created_replaced_listed_and_deleted(flowmon: FlowmonProcess) -> None:
    view = {'name': 'Failed orders <b>A</b>', 'filter': {'status': 'failed', 'q': 'A-1001', 'since': '7d'}}
    created = flowmon.api('POST', '/api/views', json=view)
    assert created.status_code == 201, created.text
    assert created.json()['name'] == 'Failed orders <b>A</b>'
    assert created.json()['filter'] == {'status': 'failed', 'q': 'A-1001', 'since': '7d'}

    view['filter'] = {'workflow_id': 'decline', 'trigger': 'api', 'until': '2030-01-31', 'status': ''}
    replaced = flowmon.api('POST', '/api/views', json=view)
    assert replaced.status_code == 200, replaced.text
    listed = flowmon.api('GET', '/api/views').json()
    assert [(item['name'], item['filter']) for item in listed if item['name'] == view['name']] == [
        (view['name'], {'workflow_id': 'decline', 'trigger': 'api', 'until': '2030-01-31'})
    ]

    name = 'with / slash'
    assert flowmon.api('POST', '/api/views', json={'name': name, 'filter': {}}).status_code == 201
    assert flowmon.api('DELETE', '/api/views/with%20%2F%20slash').status_code == 204
    assert flowmon.api('DELETE', f'/api/views/{view["name"]}').status_code == 204
    assert flowmon.api('DELETE', f'/api/views/{view["name"]}').status_code == 404
    assert all(item['name'] not in (name, view['name']) for item in flowmon.api('GET', '/api/views').json())


@pytest.mark.parametrize(
    ('body', 'words'),
    [
        ({'name': '   ', 'filter': {}}, 'name must not be empty'),
        ({'name': 'x' * 65, 'filter': {}}, 'at most 64'),
        ({'name': 'two\nlines', 'filter': {}}, 'control characters'),
        ({'name': 'a/b/../c', 'filter': {}}, 'name must not have "." or ".." between slashes'),
        ({'name': '..', 'filter': {}}, 'name must not have "." or ".." between slashes'),
        ({'name': 'v', 'filter': {'colour': 'red'}}, 'filter.colour: unknown key (known: workflow_id, status'),
        ({'name': 'v', 'filter': {'limit': 5}}, 'filter.limit: unknown key (known: workflow_id, status'),
        ({'name': 'v', 'filter': {'extra': [1, 2]}}, 'filter.extra: unknown key'),
        ({'name': 'v', 'filter': {'status': 'sleeping'}}, 'filter.status'),
        ({'name': 'v', 'filter': {'q': 'ab'}}, 'q must be at least 3'),
        ({'name': 'v', 'filter': {'until': '7d'}}, 'filter.until'),
        ({'name': 'v', 'filter': {'status': 1}}, 'filter'),
        ({'name': 'v', 'filter': {}, 'extra': 1}, 'extra'),
    ],
)
def test_a_view_that_cannot_be_saved_is_a_422_naming_the_problem(
    flowmon: FlowmonProcess, body: dict[str, Any], words: str
) -> None:
    response = flowmon.api('POST', '/api/views', json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()['detail']


def test_saved_views_need_the_token(flowmon: FlowmonProcess) -> None:
    assert httpx.get(f'{flowmon.base_url}/api/views').status_code == 401
    assert httpx.post(f'{flowmon.base_url}/api/views', json={'name': 'v', 'filter': {}}).status_code == 401
    assert httpx.delete(f'{flowmon.base_url}/api/views/v').status_code == 401


# --- bodies that are not JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('method', 'path'),
    [
        ('POST', '/api/views'),
        ('POST', '/api/executions/bulk'),
        ('POST', '/api/workflows/echo/executions'),
        ('PUT', '/api/secrets/api-key'),
        ('POST', '/api/webhooks/endpoints'),
    ],
)
def test_a_body_that_is_not_json_is_a_400_saying_so_and_json_is_read_as_before(
    flowmon: FlowmonProcess, method: str, path: str
) -> None:
    auth = {'Authorization': f'Bearer {TOKEN}'}
    url = f'{flowmon.base_url}{path}'
    form = httpx.request(method, url, data={'a': 'b'}, headers=auth)  # what curl -d 'a=b' sends
    assert form.status_code == 400, form.text
    assert form.json()['detail'] == (
        "the request body must be JSON (Content-Type: application/json); not 'application/x-www-form-urlencoded'"
    )
    text = httpx.request(method, url, content=b'{"name": "v"}', headers={**auth, 'Content-Type': 'text/plain'})
    assert text.status_code == 400 and "not 'text/plain'" in text.json()['detail'], text.text
    malformed = httpx.request(method, url, content=b'{"name": ', headers={**auth, 'Content-Type': 'application/json'})
    assert malformed.status_code == 400 and malformed.json()['detail'] == 'malformed JSON in the request body'
    shape = httpx.request(method, url, json=[1, 2], headers=auth)  # JSON of the wrong shape: 422 as before
    assert shape.status_code == 422, shape.text
