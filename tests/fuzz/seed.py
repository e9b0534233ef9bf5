"""Prepare a running flowmon for fuzzing: wait until it answers, create one of each resource, list their ids.

Without existing ids every ``/{workflow_id}``, ``/{execution_id}``, ... operation only ever meets 404, and the
fuzzer never reaches the code behind it. This creates a workflow with a trigger, a schedule and a secret
reference, finished, running and imported executions, a webhook endpoint, a delivery and a named secret, and
writes their ids into the ``*.dict`` files that ``schemathesis.toml`` (next to them) reads.

Nothing here leaves the machine: the endpoint and the delivery point at ``fuzz-sink.invalid``, a name that can
never resolve (RFC 6761), on the one port the fuzz run allows (``FLOWMON_OUTBOUND_PORTS``), so every attempt
fails and is retried, and any URL the fuzzer invents on another port is refused before a name is looked up.

Usage: ``python tests/fuzz/seed.py BASE_URL SERVER_PID DIRECTORY`` with the token in ``FUZZ_TOKEN``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/: the one way tests wait, workflow builders
from sample_workflows import condition, log, node, transform, workflow
from waiting import wait_until

STARTUP_TIMEOUT_S = 60.0
SINK_PORT = 1
SINK_URL = f'https://fuzz-sink.invalid:{SINK_PORT}/hook'
SECRET_NAME = 'fuzz_secret'
HOOKED_WORKFLOW = workflow(
    'fuzz-hooked',
    'Fuzz target with a trigger, a schedule and a secret',
    transform('shape', '{order: input.order_id, n: length(@)}'),
    condition('check', 'shape.n > `1`'),
    log('note', {'$secret': SECRET_NAME}),
    node('notify', 'webhook', config={'url': SINK_URL, 'body': 'shape'}),
    edges=[('shape', 'check'), ('check', 'note', True), ('check', 'notify', False)],
    trigger={'enabled': True},
    schedule={'cron': '0 0 1 1 *', 'timezone': 'UTC'},
)


def wait_healthy(client: httpx.Client, pid: int) -> None:
    """Poll ``/api/health`` until it answers 200; fail at once if the server process is gone."""

    def healthy() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f'flowmon (pid {pid}) exited during start-up')
        return client.get('/api/health').status_code == 200

    wait_until(healthy, 'flowmon to answer /api/health', timeout=STARTUP_TIMEOUT_S, ignoring=(httpx.TransportError,))


def call(client: httpx.Client, method: str, path: str, expected: int, **kwargs: Any) -> Any:
    response = client.request(method, path, **kwargs)
    if response.status_code != expected:
        sys.exit(f'seeding: {method} {path} answered {response.status_code}, not {expected}: {response.text[:500]}')
    return response.json() if response.content else None


def wait_finished(client: httpx.Client, execution_id: str) -> None:
    wait_until(
        lambda: call(client, 'GET', f'/api/executions/{execution_id}', 200)['status'] not in ('queued', 'running'),
        f'seeding: execution {execution_id} to finish',
    )


def seed(client: httpx.Client) -> dict[str, list[str]]:
    """Create the resources; returns the values of each dictionary."""
    call(client, 'PUT', f'/api/secrets/{SECRET_NAME}', 201, json={'value': 'fuzz-secret-value'})
    call(client, 'PUT', f'/api/workflows/{HOOKED_WORKFLOW["id"]}', 201, json=HOOKED_WORKFLOW)
    workflows = [item['id'] for item in call(client, 'GET', '/api/workflows', 200)]

    def start(workflow_id: str, data: dict[str, Any]) -> str:
        return call(client, 'POST', f'/api/workflows/{workflow_id}/executions', 202, json={'input': data})['id']

    finished = start('fuzz-hooked', {'order_id': 'A-1'})
    failed = start('broken-etl', {})
    running = start('nightly-batch', {})
    wait_finished(client, finished)  # the other two are fuzzed wherever they have got to
    export = call(client, 'GET', f'/api/executions/{finished}/export', 200)
    imported = call(client, 'POST', '/api/executions/import', 201, json=export)['id']

    endpoint = call(
        client,
        'POST',
        '/api/webhooks/endpoints',
        201,
        json={'url': SINK_URL, 'event_types': ['execution.failed'], 'auth': {'type': 'bearer', 'token': 'fuzz'}},
    )['id']
    delivery = call(client, 'POST', '/api/webhooks/deliveries', 202, json={'url': SINK_URL, 'body': {'a': 1}})['id']
    return {
        'workflow_ids': workflows,
        'disposable_workflow_ids': [wf for wf in workflows if wf != HOOKED_WORKFLOW['id']],
        'execution_ids': [finished, failed, running, imported],
        'endpoint_ids': [endpoint],
        'delivery_ids': [delivery],
    }


def write_dictionaries(values: dict[str, list[str]], directory: Path) -> None:
    """One ``<name>.dict`` per list, one quoted value a line (the format ``from-file`` dictionaries read)."""
    for name, entries in values.items():
        (directory / f'{name}.dict').write_text(''.join(f'{json.dumps(entry)}\n' for entry in entries), 'utf-8')


def main() -> None:
    base_url, pid, directory = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    headers = {'Authorization': f'Bearer {os.environ["FUZZ_TOKEN"]}'}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10.0) as client:
        wait_healthy(client, pid)
        write_dictionaries(seed(client), directory)


if __name__ == '__main__':
    main()
