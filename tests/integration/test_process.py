"""flowmon as a process: start-up, configuration errors, restarts and a crash mid-run."""

from __future__ import annotations

import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowmon_process import FlowmonProcess

Launch = Callable[..., FlowmonProcess]

QUICK = {
    'id': 'quick',
    'name': 'Quick chain',
    'nodes': [
        {'id': 'prepare', 'type': 'transform', 'config': {'expression': '{n: input.n}'}},
        {'id': 'work', 'type': 'delay', 'config': {'seconds': 0.05}},
        {'id': 'report', 'type': 'log', 'config': {'message': 'done', 'expression': 'input.n'}},
    ],
    'edges': [{'source': 'prepare', 'target': 'work'}, {'source': 'work', 'target': 'report'}],
}

SLOW = {
    'id': 'slow',
    'name': 'Slow',
    'nodes': [
        {'id': 'first', 'type': 'log', 'config': {'message': 'quick'}},
        {'id': 'wait', 'type': 'delay', 'config': {'seconds': 30}},
        {'id': 'after', 'type': 'log', 'config': {'message': 'late'}},
    ],
    'edges': [{'source': 'first', 'target': 'wait'}, {'source': 'wait', 'target': 'after'}],
}

TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}
# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -SIGTERM is a clean exit here.
CLEAN_EXIT = {0, -signal.SIGTERM}


def put_and_start(flowmon: FlowmonProcess, workflow: dict[str, Any], input: dict[str, Any]) -> str:
    response = flowmon.api('PUT', f'/api/workflows/{workflow["id"]}', json=workflow)
    assert response.status_code in (200, 201), response.text
    response = flowmon.api('POST', f'/api/workflows/{workflow["id"]}/executions', json={'input': input})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def test_start_up_prints_the_address_with_the_given_token(launch: Launch) -> None:
    flowmon = launch(FLOWMON_TOKEN='given-token')
    assert flowmon.wait_started() == 'given-token'
    assert f'Open http://127.0.0.1:{flowmon.port}/?token=given-token' in flowmon.stdout

    assert flowmon.api('GET', '/api/workflows').status_code == 200
    assert {w['id'] for w in flowmon.api('GET', '/api/workflows').json()} >= {'order-pipeline', 'nightly-batch'}
    flowmon.token = 'wrong'
    assert flowmon.api('GET', '/api/workflows').status_code == 401
    assert not (flowmon.data_dir / '.token').exists()  # a given token is not written anywhere
    assert flowmon.stop() in CLEAN_EXIT


def test_without_a_token_one_is_generated_kept_private_and_reused(launch: Launch, tmp_path: Path) -> None:
    first = launch(FLOWMON_TOKEN=None)
    token = first.wait_started()
    path = first.data_dir / '.token'
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 32
    assert first.api('GET', '/api/executions').status_code == 200
    assert first.stop() in CLEAN_EXIT

    second = launch(first.data_dir, FLOWMON_TOKEN=None)
    assert second.wait_started() == token
    assert f'Open http://127.0.0.1:{second.port}/?token={token}' in second.stdout
    assert second.api('GET', '/api/executions').status_code == 200
    second.stop()


def test_an_invalid_setting_stops_start_up_with_one_line_naming_it(launch: Launch) -> None:
    flowmon = launch(FLOWMON_PORT='abc')
    began = time.monotonic()
    code = flowmon.process.wait(timeout=20)
    assert code != 0
    assert time.monotonic() - began < 20
    lines = [line for line in flowmon.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, flowmon.stderr
    assert 'FLOWMON_PORT' in lines[0]
    assert 'abc' in lines[0]
    assert 'Traceback' not in flowmon.stdout + flowmon.stderr


def test_history_survives_a_restart(launch: Launch) -> None:
    first = launch(FLOWMON_TOKEN='t')
    first.wait_started()
    execution_id = put_and_start(first, QUICK, {'n': 7})
    summary = first.poll(f'/api/executions/{execution_id}', lambda s: s['status'] in TERMINAL)
    assert summary['status'] == 'succeeded'
    events = first.api('GET', f'/api/executions/{execution_id}/events').json()
    assert events[-1]['type'] == 'execution.completed'
    assert first.stop(signal.SIGTERM) in CLEAN_EXIT

    second = launch(first.data_dir, FLOWMON_TOKEN='t')
    second.wait_started()
    assert second.api('GET', f'/api/executions/{execution_id}').json() == summary
    assert second.api('GET', f'/api/executions/{execution_id}/events').json() == events
    listed = second.api('GET', '/api/executions').json()
    assert [item['id'] for item in listed['items']] == [execution_id]
    assert second.api('GET', '/api/workflows/quick').json()['name'] == 'Quick chain'
    second.stop()


def test_sigterm_mid_run_records_the_interruption_before_exiting(launch: Launch) -> None:
    first = launch(FLOWMON_TOKEN='t')
    first.wait_started()
    execution_id = put_and_start(first, SLOW, {})
    first.poll(f'/api/executions/{execution_id}', lambda s: s['nodes']['wait']['status'] == 'running')
    assert first.stop(signal.SIGTERM) in CLEAN_EXIT  # no read before: only the shutdown flush can save the tail

    second = launch(first.data_dir, FLOWMON_TOKEN='t')
    second.wait_started()
    events = second.api('GET', f'/api/executions/{execution_id}/events').json()
    assert [e['seq'] for e in events] == list(range(1, len(events) + 1))
    assert [(e['type'], e['node_id']) for e in events if e['type'] != 'execution.progress'][-4:] == [
        ('node.started', 'wait'),
        ('node.cancelled', 'wait'),
        ('node.cancelled', 'after'),
        ('execution.interrupted', None),
    ]
    # Written by the engine while shutting down, not by start-up recovery (which says "... while this was active").
    assert events[-1]['data'] == {'reason': 'flowmon stopped'}
    summary = second.api('GET', f'/api/executions/{execution_id}').json()
    assert summary['status'] == 'interrupted'
    assert summary['nodes']['wait']['status'] == 'cancelled'
    second.stop()


def test_a_run_killed_mid_way_is_interrupted_after_restart(launch: Launch) -> None:
    first = launch(FLOWMON_TOKEN='t')
    first.wait_started()
    execution_id = put_and_start(first, SLOW, {})
    first.poll(
        f'/api/executions/{execution_id}',
        lambda s: s['status'] == 'running' and s['nodes']['wait']['status'] == 'running',
    )
    before = first.api('GET', f'/api/executions/{execution_id}/events').json()  # reading flushes them
    assert before[-1]['type'] == 'node.started' and before[-1]['node_id'] == 'wait'
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = launch(first.data_dir, FLOWMON_TOKEN='t')
    second.wait_started()
    summary = second.api('GET', f'/api/executions/{execution_id}').json()
    assert summary['status'] == 'interrupted'
    assert {n: s['status'] for n, s in summary['nodes'].items()} == {
        'first': 'succeeded',
        'wait': 'cancelled',
        'after': 'cancelled',
    }
    assert summary['finished_at'] is not None

    events = second.api('GET', f'/api/executions/{execution_id}/events').json()
    assert events[: len(before)] == before  # nothing recorded before the crash is lost
    assert [e['seq'] for e in events] == list(range(1, len(events) + 1))
    assert [(e['type'], e['node_id']) for e in events[len(before) :]] == [
        ('node.cancelled', 'wait'),
        ('node.cancelled', 'after'),
        ('execution.interrupted', None),
    ]
    listed = second.api('GET', '/api/executions').json()
    assert [(item['id'], item['status']) for item in listed['items']] == [(execution_id, 'interrupted')]
    second.stop()
