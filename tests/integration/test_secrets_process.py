"""Secrets through the real app (``python app.py``): the /api/secrets routes, secrets at rest in the SQLite files,
``{"$secret": ...}`` in a running workflow, plain values of an older database, and ``rotate-secret-key``."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flowmon_process import FlowmonProcess, flowmon_command, ok
from sample_workflows import chain, http, node
from webhook_receiver import Receiver, Reply

Launch = Callable[..., FlowmonProcess]
LOOPBACK = {
    'FLOWMON_OUTBOUND_ALLOW': '127.0.0.1',
    'FLOWMON_WEBHOOK_RETRY_SCHEDULE': '0,0.2',
    'FLOWMON_WEBHOOK_JITTER': '0',
}
KEYED = {  # sends the secret api_key as a header to the url in the secret echo_url
    'id': 'keyed',
    'name': 'Keyed',
    'nodes': [
        {
            'id': 'call',
            'type': 'http',
            'config': {'url': {'$secret': 'echo_url'}, 'headers': {'X-Api-Key': {'$secret': 'api_key'}}},
        }
    ],
}


@pytest.fixture
def echo() -> Iterator[Receiver]:
    """A receiver that answers every request with the request's headers as JSON."""
    receiver: Receiver

    def reply(index: int) -> Reply:
        body = json.dumps({'headers': receiver.hits[index].headers}).encode()
        return Reply(headers={'content-type': 'application/json'}, body=body)

    receiver = Receiver(reply).start()
    yield receiver
    receiver.stop()


def raw_database(data_dir: Path) -> bytes:
    """Every byte of the SQLite database as a copy would hold it (main file, write-ahead log, shared memory)."""
    return b''.join(path.read_bytes() for path in sorted(data_dir.glob('flowmon.db*')))


# --- the routes -------------------------------------------------------------------------------------------------


def test_secret_routes_through_the_whole_app(launch: Launch) -> None:
    flowmon = launch()
    flowmon.wait_started()
    value = 'route-value-5c1e'

    assert httpx.get(f'{flowmon.base_url}/api/secrets').status_code == 401
    assert httpx.put(f'{flowmon.base_url}/api/secrets/api_key', json={'value': value}).status_code == 401

    created = ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': value}), 201)
    assert set(created) == {'name', 'created_at', 'updated_at'} and created['name'] == 'api_key'
    replaced = ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': value + '-2'}), 200)
    assert replaced['created_at'] == created['created_at'] and replaced['updated_at'] >= created['updated_at']
    listed = flowmon.api('GET', '/api/secrets')
    assert ok(listed) == [replaced]
    assert value not in listed.text

    for path, body, needle in (
        ('/api/secrets/bad%20name', {'value': 'x'}, 'secret name'),
        ('/api/secrets/' + 'n' * 65, {'value': 'x'}, 'secret name'),
        ('/api/secrets/long', {'value': 'x' * 16385}, 'at most 16384'),
        ('/api/secrets/empty', {'value': ''}, 'must not be empty'),
        ('/api/secrets/surrogate', {'value': '\ud800'}, 'lone surrogate'),
        ('/api/secrets/nul', {'value': 'a\x00b'}, 'NUL'),
        ('/api/secrets/typed', {'value': 1}, 'value'),
        ('/api/secrets/extra', {'value': 'x', 'other': 1}, 'other'),
    ):
        response = httpx.put(  # JSON with ASCII escapes: a lone surrogate is only expressible that way
            f'{flowmon.base_url}{path}',
            content=json.dumps(body).encode(),
            headers={'Authorization': f'Bearer {flowmon.token}', 'Content-Type': 'application/json'},
        )
        assert response.status_code == 422, (path, response.text)
        assert needle in response.json()['detail'], response.text
    assert flowmon.api('DELETE', '/api/secrets/nope').status_code == 404

    workflow = {
        'id': 'uses-secret',
        'name': 'Uses a secret',
        'nodes': [
            {
                'id': 'call',
                'type': 'http',
                'config': {'url': 'https://example.com', 'headers': {'X-Key': {'$secret': 'nope'}}},
            }
        ],
    }
    refused = flowmon.api('PUT', '/api/workflows/uses-secret', json=workflow)
    assert refused.status_code == 422 and "unknown secret 'nope'" in refused.json()['detail']
    workflow['nodes'][0]['config']['headers'] = {'X-Key': {'$secret': 'api_key'}}
    stored = ok(flowmon.api('PUT', '/api/workflows/uses-secret', json=workflow), 201)
    assert stored['nodes'][0]['config']['headers'] == {'X-Key': {'$secret': 'api_key'}}

    in_use = flowmon.api('DELETE', '/api/secrets/api_key')
    assert in_use.status_code == 409 and "'uses-secret'" in in_use.json()['detail']
    assert flowmon.api('DELETE', '/api/workflows/uses-secret').status_code == 204
    assert flowmon.api('DELETE', '/api/secrets/api_key').status_code == 204
    assert ok(flowmon.api('GET', '/api/secrets')) == []


