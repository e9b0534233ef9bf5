"""The payload budget, YAML and JMESPath limits, import checks and outbound ports, through the real app.

One ``python app.py`` serves the whole module (with every middleware a user's requests pass through), with
``FLOWMON_MAX_PAYLOAD_BYTES`` at 64 KiB so the limits are cheap to reach. Each test is the regression test of a
finding of the security review (issue 10: findings 6, 7 and 15); none of them needs the network.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flowmon_process import REPO_ROOT, FlowmonProcess, child_env, free_port
from sample_workflows import chain, log, transform
from signed_hooks import signed

TOKEN = 'payload-budget-test-token-0123456789'
LIMIT = 64 * 1024
HUGE = 123456789012345678901234567890  # beyond 64 bits: no response could hold it
NOT_JSON = ': NaN and Infinity are not JSON numbers'
BEYOND_64_BITS = ' holds an integer outside the 64-bit range'
BOMB = '[@,@]|' * 19 + '@'  # from the review: stalled the loop for 1.1 s and took the process to 790 MB

QUICK = chain('quick', 'Quick', transform('prepare', '{n: input.n}'), log('report', 'done', 'prepare'))


def alias_bomb(workflow_id: str = 'bomb') -> str:
    """About 500 bytes of YAML, 7 levels of 10 aliases: 10**8 list items once expanded."""
    lines = [f'id: {workflow_id}', 'name: Billion laughs', 'description: seven levels of ten aliases each']
    lines.append('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for previous, name in zip('abcdefg', 'bcdefgh', strict=True):
        lines.append(f'{name}: &{name} [' + ', '.join([f'*{previous}'] * 10) + ']')
    lines.append('nodes: *h')
    return '\n'.join(lines) + '\n'


# A key given twice: a parser keeps the last value, so the first (someone's edit) would vanish unseen.
TWICE_YAML = 'id: twice\nname: first\nnodes: []\nname: second\n'


@pytest.fixture(scope='module')
def flowmon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowmonProcess]:
    root = tmp_path_factory.mktemp('payload-budget')
    workflows = root / 'workflows'
    workflows.mkdir()
    shutil.copy(REPO_ROOT / 'data' / 'workflows' / 'order-pipeline.json', workflows)
    (workflows / 'bomb.yaml').write_text(alias_bomb('file-bomb'), encoding='utf-8')
    (workflows / 'twice.yaml').write_text(TWICE_YAML.replace('id: twice', 'id: file-twice'), encoding='utf-8')
    port = free_port()
    env = child_env(
        root / 'data',
        port,
        FLOWMON_TOKEN=TOKEN,
        FLOWMON_WORKFLOWS_DIR=str(workflows),
        FLOWMON_MAX_PAYLOAD_BYTES=str(LIMIT),
    )
    out, err = root / 'run.out', root / 'run.err'
    with out.open('wb') as stdout, err.open('wb') as stderr:
        process = subprocess.Popen(
            [sys.executable, 'app.py'], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
    app = FlowmonProcess(process, port, root / 'data', out, err)
    try:
        app.wait_started()
        yield app
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def send(app: FlowmonProcess, method: str, path: str, *, content: bytes | str, content_type: str) -> httpx.Response:
    headers = {'Authorization': f'Bearer {TOKEN}', 'content-type': content_type}
    return httpx.request(method, f'{app.base_url}{path}', content=content, headers=headers, timeout=30.0)


def export_of_a_run(app: FlowmonProcess) -> tuple[str, dict[str, Any]]:
    app.put(QUICK)
    summary = app.run_to_end('quick', {'n': 1})
    response = app.api('GET', f'/api/executions/{summary["id"]}/export')
    assert response.status_code == 200, response.text
    return summary['id'], response.json()


def import_document(app: FlowmonProcess, document: Any) -> httpx.Response:
    return send(app, 'POST', '/api/executions/import', content=json.dumps(document), content_type='application/json')


# --- finding 6: tiny inputs that stalled the loop -------------------------------------------------------------


def test_a_yaml_alias_bomb_gets_its_422_at_once(flowmon: FlowmonProcess) -> None:
    bomb = alias_bomb()
    response = send(flowmon, 'PUT', '/api/workflows/bomb', content=bomb, content_type='application/yaml')
    assert response.status_code == 422, response.text
    # refused as the parser meets the first anchor (it took 8 s to expand before): the message names the first
    # anchor's line, which only a parser that stopped there knows (tests/unit/test_model.py has the parser's tests)
    assert response.json()['detail'].startswith('YAML anchors are not accepted (found &'), response.text
    assert flowmon.api('GET', '/api/workflows/bomb').status_code == 404
    aliases_only = 'id: w\nname: w\nnodes: *undefined\n'
    response = send(flowmon, 'PUT', '/api/workflows/w', content=aliases_only, content_type='application/yaml')
    assert response.status_code == 422 and 'YAML aliases are not accepted' in response.json()['detail']
    # "a\0b" as bytes: no database stores a NUL, and no page shows bytes
    binary = 'id: bin\nname: !!binary YQBi\nnodes: [{id: a, type: log, config: {message: hi}}]\n'
    response = send(flowmon, 'PUT', '/api/workflows/bin', content=binary, content_type='application/yaml')
    assert response.status_code == 422 and 'YAML tag !!binary is not accepted' in response.json()['detail']
    assert flowmon.api('GET', '/api/workflows/bin').status_code == 404
    big = 'id: big\nname: big\ndescription: ' + 'x' * (300 * 1024) + '\n'
    response = send(flowmon, 'PUT', '/api/workflows/big', content=big, content_type='application/yaml')
    assert response.status_code == 413 and 'YAML workflow document may be at most 256 KiB' in response.json()['detail']


def test_a_workflow_file_with_aliases_is_skipped_at_start_up(flowmon: FlowmonProcess) -> None:
    ids = {workflow['id'] for workflow in flowmon.api('GET', '/api/workflows').json()}
    assert 'order-pipeline' in ids and 'file-bomb' not in ids
    assert 'workflow file bomb.yaml not loaded: YAML anchors are not accepted' in flowmon.stdout + flowmon.stderr


def test_the_jmespath_bomb_fails_its_node_with_a_clear_message(flowmon: FlowmonProcess) -> None:
    workflow = {
        'id': 'jmespath-bomb',
        'name': 'JMESPath bomb',
        'nodes': [
            {
                'id': 'double',
                'type': 'transform',
                'config': {'expression': BOMB},
                'retry': {'max_attempts': 2, 'backoff_seconds': 0},
            }
        ],
    }
    flowmon.put(workflow)
    summary = flowmon.run_to_end('jmespath-bomb', {'order_id': 'A-1001', 'lines': list(range(100))})
    node = summary['nodes']['double']
    assert summary['status'] == 'failed' and node['status'] == 'failed' and node['attempts'] == 2
    assert 'stopped: the value it built is at least' in node['error']
    assert 'over FLOWMON_MAX_PAYLOAD_BYTES (64 KiB)' in node['error']
    assert flowmon.api('GET', '/api/health').status_code == 200


def test_a_node_output_over_the_budget_fails_the_node_naming_the_limit(flowmon: FlowmonProcess) -> None:
    workflow = {
        'id': 'big-output',
        'name': 'Big output',
        'nodes': [
            {'id': 'echo', 'type': 'log', 'config': {'message': 'm' * (30 * 1024), 'expression': 'input'}},
            {'id': 'after', 'type': 'log', 'config': {'message': 'not reached'}},
        ],
        'edges': [{'source': 'echo', 'target': 'after'}],
    }
    flowmon.put(workflow)
    summary = flowmon.run_to_end('big-output', {'blob': 'x' * (40 * 1024)})
    assert summary['status'] == 'failed'
    assert summary['nodes']['echo']['error'] == 'output is 70 KiB, over FLOWMON_MAX_PAYLOAD_BYTES (64 KiB)'
    assert summary['nodes']['after']['status'] == 'skipped'


def test_execution_inputs_are_held_to_the_budget(flowmon: FlowmonProcess) -> None:
    flowmon.put(QUICK)
    start = '/api/workflows/quick/executions'
    response = flowmon.api('POST', start, json={'input': {'blob': 'x' * LIMIT}})
    assert response.status_code == 413, response.text
    assert 'the execution input is' in response.json()['detail']
    assert 'over FLOWMON_MAX_PAYLOAD_BYTES (64 KiB)' in response.json()['detail']
    deep: Any = 'leaf'
    for _ in range(70):
        deep = {'k': deep}
    response = flowmon.api('POST', start, json={'input': deep})
    assert response.status_code == 422 and 'nested more than 64 levels deep' in response.json()['detail']
    response = flowmon.api('POST', start, json={'input': {'n': 2**70}})
    assert response.status_code == 422 and '64-bit' in response.json()['detail']
    response = send(flowmon, 'POST', start, content='[' * 100_000, content_type='application/json')
    assert response.status_code == 400 and 'nested more than 512 levels deep' in response.json()['detail']
    previous = flowmon.run_to_end('quick', {'n': 2})
    response = flowmon.api('POST', f'/api/executions/{previous["id"]}/rerun', json={'input': {'n': 2**70}})
    assert response.status_code == 422 and '64-bit' in response.json()['detail']
    assert flowmon.api('GET', '/api/executions').status_code == 200


def test_a_trigger_body_is_held_to_the_budget(flowmon: FlowmonProcess) -> None:
    flowmon.put({**QUICK, 'id': 'triggered', 'trigger': {'enabled': True}})
    secret = flowmon.api('GET', '/api/workflows/triggered/trigger/secret').json()['secret']
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as client:
        # The browser session is not what authenticates a trigger (the signature is); it is carried only so this
        # test does not depend on how the session layer treats /hooks/ (a separate finding).
        client.get(f'/?token={TOKEN}')
        for body, status, message in [
            (json.dumps({'blob': 'x' * LIMIT}).encode(), 413, 'FLOWMON_MAX_PAYLOAD_BYTES'),
            (b'[' * 50_000, 422, 'nested more than 64 levels deep'),
            (json.dumps({'a': json.loads('[' * 70 + ']' * 70)}).encode(), 422, 'nested more than 64 levels deep'),
            (json.dumps({'n': 2**70}).encode(), 422, '64-bit'),
        ]:
            response = client.post('/hooks/triggered', content=body, headers=signed(secret, body))
            assert response.status_code == status, response.text
            assert message in response.json()['detail']
        body = json.dumps({'n': 5}).encode()
        response = client.post('/hooks/triggered', content=body, headers=signed(secret, body))
        assert response.status_code == 202, response.text


def test_a_trigger_body_that_is_not_a_json_object_is_refused_after_the_signature(flowmon: FlowmonProcess) -> None:
    """An execution input is a JSON object on every way in: a trigger refuses an array or another value with the 422
    the API's start gives it (a run started with one could not be rerun from its page), once the signature holds."""
    flowmon.put({**QUICK, 'id': 'objects', 'trigger': {'enabled': True}})
    secret = flowmon.api('GET', '/api/workflows/objects/trigger/secret').json()['secret']
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as client:
        client.get(f'/?token={TOKEN}')  # (as above: the session is not what a trigger is judged by)
        for body, kind in [(b'[1,2]', 'list'), (b'"order 42"', 'str'), (b'42', 'int'), (b'null', 'null')]:
            unsigned = client.post('/hooks/objects', content=body, headers={'content-type': 'application/json'})
            assert unsigned.status_code == 401, unsigned.text  # who sends it is checked first
            response = client.post('/hooks/objects', content=body, headers=signed(secret, body))
            assert response.status_code == 422, response.text
            assert response.json()['detail'] == (
                f'the body must be a JSON object such as {{"key": "value"}} (or empty, for {{}}), not {kind}'
            )
            assert [error['loc'] for error in response.json()['errors']] == [['body']]  # (it had no errors)
        response = client.post('/hooks/objects', content=b'', headers=signed(secret, b''))
        assert response.status_code == 202, response.text
        assert flowmon.wait_ended(response.json()['execution_id'])['input'] == {}
    response = flowmon.api('POST', '/api/workflows/objects/executions', json={'input': [1, 2]})
    assert response.status_code == 422, response.text
    listed = flowmon.api('GET', '/api/executions?workflow_id=objects').json()
    assert listed['total'] == 1  # the empty body's run only


