"""The shipped examples (``data/workflows``) as a newcomer meets them in ``python app.py``: every one loads, the
scheduled one shows its schedule and next run without firing at start-up, the triggered one starts from a signed
``POST /hooks/inbound-order``, and both run to the end by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from flowmon_process import REPO_ROOT, FlowmonProcess
from signed_hooks import signed

EXAMPLES = REPO_ROOT / 'data' / 'workflows'


def finished_nodes(flowmon: FlowmonProcess, execution_id: str) -> dict[str, str]:
    summary = flowmon.wait_ended(execution_id)
    assert summary['status'] == 'succeeded', summary
    return {node_id: node['status'] for node_id, node in summary['nodes'].items()}


def test_the_examples_show_a_schedule_and_an_inbound_trigger(launch: Callable[..., FlowmonProcess]) -> None:
    flowmon = launch(FLOWMON_WORKFLOWS_DIR=str(EXAMPLES))  # the real directory, schedule and all
    flowmon.wait_started()
    shipped = {path.stem for path in EXAMPLES.iterdir() if path.suffix in {'.json', '.yaml'}}
    assert {item['id'] for item in flowmon.api('GET', '/api/workflows').json()} == shipped
    assert 'skipped' not in flowmon.stderr  # no file was refused

    scheduled = json.loads((EXAMPLES / 'morning-digest.json').read_text())
    assert {node['type'] for node in scheduled['nodes']} <= {'transform', 'condition', 'log'}  # cheap: nothing waits
    schedule = flowmon.api('GET', '/api/workflows/morning-digest/schedule').json()
    assert (schedule['cron'], schedule['timezone'], schedule['paused']) == ('0 7 * * mon-fri', 'UTC', False)
    next_run = datetime.fromisoformat(schedule['next_run_at']).astimezone(UTC)
    assert (next_run.hour, next_run.minute) == (7, 0) and next_run.weekday() < 5
    for cron, weekday in (('0 9 * * 0', 6), ('0 9 * * 7', 6), ('30 6 * * 1', 0)):  # crontab's days: 0 and 7 Sunday
        sunday = {**scheduled, 'id': 'weekly', 'schedule': {'cron': cron, 'timezone': 'UTC'}}
        flowmon.put(sunday)
        weekly = flowmon.api('GET', '/api/workflows/weekly/schedule').json()
        assert datetime.fromisoformat(weekly['next_run_at']).astimezone(UTC).weekday() == weekday, (cron, weekly)
    assert flowmon.api('DELETE', '/api/workflows/weekly').status_code == 204
    fired = flowmon.api('GET', '/api/executions?trigger=schedule').json()['total']
    assert fired == 0 or datetime.now(UTC) >= next_run  # nothing fired at start (its own tick comes at next_run)
    assert finished_nodes(flowmon, flowmon.start('morning-digest'))['flag_on_call'] == 'succeeded'

    trigger = flowmon.api('GET', '/api/workflows/inbound-order/trigger').json()
    assert (trigger['enabled'], trigger['path']) == (True, '/hooks/inbound-order')
    secret = flowmon.api('GET', '/api/workflows/inbound-order/trigger/secret').json()['secret']
    body = json.dumps({'order_id': 'A-1001', 'amount': 750}).encode()
    headers = signed(secret, body, message_id='msg_example1')
    answer = httpx.post(f'{flowmon.base_url}/hooks/inbound-order', content=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    nodes = finished_nodes(flowmon, answer.json()['execution_id'])
    assert (nodes['hold_for_review'], nodes['accept_order']) == ('succeeded', 'skipped')
    listed = flowmon.api('GET', '/api/executions?trigger=hook').json()
    assert [item['workflow_id'] for item in listed['items']] == ['inbound-order']