# --- a run ------------------------------------------------------------------------------------------------------


def test_a_secret_in_an_http_node_reaches_the_receiver_and_shows_as_stars_everywhere_else(
    launch: Launch, echo: Receiver
) -> None:
    api_key, url_token = 'sk-run-9d2f61a0', 'urltok-4be07c'
    flowmon = launch(**LOOPBACK)
    flowmon.wait_started()
    ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': api_key}), 201)
    ok(flowmon.api('PUT', '/api/secrets/echo_url', json={'value': f'{echo.url}?key={url_token}'}), 201)
    headers = {'X-Api-Key': {'$secret': 'api_key'}}
    call = http('call', {'$secret': 'echo_url'}, method='POST', headers=headers, body={'from': 'flowmon'})
    say = node('say', 'log', config={'message': {'$secret': 'api_key'}, 'expression': 'call.json'})
    workflow = chain('secret-call', 'Secret call', call, say)
    ok(flowmon.api('PUT', '/api/workflows/secret-call', json=workflow), 201)

    summary = flowmon.run_to_end('secret-call')
    assert summary['status'] == 'succeeded', summary
    (hit,) = echo.hits
    assert hit.headers['x-api-key'] == api_key and hit.path == f'/hook?key={url_token}'  # the real values were sent

    execution_id = summary['id']
    seen = {
        'summary': flowmon.api('GET', f'/api/executions/{execution_id}').text,
        'events': flowmon.api('GET', f'/api/executions/{execution_id}/events').text,
        'export': flowmon.api('GET', f'/api/executions/{execution_id}/export').text,
        'workflow': flowmon.api('GET', '/api/workflows/secret-call').text,
    }
    flowmon.stop()  # every log line written
    seen['log'] = flowmon.stdout + flowmon.stderr
    for where, text in seen.items():
        assert api_key not in text and url_token not in text, f'a secret value in the {where}'
    output = summary['nodes']['call']['output']
    assert output['json']['headers']['x-api-key'] == '***'  # the receiver echoed it: redacted in the output
    assert summary['nodes']['say']['output']['message'] == '***'
    assert '"$secret"' in seen['export'] and '***' in seen['events']
    assert 'HTTP Request: POST ***' in seen['log']  # httpx logs the url: the log filter hid it
    assert '/say] ***' in seen['log']  # the log node's line


# --- at rest ----------------------------------------------------------------------------------------------------