def test_nan_infinity_and_huge_integers_are_refused_where_they_are_on_every_way_in(flowmon: FlowmonProcess) -> None:
    """Python's parser reads NaN and Infinity, which JSON does not have (they were stored, and shown as null), and
    integers of any size, which no response could hold: a start, a rerun, a trigger and a delivery refuse them with
    a 422 that says where they are, in its words and in ``errors[].loc`` (as a NUL character there is)."""
    flowmon.put(QUICK)
    flowmon.put({**QUICK, 'id': 'triggered', 'trigger': {'enabled': True}})
    previous = flowmon.run_to_end('quick', {'n': 2})
    before = flowmon.api('GET', '/api/executions').json()['total']
    start, rerun = '/api/workflows/quick/executions', f'/api/executions/{previous["id"]}/rerun'
    for path, text, where, loc, said in [
        (start, '{"input": {"x": NaN}}', 'at x', ['x'], NOT_JSON),
        (start, '{"input": {"items": [1, {"price": Infinity}]}}', 'at items[1].price', ['items', 1, 'price'], NOT_JSON),
        (start, '{"input": {"odd key": [-Infinity]}}', 'at ["odd key"][0]', ['odd key', 0], NOT_JSON),
        (rerun, '{"input": {"n": NaN}}', 'at n', ['n'], NOT_JSON),
        (start, f'{{"input": {{"order": {{"n": {HUGE}}}}}}}', 'at order.n', ['order', 'n'], BEYOND_64_BITS),
        (rerun, f'{{"input": {{"n": [1, -{HUGE}]}}}}', 'at n[1]', ['n', 1], BEYOND_64_BITS),
    ]:
        response = send(flowmon, 'POST', path, content=text, content_type='application/json')
        assert response.status_code == 422, (text, response.text)
        assert response.json()['detail'] == f'the execution input {where}{said}'
        assert [error['loc'] for error in response.json()['errors']] == [['body', 'input', *loc]], response.text
    secret = flowmon.api('GET', '/api/workflows/triggered/trigger/secret').json()['secret']
    for body, said in [
        (b'{"order": {"total": NaN}}', NOT_JSON),
        (f'{{"order": {{"total": {HUGE}}}}}'.encode(), BEYOND_64_BITS),
    ]:
        with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as client:
            client.get(f'/?token={TOKEN}')
            response = client.post('/hooks/triggered', content=body, headers=signed(secret, body))
        assert response.status_code == 422, response.text
        assert response.json()['detail'] == f'the body at order.total{said}'
        assert [error['loc'] for error in response.json()['errors']] == [['body', 'order', 'total']]  # (it had none)
    for amount, said in [('Infinity', NOT_JSON), (str(HUGE), BEYOND_64_BITS)]:
        delivery = f'{{"url": "https://hooks.example.com/in", "body": {{"amount": {amount}}}}}'
        response = send(flowmon, 'POST', '/api/webhooks/deliveries', content=delivery, content_type='application/json')
        assert response.status_code == 422 and response.json()['detail'] == f'body at amount{said}', response.text
        assert [error['loc'] for error in response.json()['errors']] == [['body', 'body', 'amount']], response.text
    assert flowmon.api('GET', '/api/executions').json()['total'] == before  # nothing started


