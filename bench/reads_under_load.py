"""API reads while executions keep running: how long a reader waits for read-your-writes under sustained load.

Every read of stored history first writes what this process has recorded before it (``EventRecorder.flush``; the
slow-node baselines of ``GET /api/executions/{id}`` also write the node runs of the executions that had ended,
``settle``). Under a load that never lets the recorder's backlog empty, a flush that ran "until nothing is pending"
kept a reader waiting as long as the stream of events lasted; a flush now writes what came before the read.

The real app runs as a subprocess (``python app.py``, fresh data dir, its own port and token, not pinned), with at
most 50 executions at a time. Six client threads post 800 runs of a 10-node chain of transforms (about 25 events
each; all its work is on the event loop) as fast as the app takes them, three times over. Meanwhile a probe thread
reads, one after the other every 50 ms until the last run has ended: ``GET /api/executions/{first}`` (the first
run of the round, ended long since), ``GET /api/executions?limit=50`` and ``GET /api/health`` (no store read, for
comparison).

Run it with ``python -m bench reads``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from . import ui_latency
from .harness import p50_p95_max
from .report import Row

READS = {
    'one': 'GET /api/executions/{id} (an ended run)',
    'list': 'GET /api/executions?limit=50',
    'health': 'GET /api/health',
}
RUNS = 800
CLIENTS = 6
ROUNDS = 3
CONCURRENT = 50
PROBE_EVERY_S = 0.05
NODES = 10


def definition() -> dict[str, Any]:
    nodes = [{'id': f'n{i}', 'type': 'transform', 'config': {'expression': '{v: `1`, w: input}'}} for i in range(NODES)]
    edges = [{'source': f'n{i - 1}', 'target': f'n{i}'} for i in range(1, NODES)]
    return {'id': 'reads-under-load', 'name': 'Ten transforms', 'nodes': nodes, 'edges': edges}


def _submit(server: ui_latency._Server, first: int, ids: list[str], lock: threading.Lock) -> None:
    headers = {'Authorization': f'Bearer {ui_latency.TOKEN}'}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60.0) as client:
        for i in range(first, RUNS, CLIENTS):
            response = client.post('/api/workflows/reads-under-load/executions', json={'input': {'i': i}})
            if response.status_code != 202:
                raise RuntimeError(f'a start was refused: {response.status_code} {response.text}')
            with lock:
                ids.append(response.json()['id'])


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    client.get(path).raise_for_status()
    return (time.perf_counter() - started) * 1000


def _round(server: ui_latency._Server, latencies: dict[str, list[float]]) -> tuple[float, int]:
    """One round of RUNS starts, read meanwhile; (seconds until the last run ended, reads made)."""
    ids: list[str] = []
    lock = threading.Lock()
    started = time.perf_counter()
    submitters = [threading.Thread(target=_submit, args=(server, k, ids, lock)) for k in range(CLIENTS)]
    for thread in submitters:
        thread.start()
    client = server.client
    while not ids:
        time.sleep(0.005)
    first = ids[0]
    client.get(f'/api/executions/{first}').raise_for_status()  # (its replay index is cached from now on)
    reads = 0
    while True:
        latencies['one'].append(_timed(client, f'/api/executions/{first}'))
        latencies['list'].append(_timed(client, '/api/executions?limit=50'))
        latencies['health'].append(_timed(client, '/api/health'))
        reads += 1
        if not any(thread.is_alive() for thread in submitters):
            if not any(
                client.get('/api/executions', params={'status': status, 'limit': 1}).json()['items']
                for status in ('queued', 'running')
            ):
                break
        time.sleep(PROBE_EVERY_S)
    for thread in submitters:
        thread.join()
    wall = time.perf_counter() - started
    statuses = {client.get(f'/api/executions/{execution_id}').json()['status'] for execution_id in ids[-5:]}
    if len(ids) != RUNS or statuses != {'succeeded'}:
        raise RuntimeError(f'the load did not run as planned: {len(ids)} started, last statuses {statuses}')
    return wall, reads


def run() -> list[Row]:
    latencies: dict[str, list[float]] = {name: [] for name in READS}
    walls: list[float] = []
    with ui_latency._server(pin=False, FLOWMON_MAX_CONCURRENT_EXECUTIONS=str(CONCURRENT)) as server:
        server.client.put('/api/workflows/reads-under-load', json=definition()).raise_for_status()
        for _ in range(ROUNDS):
            wall, _ = _round(server, latencies)
            walls.append(wall)
    rate = RUNS * ROUNDS / sum(walls)
    rows = []
    for name, what in READS.items():
        median, p95, worst = p50_p95_max(latencies[name])
        rows.append(
            Row(
                measurement=f'{what} while runs keep coming, p50 / p95 / max',
                figure=f'{median:.0f} / {p95:.0f} / {worst:.0f} ms',
                note=f'{len(latencies[name])} reads over {ROUNDS} rounds of {RUNS} runs of a 10-transform chain, '
                f'{CONCURRENT} at a time, {rate:.0f} runs/s on average (no target: a figure to follow).',
            )
        )
    return rows