def test_a_copy_of_the_database_without_the_key_reveals_no_secret(launch: Launch, echo: Receiver) -> None:
    flowmon = launch(**LOOPBACK)
    flowmon.wait_started()
    values: list[str] = []

    def keep(value: str) -> str:
        values.append(value)
        return value

    # endpoints: bearer token with a custom header, basic auth, api key; a rotation keeps the previous secret
    bearer = ok(
        flowmon.api(
            'POST',
            '/api/webhooks/endpoints',
            json={
                'url': echo.url,
                'event_types': ['execution.completed'],
                'description': 'grep-control-marker',
                'headers': {'X-Custom-Token': keep('hdr-7a91c3')},
                'auth': {'type': 'bearer', 'token': keep('ep-bearer-52e8d4')},
            },
        ),
        201,
    )
    keep(bearer['secret'])
    rotated = ok(flowmon.api('POST', f'/api/webhooks/endpoints/{bearer["id"]}/secret/rotate'))
    assert rotated['previous_secret'] == bearer['secret']
    keep(rotated['secret'])
    basic_auth = {'type': 'basic', 'username': 'ops-user', 'password': keep('ep-basic-pw-0f3b')}
    basic = ok(
        flowmon.api(
            'POST',
            '/api/webhooks/endpoints',
            json={'url': echo.url, 'event_types': ['node.failed'], 'auth': basic_auth},
        ),
        201,
    )
    keep(basic['secret'])
    values.append(base64.b64encode(b'ops-user:ep-basic-pw-0f3b').decode())
    api_key_auth = {'type': 'api_key', 'header': 'X-Partner-Key', 'value': keep('ep-apikey-c7d2')}
    keep(
        ok(
            flowmon.api(
                'POST',
                '/api/webhooks/endpoints',
                json={'url': echo.url, 'event_types': ['node.failed'], 'auth': api_key_auth},
            ),
            201,
        )['secret']
    )

    # ad-hoc deliveries: with auth and a given secret, and with a generated secret
    given_secret = keep('whsec_' + base64.b64encode(b'given-delivery-secret-0123456789').decode())
    delivery = ok(
        flowmon.api(
            'POST',
            '/api/webhooks/deliveries',
            json={
                'url': echo.url,
                'body': {'a': 1},
                'secret': given_secret,
                'auth': {'type': 'bearer', 'token': keep('dlv-bearer-91aa')},
            },
        ),
        202,
    )
    generated = ok(flowmon.api('POST', '/api/webhooks/deliveries', json={'url': echo.url, 'body': {'b': 2}}), 202)
    keep(generated['secret'])

    # named secrets used by a webhook node: url, a header and the bearer token
    hook_token, tenant, node_bearer = keep('hooktok-3f9e'), keep('tenant-key-8c4d'), keep('node-bearer-e65a')
    ok(flowmon.api('PUT', '/api/secrets/hook_url', json={'value': f'{echo.url}?token={hook_token}'}), 201)
    ok(flowmon.api('PUT', '/api/secrets/tenant', json={'value': tenant}), 201)
    ok(flowmon.api('PUT', '/api/secrets/node_bearer', json={'value': node_bearer}), 201)
    ok(flowmon.api('PUT', '/api/secrets/unused', json={'value': keep('named-unused-d40b')}), 201)
    workflow = {
        'id': 'notify',
        'name': 'Notify',
        'trigger': {'enabled': True},
        'nodes': [
            {
                'id': 'send',
                'type': 'webhook',
                'config': {
                    'url': {'$secret': 'hook_url'},
                    'headers': {'X-Tenant': {'$secret': 'tenant'}},
                    'auth': {'type': 'bearer', 'token': {'$secret': 'node_bearer'}},
                    'wait': True,
                },
            }
        ],
    }
    ok(flowmon.api('PUT', '/api/workflows/notify', json=workflow), 201)
    trigger = ok(flowmon.api('GET', '/api/workflows/notify/trigger/secret'))
    keep(trigger['secret'])
    keep(ok(flowmon.api('POST', '/api/workflows/notify/trigger/secret/rotate'))['secret'])

    summary = flowmon.run_to_end('notify')
    assert summary['status'] == 'succeeded', summary
    node_hit = next(hit for hit in echo.hits if hit.path == f'/hook?token={hook_token}')
    assert node_hit.headers['x-tenant'] == tenant and node_hit.headers['authorization'] == f'Bearer {node_bearer}'

    # the ledger shows *** for what came from named secrets
    delivery_id = summary['nodes']['send']['output']['delivery_id']
    detail = ok(flowmon.api('GET', f'/api/webhooks/deliveries/{delivery_id}'))
    assert detail['url'] == '***' and detail['headers'] == {'x-tenant': '***'}
    sent = detail['attempts'][0]['request_headers']
    assert sent['x-tenant'] == '***' and sent['authorization'] == '***'
    assert detail['attempts'][0]['url'] == '***'
    flowmon.poll(f'/api/webhooks/deliveries/{delivery["id"]}', lambda body: body['status'] == 'succeeded')

    # every value is somewhere in flowmon's keeping, and nowhere in the files
    raw = raw_database(flowmon.data_dir)
    assert b'grep-control-marker' in raw  # the copy is readable: plain data shows up
    assert len(values) == 18
    for value in values:
        assert value.encode() not in raw, f'{value!r} is readable in the database files'
    assert flowmon.stop() in (0, -15)
    raw = raw_database(flowmon.data_dir)
    assert b'grep-control-marker' in raw
    assert [value for value in values if value.encode() in raw] == []


