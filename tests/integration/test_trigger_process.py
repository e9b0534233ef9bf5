"""Inbound triggers through the whole app: one ``python app.py`` (every middleware in front of the routes) for the
module, the shipped examples loaded from their files (``inbound-order`` accepts triggers)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flowmon_process import FlowmonProcess
from signed_hooks import TRIGGERED, signed

TOKEN = 'trigger-process-test-token-0123'


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_TOKEN=TOKEN)
    process.wait_started(token=TOKEN)
    return process


@pytest.fixture
def sender(flowmon: FlowmonProcess) -> Iterator[httpx.Client]:
    """A client without cookies or token, as another system that calls the trigger."""
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as fresh:
        yield fresh


def _trigger(flowmon: FlowmonProcess, workflow_id: str) -> dict[str, Any]:
    response = flowmon.api('GET', f'/api/workflows/{workflow_id}/trigger')
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_workflow_that_accepts_triggers_has_its_secret_before_anyone_reads_it(flowmon: FlowmonProcess) -> None:
    flowmon.put(TRIGGERED)
    for workflow_id in ('triggered', 'inbound-order'):  # saved through the API; loaded from its file
        assert _trigger(flowmon, workflow_id)['has_secret'] is True, workflow_id
        first = flowmon.api('GET', f'/api/workflows/{workflow_id}/trigger/secret').json()
        assert first['secret'].startswith('whsec_') and first['previous_secret'] is None
        assert flowmon.api('GET', f'/api/workflows/{workflow_id}/trigger/secret').json() == first

    untriggered = {**TRIGGERED, 'id': 'untriggered', 'trigger': None}
    flowmon.put(untriggered)
    read = flowmon.api('GET', '/api/workflows/untriggered/trigger/secret')
    assert read.status_code == 404, read.text
    assert 'does not accept triggers' in read.json()['detail']
    assert _trigger(flowmon, 'untriggered')['has_secret'] is False  # the read issued nothing
    flowmon.put({**untriggered, 'trigger': {'enabled': True}})  # saved again, now accepting triggers
    assert _trigger(flowmon, 'untriggered')['has_secret'] is True


def test_every_address_without_a_usable_trigger_gets_the_same_answer(
    flowmon: FlowmonProcess, sender: httpx.Client
) -> None:
    flowmon.put({**TRIGGERED, 'id': 'off', 'trigger': {'enabled': False}})
    flowmon.put({**TRIGGERED, 'id': 'none', 'trigger': None})
    body = b'{"order":1}'
    headers = signed('whsec_' + 'A' * 43 + '=', body)
    answers = {
        workflow_id: sender.post(f'/hooks/{workflow_id}', content=body, headers=headers)
        for workflow_id in ('nope', 'off', 'none')
    }
    assert {(answer.status_code, answer.text) for answer in answers.values()} == {
        (404, '{"detail":"no trigger at this address"}')
    }, {workflow_id: answer.text for workflow_id, answer in answers.items()}

    flowmon.put(TRIGGERED)  # a real trigger: a bad signature is what it says
    refused = sender.post('/hooks/triggered', content=body, headers=headers)
    assert refused.status_code == 401 and 'signature' in refused.json()['detail']


def test_a_webhook_id_used_again_with_another_body_is_a_conflict(flowmon: FlowmonProcess, sender: httpx.Client) -> None:
    flowmon.put(TRIGGERED)
    secret = flowmon.api('GET', '/api/workflows/triggered/trigger/secret').json()['secret']
    body = json.dumps({'order': 1}).encode()
    first = sender.post('/hooks/triggered', content=body, headers=signed(secret, body, message_id='msg_reused'))
    assert first.status_code == 202, first.text

    other = json.dumps({'order': 2}).encode()
    refused = sender.post('/hooks/triggered', content=other, headers=signed(secret, other, message_id='msg_reused'))
    assert refused.status_code == 409, refused.text
    assert refused.json() == {'detail': "webhook-id 'msg_reused' was already used with a different body"}

    retry = sender.post('/hooks/triggered', content=body, headers=signed(secret, body, message_id='msg_reused'))
    assert retry.status_code == 202, retry.text
    assert retry.json() == {**first.json(), 'replayed': True}
    runs = flowmon.api('GET', '/api/executions?workflow_id=triggered').json()
    assert [run['id'] for run in runs['items']] == [first.json()['execution_id']]
    assert flowmon.wait_ended(first.json()['execution_id'])['input'] == {'order': 1}
