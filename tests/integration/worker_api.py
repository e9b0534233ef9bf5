"""Driving worker nodes through a real flowmon process's API (test_workers_process.py, test_dask_process.py)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from flowmon_process import FlowmonProcess

HERE = Path(__file__).resolve().parent
# The worker processes import the test functions (worker_functions.py) by name, and flowmon validates them.
WORKER_ENV = {
    'FLOWMON_PYTHON_MODULES': 'flowmon_demo_nodes,worker_functions',
    'PYTHONPATH': os.pathsep.join(filter(None, [str(HERE), os.environ.get('PYTHONPATH')])),
}


def python(node_id: str, function: str, **extra: Any) -> dict[str, Any]:
    module = 'flowmon_demo_nodes.work' if function in ('spin', 'pause') else 'worker_functions'
    return {'id': node_id, 'type': 'python', 'config': {'callable': f'{module}:{function}'}, **extra}


def start(flowmon: FlowmonProcess, workflow_id: str, nodes: list[dict[str, Any]], input: Any = None) -> str:
    """Save the workflow and start it; returns the execution id."""
    saved = flowmon.api(
        'PUT', f'/api/workflows/{workflow_id}', {'id': workflow_id, 'name': workflow_id, 'nodes': nodes}
    )
    assert saved.status_code in (200, 201), saved.text
    started = flowmon.api('POST', f'/api/workflows/{workflow_id}/executions', {'input': input or {}})
    assert started.status_code == 202, started.text
    return str(started.json()['id'])


def kill_the_first_attempt(flowmon: FlowmonProcess, workflow_id: str, marker: Path) -> tuple[str, int, dict[str, Any]]:
    """Run a ``hang_once`` node allowed a second attempt, SIGKILL the process computing the first one and wait for
    the execution to succeed on the retry. Returns the execution id, the killed pid and the ``node.retrying`` event."""
    node = python('hang', 'hang_once', retry={'max_attempts': 2, 'backoff_seconds': 0})
    execution_id = start(flowmon, workflow_id, [node], {'marker': str(marker)})
    pid = marker_pid(marker)
    os.kill(pid, signal.SIGKILL)
    summary = finished(flowmon, execution_id)
    assert summary['status'] == 'succeeded'
    (retrying,) = events(flowmon, execution_id, 'hang', 'node.retrying')
    return execution_id, pid, retrying


def run_cpu_workflow(flowmon: FlowmonProcess) -> set[str]:
    """Run four CPU-bound python nodes and the example plugin's two types (``count_primes`` on a worker,
    ``word_count`` on flowmon's loop), checking that ``/api/health`` answers while they compute and what each node
    says about its worker. Returns the workers the worker nodes ran on."""
    nodes = [python(f'spin{i}', 'spin') for i in range(4)]
    nodes += [
        {'id': 'primes', 'type': 'count_primes', 'config': {'below': 200_000}},
        {'id': 'words', 'type': 'word_count', 'config': {}},
    ]
    execution_id = start(flowmon, 'cpu', nodes, {'seconds': 0.75, 'text': 'one two three'})
    assert health_answers_while_computing(flowmon, execution_id) > 0
    summary = finished(flowmon, execution_id)
    assert summary['status'] == 'succeeded', summary['error']
    workers = set()
    for node_id in ('spin0', 'spin1', 'spin2', 'spin3', 'primes'):
        (started,) = events(flowmon, execution_id, node_id, 'node.started')
        (completed,) = events(flowmon, execution_id, node_id, 'node.completed')
        worker = started['data']['worker']
        assert worker == completed['data']['worker'] == summary['nodes'][node_id]['worker']
        workers.add(worker)
    assert summary['nodes']['primes']['output'] == {'below': 200_000, 'primes': 17984}
    assert summary['nodes']['words']['output'] == {'words': 3} and summary['nodes']['words']['worker'] is None
    return workers


def finished(flowmon: FlowmonProcess, execution_id: str, timeout: float = 60) -> dict[str, Any]:
    done = {'succeeded', 'failed', 'cancelled', 'interrupted'}
    return flowmon.poll(f'/api/executions/{execution_id}', lambda body: body['status'] in done, timeout=timeout)


def health_answers_while_computing(flowmon: FlowmonProcess, execution_id: str) -> int:
    """Until the execution ends, ask ``/api/health`` whenever one of its nodes computes on a worker; returns how
    many times it answered then (each answer must be 200)."""
    answered = 0
    while True:
        summary = flowmon.api('GET', f'/api/executions/{execution_id}').json()
        if summary['status'] != 'running':
            return answered
        if any(node['status'] == 'running' and node['worker'] for node in summary['nodes'].values()):
            assert httpx.get(f'{flowmon.base_url}/api/health', timeout=5).status_code == 200
            answered += 1
        time.sleep(0.05)


def events(flowmon: FlowmonProcess, execution_id: str, node_id: str, type_: str | None = None) -> list[dict[str, Any]]:
    response = flowmon.api('GET', f'/api/executions/{execution_id}/events?limit=1000')
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e['node_id'] == node_id and (type_ is None or e['type'] == type_)]


def marker_pid(marker: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while not (marker.exists() and marker.read_text(encoding='utf-8')):
        assert time.monotonic() < deadline, f'{marker} did not appear'
        time.sleep(0.02)
    return int(marker.read_text(encoding='utf-8'))