def test_plain_values_of_an_older_database_are_sealed_at_start(launch: Launch, tmp_path: Path) -> None:
    data_dir = tmp_path / 'data'
    first = launch(data_dir=data_dir)
    first.wait_started()
    endpoint = ok(
        first.api(
            'POST', '/api/webhooks/endpoints', json={'url': 'https://example.com/in', 'event_types': ['node.failed']}
        ),
        201,
    )
    first.stop()
    plain_secret = 'whsec_' + base64.b64encode(b'an-older-flowmon-plain-secret-01').decode()
    with sqlite3.connect(data_dir / 'flowmon.db') as connection:  # what an earlier flowmon stored
        connection.execute(
            'UPDATE webhook_endpoints SET secret = ?, auth = ?, headers = ? WHERE id = ?',
            (plain_secret, '{"type":"bearer","token":"older-plain-token"}', '{"X-Old":"older-header"}', endpoint['id']),
        )
        connection.execute(
            'INSERT INTO workflow_automation (workflow_id, trigger_secret, schedule_paused, updated_at) '
            'VALUES (?, ?, 0, ?)',
            ('order-pipeline', 'whsec_b2xkZXItdHJpZ2dlci1zZWNyZXQtMDEyMzQ1Njc4OQ==', '2025-01-01 00:00:00.000000'),
        )
    assert b'older-plain-token' in raw_database(data_dir)

    second = launch(data_dir=data_dir)
    second.wait_started()
    assert 'encrypted 4 secret value(s)' in second.stderr
    assert ok(second.api('GET', f'/api/webhooks/endpoints/{endpoint["id"]}/secret'))['secret'] == plain_secret
    assert ok(second.api('GET', '/api/workflows/order-pipeline/trigger/secret'))['secret'].startswith('whsec_b2xkZXIt')
    raw = raw_database(data_dir)
    for value in (b'older-plain-token', b'older-header', plain_secret.encode(), b'whsec_b2xkZXItdHJpZ2dlci1'):
        assert value not in raw


# --- start-up -------------------------------------------------------------------------------------------------


def test_an_invalid_secret_key_stops_start_up_with_one_line(launch: Launch) -> None:
    flowmon = launch(FLOWMON_SECRET_KEY='too-short-but-private')
    assert flowmon.process.wait(timeout=30) == 2
    lines = flowmon.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('flowmon: invalid configuration: FLOWMON_SECRET_KEY:')
    assert 'too-short-but-private' not in flowmon.stderr


# --- rotation -------------------------------------------------------------------------------------------------


def sealed_values(data_dir: Path) -> list[tuple[str, str]]:
    """(aad, sealed value) of the named secrets, endpoint secrets and trigger secrets, read straight from the file."""
    with sqlite3.connect(data_dir / 'flowmon.db') as connection:
        named = [
            (f'secrets/{name}/value', value) for name, value in connection.execute('SELECT name, value FROM secrets')
        ]
        endpoint = [
            (f'webhook_endpoints/{row_id}/secret', value)
            for row_id, value in connection.execute('SELECT id, secret FROM webhook_endpoints')
        ]
        trigger = [
            (f'workflow_automation/{row_id}/trigger_secret', value)
            for row_id, value in connection.execute('SELECT workflow_id, trigger_secret FROM workflow_automation')
        ]
    assert trigger, 'no trigger secret: the example inbound-order accepts triggers'
    return named + endpoint + trigger