# --- keys given twice ---------------------------------------------------------------------------------------


def refused_twice(response: httpx.Response, key: str, loc: list[Any], status: int = 400) -> None:
    """``response`` refuses a body with ``key`` twice in the object at ``loc``, naming both."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert f'names the key "{key}" twice in one object' in answer['detail'], answer
    assert answer['errors'] == [
        {'loc': loc, 'msg': answer['detail'], 'type': 'malformed' if status == 400 else 'invalid'}
    ]


def test_a_json_body_naming_a_key_twice_is_refused_on_every_way_in(flowmon: FlowmonProcess) -> None:
    flowmon.put(QUICK)
    previous = flowmon.run_to_end('quick', {'n': 1})
    before = flowmon.api('GET', '/api/executions').json()['total']
    definition = json.dumps(QUICK)
    edited = definition.replace('"expression": "{n: input.n}"', '"expression": "{n: input.n}", "expression": "@"')
    response = send(flowmon, 'PUT', '/api/workflows/quick', content=edited, content_type='application/json')
    refused_twice(response, 'expression', ['body', 'nodes', 0, 'config'])
    assert '(in nodes[0].config)' in response.json()['detail']
    renamed = definition.replace('"name": "Quick"', '"name": "Quick", "name": "Renamed"')
    response = send(flowmon, 'PUT', '/api/workflows/quick', content=renamed, content_type='application/json')
    refused_twice(response, 'name', ['body'])
    assert flowmon.api('GET', '/api/workflows/quick').json()['name'] == 'Quick'  # nothing was saved
    for method, path, text, key, loc in [
        ('POST', '/api/workflows/quick/executions', '{"input": {"n": 1, "n": 2}}', 'n', ['body', 'input']),
        ('POST', f'/api/executions/{previous["id"]}/rerun', '{"input": {}, "input": {"n": 2}}', 'input', ['body']),
        ('POST', '/api/executions/bulk', '{"action": "cancel", "ids": [], "ids": ["x"]}', 'ids', ['body']),
        ('PUT', '/api/secrets/twice', '{"value": "a", "value": "b"}', 'value', ['body']),
        (
            'POST',
            '/api/views',
            '{"name": "v", "filter": {"status": "failed", "status": "ok"}}',
            'status',
            ['body', 'filter'],
        ),
        (
            'POST',
            '/api/webhooks/endpoints',
            '{"url": "https://hooks.example.com/in", "headers": {"X-Team": "a", "X-Team": "b"}}',
            'X-Team',
            ['body', 'headers'],
        ),
    ]:
        response = send(flowmon, method, path, content=text, content_type='application/json')
        refused_twice(response, key, loc)
    assert 'twice' not in {secret['name'] for secret in flowmon.api('GET', '/api/secrets').json()}
    assert flowmon.api('GET', '/api/executions').json()['total'] == before  # nothing started


def test_a_yaml_workflow_naming_a_key_twice_is_refused_and_such_a_file_skipped(flowmon: FlowmonProcess) -> None:
    response = send(flowmon, 'PUT', '/api/workflows/twice', content=TWICE_YAML, content_type='application/yaml')
    assert response.status_code == 400, response.text
    assert "names the key 'name' twice in one mapping (line 4)" in response.json()['detail']
    assert response.json()['errors'][0]['loc'] == ['body']
    assert flowmon.api('GET', '/api/workflows/twice').status_code == 404
    assert flowmon.api('GET', '/api/workflows/file-twice').status_code == 404
    assert "workflow file twice.yaml not loaded: the document names the key 'name' twice" in (
        flowmon.stdout + flowmon.stderr
    )


def test_a_trigger_body_naming_a_key_twice_is_refused_after_the_signature(flowmon: FlowmonProcess) -> None:
    flowmon.put({**QUICK, 'id': 'triggered', 'trigger': {'enabled': True}})
    secret = flowmon.api('GET', '/api/workflows/triggered/trigger/secret').json()['secret']
    before = flowmon.api('GET', '/api/executions?workflow_id=triggered').json()['total']
    body = b'{"order": {"id": 1, "lines": [{"sku": "a", "sku": "b"}]}}'
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as client:
        client.get(f'/?token={TOKEN}')  # (the session is not what a trigger is judged by: see above)
        unsigned = client.post('/hooks/triggered', content=body, headers={'content-type': 'application/json'})
        assert unsigned.status_code == 401, unsigned.text
        response = client.post('/hooks/triggered', content=body, headers=signed(secret, body))
    refused_twice(response, 'sku', ['body', 'order', 'lines', 0], status=422)
    assert '(in order.lines[0])' in response.json()['detail']
    assert flowmon.api('GET', '/api/executions?workflow_id=triggered').json()['total'] == before


def test_an_export_naming_a_key_twice_is_not_imported(flowmon: FlowmonProcess) -> None:
    _, document = export_of_a_run(flowmon)
    before = flowmon.api('GET', '/api/executions').json()['total']
    text = json.dumps(document).replace('"format": "flowmon.execution"', '"format": "x", "format": "flowmon.execution"')
    response = send(flowmon, 'POST', '/api/executions/import', content=text, content_type='application/json')
    refused_twice(response, 'format', ['body'])
    text = json.dumps(document).replace('"message": "done"', '"message": "done", "message": "edited"', 1)
    response = send(flowmon, 'POST', '/api/executions/import', content=text, content_type='application/json')
    refused_twice(response, 'message', ['body', 'workflow', 'nodes', 1, 'config'])
    files = {'file': ('export.json', text.encode(), 'application/json')}
    headers = {'Authorization': f'Bearer {TOKEN}'}
    response = httpx.post(f'{flowmon.base_url}/api/executions/import', files=files, headers=headers)
    refused_twice(response, 'message', ['body', 'file', 'workflow', 'nodes', 1, 'config'])
    assert flowmon.api('GET', '/api/executions').json()['total'] == before


# --- finding 7: import poison --------------------------------------------------------------------------------


def test_import_refuses_text_nested_beyond_parsing_with_400(flowmon: FlowmonProcess) -> None:
    response = send(flowmon, 'POST', '/api/executions/import', content='[' * 100_000, content_type='application/json')
    assert response.status_code == 400, response.text
    assert 'nested more than 512 levels deep' in response.json()['detail']
    files = {'file': ('export.json', b'{' * 100_000, 'application/json')}
    response = httpx.post(
        f'{flowmon.base_url}/api/executions/import', files=files, headers={'Authorization': f'Bearer {TOKEN}'}
    )
    assert response.status_code == 400 and 'nested more than 512' in response.json()['detail']


def test_event_data_nested_300_deep_is_refused_and_executions_stay_readable(flowmon: FlowmonProcess) -> None:
    original, document = export_of_a_run(flowmon)
    poisoned = copy.deepcopy(document)
    index = next(i for i, event in enumerate(poisoned['events']) if event['type'] == 'node.completed')
    poisoned['events'][index]['data']['output'] = json.loads('[' * 300 + ']' * 300)
    response = import_document(flowmon, poisoned)
    assert response.status_code == 422, response.text
    assert response.json()['detail'] == (
        f'events[{index}] (node.completed): data is nested more than 66 levels deep (payloads may nest 64 levels)'
    )
    # At the limit the import is accepted, and the imported execution reads like any other.
    near = copy.deepcopy(document)
    near['events'][index]['data']['output'] = json.loads('[' * 64 + ']' * 64)
    near['events'][-1]['data']['output']['report'] = json.loads('[' * 64 + ']' * 64)
    response = import_document(flowmon, near)
    assert response.status_code == 201, response.text
    imported = response.json()['id']
    for execution_id in (original, imported):
        for path in ('', '/events', '/state', '/state?at=3', '/export'):
            reply = flowmon.api('GET', f'/api/executions/{execution_id}{path}')
            assert reply.status_code == 200, (path, reply.text)


def test_import_refuses_node_ids_that_are_not_nodes_of_the_workflow_on_any_event(flowmon: FlowmonProcess) -> None:
    _, document = export_of_a_run(flowmon)
    for node_id, message in [
        ('</svg><img src=x onerror=alert(document.cookie)>', '.node_id must be null or a node id'),
        ('prepare', 'has no node'),
    ]:
        poisoned = copy.deepcopy(document)
        poisoned['events'][-1]['node_id'] = node_id  # the final execution.completed event
        response = import_document(flowmon, poisoned)
        assert response.status_code == 422, response.text
        assert message in response.json()['detail']
    long_error = copy.deepcopy(document)
    long_error['events'][-1]['data']['error'] = 'x' * 100_000
    response = import_document(flowmon, long_error)
    assert response.status_code == 422 and 'error is 100,000 characters long' in response.json()['detail']


def test_imported_executions_are_read_only(flowmon: FlowmonProcess) -> None:
    _, document = export_of_a_run(flowmon)
    document = copy.deepcopy(document)
    document['workflow']['id'] = 'vanished'
    document['events'][0]['data']['workflow_id'] = 'vanished'
    document['execution']['workflow_id'] = 'vanished'
    del document['events'][0]['data']['workflow_hash']  # the hash of the definition before the change: let import say
    response = import_document(flowmon, document)
    assert response.status_code == 201, response.text
    imported = response.json()['id']
    assert flowmon.api('GET', '/api/workflows/vanished').status_code == 404  # its workflow does not exist here
    total = flowmon.api('GET', '/api/executions').json()['total']
    for action, body in (('rerun', {}), ('rerun', {'from_node': 'report'}), ('cancel', None)):
        reply = flowmon.api('POST', f'/api/executions/{imported}/{action}', json=body)
        assert reply.status_code == 409, reply.text
        assert 'imported executions are read-only' in reply.json()['detail']
    assert flowmon.api('GET', '/api/executions').json()['total'] == total  # nothing ran


# --- finding 15 and webhook bodies ----------------------------------------------------------------------------


def test_outbound_deliveries_are_held_to_ports_and_the_budget(flowmon: FlowmonProcess) -> None:
    deliveries = '/api/webhooks/deliveries'
    response = flowmon.api('POST', deliveries, json={'url': 'http://1.1.1.1:22/', 'body': {}})
    assert response.status_code == 422, response.text
    assert 'port 22 is refused' in response.json()['detail']
    assert 'FLOWMON_OUTBOUND_PORTS' in response.json()['detail']
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    for body, status, message in [
        (deep, 422, 'body is nested more than 64 levels deep'),
        ({'n': 2**70}, 422, 'body at n holds an integer outside the 64-bit range'),
        ({'blob': 'x' * LIMIT}, 413, 'over FLOWMON_MAX_PAYLOAD_BYTES (64 KiB)'),
    ]:
        response = flowmon.api('POST', deliveries, json={'url': 'https://hooks.example.com/in', 'body': body})
        assert response.status_code == status, response.text
        assert message in response.json()['detail']
    response = send(flowmon, 'POST', deliveries, content='{"body": ' + '[' * 100_000, content_type='application/json')
    assert response.status_code == 400 and 'nested more than 512' in response.json()['detail']


def test_the_http_node_is_held_to_the_outbound_ports(flowmon: FlowmonProcess) -> None:
    workflow = {
        'id': 'ssh-probe',
        'name': 'SSH probe',
        'nodes': [{'id': 'probe', 'type': 'http', 'config': {'url': 'http://1.1.1.1:22/', 'timeout_seconds': 5}}],
    }
    flowmon.put(workflow)
    summary = flowmon.run_to_end('ssh-probe', {})
    assert summary['status'] == 'failed'
    assert 'port 22 is refused' in summary['nodes']['probe']['error']
