"""Bulk actions on a full page of executions, through the real app: ``POST /api/executions/bulk``.

The real app runs as a subprocess (``python app.py``, fresh data dir, its own port and token, not pinned). 500 runs
of a three-node chain of transforms are started and left to end; then, for each of three rounds: a bulk cancel of
those 500 (all have ended, so each is skipped: the answer still reads each of them), a bulk rerun of them (500 new
executions), and, once the reruns have ended, a bulk delete of the 500 old ones; the reruns are the next round's
500. Each figure is the time from sending the request to its answer, which says what became of every execution.

Run it with ``python -m bench bulk``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from . import ui_latency
from .report import Row

EXECUTIONS = 500  # one request's most (flowmon.application.bulk.MAX_BULK)
ROUNDS = 3
WORKFLOW = 'bulk-actions'


def definition() -> dict[str, Any]:
    nodes = [{'id': f'n{i}', 'type': 'transform', 'config': {'expression': '{v: `1`, w: input}'}} for i in range(3)]
    edges = [{'source': 'n0', 'target': 'n1'}, {'source': 'n1', 'target': 'n2'}]
    return {'id': WORKFLOW, 'name': 'Three transforms', 'nodes': nodes, 'edges': edges}


def _bulk(server: ui_latency._Server, action: str, ids: list[str], expected: dict[str, int]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = server.client.post('/api/executions/bulk', json={'action': action, 'ids': ids}, timeout=120.0)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    counts = {outcome: body[outcome] for outcome in ('done', 'skipped', 'failed')}
    if counts != expected:
        raise RuntimeError(f'bulk {action}: {counts}, expected {expected}')
    return seconds, body


def _wait_all_ended(server: ui_latency._Server, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(
            server.client.get('/api/executions', params={'status': status, 'limit': 1}).json()['items']
            for status in ('queued', 'running')
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f'executions still running after {timeout:.0f} s')


def run() -> list[Row]:
    seconds: dict[str, list[float]] = {'cancel': [], 'rerun': [], 'delete': []}
    with ui_latency._server(pin=False) as server:
        server.client.put(f'/api/workflows/{WORKFLOW}', json=definition()).raise_for_status()
        ids = [server.start(WORKFLOW) for _ in range(EXECUTIONS)]
        _wait_all_ended(server)
        for _ in range(ROUNDS):
            took, _ = _bulk(server, 'cancel', ids, {'done': 0, 'skipped': EXECUTIONS, 'failed': 0})
            seconds['cancel'].append(took)
            took, body = _bulk(server, 'rerun', ids, {'done': EXECUTIONS, 'skipped': 0, 'failed': 0})
            seconds['rerun'].append(took)
            _wait_all_ended(server)
            took, _ = _bulk(server, 'delete', ids, {'done': EXECUTIONS, 'skipped': 0, 'failed': 0})
            seconds['delete'].append(took)
            ids = body['ids']
    what = {
        'cancel': f'{EXECUTIONS} ended executions (each skipped)',
        'rerun': f'{EXECUTIONS} ended executions ({EXECUTIONS} new ones queued)',
        'delete': f'{EXECUTIONS} ended executions with their events',
    }
    return [
        Row(
            measurement=f'Bulk {action} of {what[action]}, one request',
            figure=f'{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f})',
            note=f'POST /api/executions/bulk through the real app, request to answer; median of {ROUNDS} rounds '
            f'(no target: a figure to follow).',
        )
        for action, values in seconds.items()
    ]
