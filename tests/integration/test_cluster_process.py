"""Two real flowmon processes (``python app.py``) on one PostgreSQL database, driven over HTTP only.

What one process runs, the other shows live and can cancel; a webhook-id received by both starts one execution;
every cron tick starts one execution; and after ``kill -9`` of one, the other marks its running execution
``interrupted`` (with ``node.cancelled`` events) once the lease has run out, and sends each webhook attempt it had
pending or in flight exactly once more.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowmon_process import FlowmonProcess
from postgres_support import create_database_now, drop_database_now, query_now
from signed_hooks import signed
from webhook_receiver import Receiver, Reply

Launch = Callable[..., FlowmonProcess]
TOKEN = 'cluster-process-token-0123'
LEASE_S = 4.0  # renewed every third of it: a process stalled that long on a loaded machine is taken for dead
TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}

STEPS = {  # a run whose progress can be watched: three steps of 1 s (b is sampled while each runs; loaded, rarely)
    'id': 'steps',
    'name': 'Steps',
    'nodes': [{'id': f's{n}', 'type': 'delay', 'config': {'seconds': 1.0}} for n in range(3)],
    'edges': [{'source': 's0', 'target': 's1'}, {'source': 's1', 'target': 's2'}],
}
SLOW = {
    'id': 'slow',
    'name': 'Slow',
    'trigger': {'enabled': True},
    'nodes': [
        {'id': 'first', 'type': 'log', 'config': {'message': 'quick'}},
        {'id': 'wait', 'type': 'delay', 'config': {'seconds': 60}},
        {'id': 'after', 'type': 'log', 'config': {'message': 'late'}},
    ],
    'edges': [{'source': 'first', 'target': 'wait'}, {'source': 'wait', 'target': 'after'}],
}
EVERY_MINUTE = {
    'id': 'tick',
    'name': 'Every minute',
    'schedule': {'cron': '* * * * *', 'timezone': 'UTC'},
    'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': 'tick'}}],
}


@pytest.fixture
def shared_database(request: pytest.FixtureRequest) -> Iterator[str]:
    url = create_database_now(request.getfixturevalue('postgres_server'))
    try:
        yield url
    finally:
        drop_database_now(url)


def get(flowmon: FlowmonProcess, path: str) -> Any:
    response = flowmon.api('GET', path)
    assert response.status_code == 200, response.text
    return response.json()


def status(flowmon: FlowmonProcess, execution_id: str) -> str | None:
    """The execution's status as ``flowmon`` sees it; None while it does not know it yet (another process started
    it less than a group commit ago)."""
    response = flowmon.api('GET', f'/api/executions/{execution_id}')
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return str(response.json()['status'])


def wait_for(what: str, check: Callable[[], Any], timeout: float, *processes: FlowmonProcess) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            logs = '\n'.join(f'--- {p.base_url}\n{p.logs(30)}' for p in processes)
            pytest.fail(f'{what}: not within {timeout} s\n{logs}')
        time.sleep(0.05)
    return result


def start_run(flowmon: FlowmonProcess, workflow_id: str) -> str:
    response = flowmon.api('POST', f'/api/workflows/{workflow_id}/executions', json={'input': {}})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def test_two_processes_share_one_postgresql_database(launch: Launch, shared_database: str, tmp_path: Path) -> None:
    workflows = tmp_path / 'workflows'
    workflows.mkdir()
    for workflow in (STEPS, SLOW, EVERY_MINUTE):
        (workflows / f'{workflow["id"]}.json').write_text(json.dumps(workflow))
    slow_receiver = Receiver([Reply(200, delay=30)]).start()  # holds the first attempt in flight
    failing_receiver = Receiver([Reply(503)]).start()
    env = {
        'FLOWMON_DATABASE_URL': shared_database,
        'FLOWMON_SECRET_KEY': base64.urlsafe_b64encode(os.urandom(32)).decode(),
        'FLOWMON_TOKEN': TOKEN,
        'FLOWMON_WORKFLOWS_DIR': str(workflows),
        'FLOWMON_LEASE_SECONDS': str(LEASE_S),
        'FLOWMON_OUTBOUND_ALLOW': '127.0.0.1',
        'FLOWMON_WEBHOOK_RETRY_SCHEDULE': '0,5',
        'FLOWMON_WEBHOOK_JITTER': '0',
    }
    try:
        a, b = launch(tmp_path / 'a', **env), launch(tmp_path / 'b', **env)
        a.wait_started(token=TOKEN)
        b.wait_started(token=TOKEN)
        both_alive_since = datetime.now(UTC)

        _a_run_started_in_a_opens_in_b_at_once(a, b)
        _a_run_in_a_is_live_in_b(a, b)
        _a_cancel_from_b_stops_the_run_in_a(a, b)
        _a_webhook_id_sent_to_both_starts_one_execution(a, b)
        _every_cron_tick_starts_one_execution(a, b, shared_database, both_alive_since)
        _kill_a_and_b_takes_over(a, b, shared_database, slow_receiver, failing_receiver)
    finally:
        slow_receiver.stop()
        failing_receiver.stop()


def _a_run_started_in_a_opens_in_b_at_once(a: FlowmonProcess, b: FlowmonProcess) -> None:
    """A script behind a load balancer: the id that one process answered with is found by the other at once."""
    started = []
    for _ in range(5):
        started.append(start_run(a, 'steps'))
        response = b.api('GET', f'/api/executions/{started[-1]}')
        assert response.status_code == 200, response.text
    wait_for('the runs to end', lambda: all(status(a, run) in TERMINAL for run in started), 20, a, b)


def _a_run_in_a_is_live_in_b(a: FlowmonProcess, b: FlowmonProcess) -> None:
    execution_id = start_run(a, 'steps')
    seen: list[tuple[str, ...]] = []

    def watch() -> bool:
        if status(b, execution_id) is None:
            return False
        summary = get(b, f'/api/executions/{execution_id}')
        statuses = tuple(summary['nodes'][f's{n}']['status'] for n in range(3)) if summary['nodes'] else ()
        if statuses and (not seen or seen[-1] != statuses):
            seen.append(statuses)
        return summary['status'] in TERMINAL

    wait_for('the run of a to end, seen from b', watch, 20, a, b)
    assert ('succeeded', 'running', 'pending') in seen  # b showed it while it ran, step by step
    assert seen[-1] == ('succeeded', 'succeeded', 'succeeded')
    assert get(b, f'/api/executions/{execution_id}/events') == get(a, f'/api/executions/{execution_id}/events')
    listed = {item['id'] for item in get(b, '/api/executions?workflow_id=steps')['items']}
    assert execution_id in listed


def _a_cancel_from_b_stops_the_run_in_a(a: FlowmonProcess, b: FlowmonProcess) -> None:
    execution_id = start_run(a, 'slow')
    wait_for('b to see the run waiting', lambda: status(b, execution_id) == 'running', 20)
    asked = datetime.now(UTC)
    response = b.api('POST', f'/api/executions/{execution_id}/cancel')
    assert response.status_code == 202, response.text
    wait_for('a to cancel it', lambda: get(a, f'/api/executions/{execution_id}')['status'] == 'cancelled', 20, a, b)
    events = get(a, f'/api/executions/{execution_id}/events')
    cancelled = datetime.fromisoformat(events[-1]['ts'])
    assert events[-1]['type'] == 'execution.cancelled'
    # long before the 60 s wait would have ended (a's clock; the README's "within a second" is on a quiet machine)
    assert (cancelled - asked).total_seconds() < 10.0
    assert get(b, f'/api/executions/{execution_id}')['status'] == 'cancelled'


def _a_webhook_id_sent_to_both_starts_one_execution(a: FlowmonProcess, b: FlowmonProcess) -> None:
    secret = get(a, '/api/workflows/slow/trigger/secret')['secret']
    body = json.dumps({'order': 1}).encode()
    headers = signed(secret, body, message_id='msg_cluster_1')
    answers: list[httpx.Response] = []

    def post(flowmon: FlowmonProcess) -> None:
        answers.append(httpx.post(f'{flowmon.base_url}/hooks/slow', content=body, headers=headers, timeout=10))

    threads = [threading.Thread(target=post, args=(flowmon,)) for flowmon in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [202] * 4, [answer.text for answer in answers]
    ids = {answer.json()['execution_id'] for answer in answers}
    assert len(ids) == 1 and sorted(answer.json()['replayed'] for answer in answers) == [False, True, True, True]
    (execution_id,) = ids
    for flowmon in (a, b):  # whoever started it, it runs once and either process can stop it
        wait_for('the hooked run', lambda f=flowmon: status(f, execution_id) == 'running', 20)
    assert b.api('POST', f'/api/executions/{execution_id}/cancel').status_code == 202
    wait_for('the hooked run to stop', lambda: status(a, execution_id) == 'cancelled', 20)


def _every_cron_tick_starts_one_execution(a: FlowmonProcess, b: FlowmonProcess, url: str, since: datetime) -> None:
    """Both processes fire the every-minute schedule; each tick (one a minute) starts exactly one execution."""

    def ticks() -> list[tuple[Any, ...]]:
        return query_now(url, 'SELECT fire_time, execution_id, owner FROM schedule_ticks ORDER BY fire_time')

    wait_for('a cron tick while both run', lambda: [t for t in ticks() if t[0] > since], 75, a, b)
    seen = ticks()  # (the next tick can come while this looks: a minute boundary is anywhere in the test)
    for tick in seen:
        wait_for('its run', lambda tick=tick: status(b, tick[1]) in TERMINAL, 20, a, b)
    runs = {run['id']: run for run in get(b, '/api/executions?workflow_id=tick&limit=500')['items']}
    after = ticks()
    assert {tick[1] for tick in seen} <= set(runs) <= {tick[1] for tick in after}  # one execution per tick
    assert all(runs[tick[1]]['status'] == 'succeeded' for tick in seen)
    assert len({tick[0] for tick in after}) == len(after)


def _kill_a_and_b_takes_over(
    a: FlowmonProcess, b: FlowmonProcess, url: str, slow_receiver: Receiver, failing_receiver: Receiver
) -> None:
    running = start_run(a, 'slow')
    wait_for(
        'the run to wait', lambda: get(a, f'/api/executions/{running}')['nodes']['wait']['status'] == 'running', 20
    )
    in_flight = a.api('POST', '/api/webhooks/deliveries', json={'url': slow_receiver.url, 'body': {'n': 1}}).json()
    pending = a.api('POST', '/api/webhooks/deliveries', json={'url': failing_receiver.url, 'body': {'n': 2}}).json()
    slow_receiver.wait_hits(1)  # attempt 1 is in flight: the receiver holds its answer
    wait_for(
        'attempt 1 to fail', lambda: get(a, f'/api/webhooks/deliveries/{pending["id"]}')['status'] == 'retrying', 20
    )
    before = get(a, f'/api/executions/{running}/events')  # read: everything so far is written

    assert a.stop(signal.SIGKILL) == -signal.SIGKILL
    # a's last renewal: its lease runs out LEASE_S after it (b may not take over before)
    (last_heartbeat,) = query_now(url, 'SELECT max(heartbeat_at) FROM processes WHERE pid = $1', a.process.pid)[0]
    summary = wait_for(
        'b to mark the run of a interrupted',
        lambda: (s := get(b, f'/api/executions/{running}'))['status'] == 'interrupted' and s,
        LEASE_S * 3 + 5,
        b,
    )
    assert {node: state['status'] for node, state in summary['nodes'].items()} == {
        'first': 'succeeded',
        'wait': 'cancelled',
        'after': 'cancelled',
    }
    events = get(b, f'/api/executions/{running}/events')
    assert events[: len(before)] == before
    assert [(e['type'], e['node_id']) for e in events[len(before) :]] == [
        ('node.cancelled', 'wait'),
        ('node.cancelled', 'after'),
        ('execution.interrupted', None),
    ]
    taken_over = datetime.fromisoformat(events[len(before)]['ts'])
    lease_end = last_heartbeat.replace(tzinfo=last_heartbeat.tzinfo or UTC).timestamp() + LEASE_S
    assert taken_over.timestamp() >= lease_end - 0.05  # not before a's lease ran out (0.05 s: the clocks' rounding)
    metrics = httpx.get(f'{b.base_url}/metrics', headers={'Authorization': f'Bearer {b.token}'}, timeout=10).text
    assert f'flowmon_executions_total{{status="interrupted",workflow="{SLOW["id"]}"}} 1.0' in metrics  # b counts it

    for delivery, receiver, first in ((in_flight, slow_receiver, 'interrupted'), (pending, failing_receiver, None)):
        detail = wait_for(
            'b to send the next attempt',
            lambda d=delivery: (x := get(b, f'/api/webhooks/deliveries/{d["id"]}'))['status'] == 'succeeded' and x,
            20,
            b,
        )
        attempts = [(attempt['n'], attempt['error_class'] or attempt['status_code']) for attempt in detail['attempts']]
        assert attempts == [(1, first or 503), (2, 200)]  # each attempt number once, across a's death
        assert len(receiver.hits) == 2
        assert {hit.headers['webhook-id'] for hit in receiver.hits} == {delivery['webhook_id']}