def test_rotate_secret_key_reseals_everything_and_the_old_key_opens_nothing(
    launch: Launch, tmp_path: Path, echo: Receiver
) -> None:
    from flowmon.infra.secretbox import SecretBox, UnsealError, decode_key

    data_dir = tmp_path / 'data'
    flowmon = launch(data_dir=data_dir, **LOOPBACK)
    flowmon.wait_started()
    ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': 'rotated-value-61f0'}), 201)
    ok(flowmon.api('PUT', '/api/secrets/echo_url', json={'value': echo.url}), 201)
    endpoint = ok(
        flowmon.api('POST', '/api/webhooks/endpoints', json={'url': echo.url, 'event_types': ['node.failed']}), 201
    )
    ok(flowmon.api('PUT', '/api/workflows/keyed', json=KEYED), 201)

    busy = flowmon_command(data_dir, 'rotate-secret-key')  # flowmon holds the data directory
    assert busy.returncode == 1 and 'stop it first' in busy.stderr, busy.stderr
    second = launch(data_dir=data_dir)  # and a second server is refused as well
    assert second.process.wait(timeout=30) == 2 and 'in use by another process' in second.stderr
    assert flowmon.stop() in (0, -15)

    old_key = decode_key((data_dir / '.secret_key').read_text())
    rotated = flowmon_command(data_dir, 'rotate-secret-key')
    assert rotated.returncode == 0, rotated.stderr
    # 2 named secrets, the endpoint's secret and headers, the trigger secret of the example that accepts triggers
    assert 'Re-encrypted 5 secret value(s)' in rotated.stdout
    assert sorted(path.name for path in data_dir.glob('.secret_key*')) == ['.secret_key']
    new_key = decode_key((data_dir / '.secret_key').read_text())
    assert new_key != old_key
    for where, value in sealed_values(data_dir):
        with pytest.raises(UnsealError):
            SecretBox(old_key).open(value, where)
        assert SecretBox(new_key).open(value, where)

    again = launch(data_dir=data_dir, **LOOPBACK)
    again.wait_started()
    assert ok(again.api('GET', f'/api/webhooks/endpoints/{endpoint["id"]}/secret'))['secret'] == endpoint['secret']
    assert again.run_to_end('keyed')['status'] == 'succeeded'
    assert echo.hits[-1].headers['x-api-key'] == 'rotated-value-61f0'


def test_rotate_with_the_key_in_the_environment_prints_the_new_key(
    launch: Launch, tmp_path: Path, echo: Receiver
) -> None:
    from flowmon.infra.secretbox import encode_key, new_key

    data_dir, old = tmp_path / 'data', encode_key(new_key())
    flowmon = launch(data_dir=data_dir, FLOWMON_SECRET_KEY=old)
    flowmon.wait_started()
    ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': 'env-value-27c4'}), 201)
    flowmon.stop()
    assert not (data_dir / '.secret_key').exists()

    chosen = encode_key(new_key())
    rotated = flowmon_command(
        data_dir, 'rotate-secret-key', '--new-key', '-', stdin=chosen + '\n', FLOWMON_SECRET_KEY=old
    )
    assert rotated.returncode == 0, rotated.stderr
    assert chosen in rotated.stdout and 'set FLOWMON_SECRET_KEY' in rotated.stdout
    assert not (data_dir / '.secret_key').exists()  # nothing written to disk

    stale = launch(data_dir=data_dir, FLOWMON_SECRET_KEY=old)
    assert stale.process.wait(timeout=30) == 2
    assert 'sealed with a key this flowmon does not have' in stale.stderr and 'secrets.value' in stale.stderr

    fresh = launch(data_dir=data_dir, FLOWMON_SECRET_KEY=chosen, **LOOPBACK)
    fresh.wait_started()
    ok(fresh.api('PUT', '/api/secrets/echo_url', json={'value': echo.url}), 201)
    ok(fresh.api('PUT', '/api/workflows/keyed', json=KEYED), 201)
    assert fresh.run_to_end('keyed')['status'] == 'succeeded'
    assert echo.hits[-1].headers['x-api-key'] == 'env-value-27c4'
