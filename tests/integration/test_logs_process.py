"""``FLOWMON_LOG_FORMAT=json`` in the real app: every line flowmon writes is one JSON object, the lines about an
execution or a delivery say which, and neither the access token nor a named secret's value appears anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from flowmon_process import FlowmonProcess, ok
from sample_workflows import http
from sample_workflows import workflow as sample_workflow
from webhook_receiver import Receiver, Reply

Launch = Callable[..., FlowmonProcess]
TOKEN = 'json-logs-token-5e0c17a2b9'
SECRET = 'sk-json-logs-8d31f0'
URL_SECRET = 'urltok-json-4a7c'
TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}


@pytest.fixture
def failing_receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers(lambda index: Reply(500, body=b'{"error": "down"}'))


def test_json_lines_carry_the_ids_and_no_secret_or_token(
    launch: Launch, failing_receiver: Receiver, receiver: Receiver
) -> None:
    flowmon = launch(
        FLOWMON_LOG_FORMAT='json',
        FLOWMON_TOKEN=TOKEN,
        FLOWMON_OUTBOUND_ALLOW='127.0.0.1',
        FLOWMON_WEBHOOK_RETRY_SCHEDULE='0',
    )
    flowmon.wait_started(token=TOKEN)
    ok(flowmon.api('PUT', '/api/secrets/api_key', json={'value': SECRET}), 201)
    ok(flowmon.api('PUT', '/api/secrets/partner_url', json={'value': f'{failing_receiver.url}?key={URL_SECRET}'}), 201)
    call = http('call', {'$secret': 'partner_url'}, headers={'Authorization': {'$secret': 'api_key'}})
    workflow = sample_workflow('partner-call', 'Partner call', call)
    ok(flowmon.api('PUT', '/api/workflows/partner-call', json=workflow), 201)
    execution = ok(flowmon.api('POST', '/api/workflows/partner-call/executions', json={'input': {}}), 202)
    summary = flowmon.poll(f'/api/executions/{execution["id"]}', lambda body: body['status'] in TERMINAL)
    assert summary['status'] == 'failed' and failing_receiver.hits[0].headers['authorization'] == SECRET
    delivery = ok(flowmon.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'a': 1}}), 202)
    flowmon.poll(f'/api/webhooks/deliveries/{delivery["id"]}', lambda body: body['status'] == 'succeeded')
    wrong = httpx.get(f'{flowmon.base_url}/api/workflows', headers={'Authorization': 'Bearer guessed-token-1f2e3d'})
    assert wrong.status_code == 401
    assert flowmon.stop() in (0, -15)  # everything is written by now

    output = flowmon.stdout + flowmon.stderr
    lines = [json.loads(line) for line in output.splitlines()]  # every line, both streams
    assert lines and all({'ts', 'level', 'logger', 'msg'} <= set(line) for line in lines)
    about_execution = [line for line in lines if line.get('execution_id') == execution['id']]
    assert about_execution and all(line['workflow_id'] == 'partner-call' for line in about_execution)
    assert any(line['logger'] == 'httpx' for line in about_execution)  # the library's line, through the context
    about_delivery = [line for line in lines if line.get('delivery_id') == delivery['id']]
    assert any('attempt 1 -> 200' in line['msg'] for line in about_delivery)
    refused = [line for line in lines if line['logger'] == 'flowmon.auth']
    assert [line['msg'] for line in refused] == ['failed token check from 127.0.0.1 on /api/workflows']
    running = next(line for line in lines if line['msg'].startswith('flowmon is running'))
    assert 'FLOWMON_TOKEN' in running['msg']
    for value in (TOKEN, SECRET, URL_SECRET, 'guessed-token-1f2e3d'):
        assert value not in output, f'{value!r} is in the log'
