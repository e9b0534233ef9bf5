"""The queue of executions waiting for a slot is bounded (``FLOWMON_MAX_QUEUED_EXECUTIONS``), through the real app:
past it every way to start a run is refused with 503 and ``Retry-After`` and nothing is queued, an inbound trigger's
message id is not kept (the sender's retry starts it), and what was queued runs as before."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from flowmon_process import FlowmonProcess
from signed_hooks import signed
from waiting import wait_until

TOKEN = 'queue-limit-test-token-0123456789'
AUTH = {'Authorization': f'Bearer {TOKEN}'}
SLOW = {
    'id': 'slow',
    'name': 'Slow',
    'trigger': {'enabled': True},
    'nodes': [{'id': 'wait', 'type': 'delay', 'config': {'seconds': 0.6}}],
}
HOLD = {  # holds the one slot until cancelled: the queue stays full while the test is refused, however slow it is
    'id': 'hold',
    'name': 'Hold',
    'nodes': [{'id': 'wait', 'type': 'delay', 'config': {'seconds': 600}}],
}


def test_past_the_queue_limit_runs_are_refused_with_503_and_nothing_is_lost(
    launch: Callable[..., FlowmonProcess],
) -> None:
    flowmon = launch(FLOWMON_TOKEN=TOKEN, FLOWMON_MAX_CONCURRENT_EXECUTIONS='1', FLOWMON_MAX_QUEUED_EXECUTIONS='2')
    flowmon.wait_started()
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0, headers=AUTH) as api:
        assert api.put('/api/workflows/slow', json=SLOW).status_code in (200, 201)
        assert api.put('/api/workflows/hold', json=HOLD).status_code in (200, 201)
        secret = api.get('/api/workflows/slow/trigger/secret').json()['secret']
        finished = api.post('/api/workflows/slow/executions', json={}).json()['id']
        wait_until(lambda: api.get(f'/api/executions/{finished}').json()['status'] == 'succeeded', 'a first run to end')
        holding = api.post('/api/workflows/hold/executions', json={})  # runs
        accepted = [api.post('/api/workflows/slow/executions', json={}) for _ in range(2)]  # wait
        assert [response.status_code for response in (holding, *accepted)] == [202, 202, 202]

        refused = api.post('/api/workflows/slow/executions', json={})
        assert refused.status_code == 503, refused.text
        assert refused.headers['retry-after'] == '5'
        assert 'too many executions waiting: 2 are queued' in refused.json()['detail']
        rerun = api.post(f'/api/executions/{finished}/rerun', json={})
        assert rerun.status_code == 503 and rerun.headers['retry-after'] == '5', rerun.text
        assert 'too many executions waiting' in rerun.json()['detail']
        body = json.dumps({'order': 7}).encode()
        headers = signed(secret, body)
        hooked = httpx.post(f'{flowmon.base_url}/hooks/slow', content=body, headers=headers, timeout=10.0)
        assert hooked.status_code == 503 and hooked.headers['retry-after'] == '5', hooked.text

        status = api.get('/api/status').json()
        assert status['executions']['queued'] + status['executions']['active'] == 3, status  # nothing else went in

        held = holding.json()['id']
        assert api.post(f'/api/executions/{held}/cancel').status_code == 202
        ids = [response.json()['id'] for response in accepted]

        def ended() -> bool:
            states = [api.get(f'/api/executions/{execution_id}').json()['status'] for execution_id in ids]
            return all(state == 'succeeded' for state in states)

        wait_until(ended, 'the two queued runs to succeed once the slot is free')
        assert api.get(f'/api/executions/{held}').json()['status'] == 'cancelled'
        again = httpx.post(f'{flowmon.base_url}/hooks/slow', content=body, headers=headers, timeout=10.0)
        assert again.status_code == 202, again.text  # the refused message's id was not kept: its retry starts it
        assert api.post(f'/api/executions/{finished}/rerun', json={}).status_code == 202
    assert 'Traceback' not in flowmon.stderr
