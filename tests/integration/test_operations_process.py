"""Operations on the real app (``python app.py``): bounded history under retention, ``DELETE /api/executions/{id}``
and ``GET /api/status``, each through every middleware of a running process, and what the process leaves out of
its start.

The history test has a process of its own (it counts every row); the delete and status tests share one, each with
workflows of its own. The database file is read beside the running process (read-only: SQLite's WAL lets a reader
in without stopping the writer), as an operator's tools would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowmon_process import FlowmonProcess

Launch = Callable[..., FlowmonProcess]
TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}
KEEP = 5
ROUNDS = 4
PER_ROUND = 24
PAD = 'payload that makes every run weigh something ' * 150  # about 7 KB, in three events of each run
CHAIN = {
    'id': 'chain',
    'name': 'Chain',
    'nodes': [
        {'id': 'shape', 'type': 'transform', 'config': {'expression': '{pad: input.pad, n: input.n}'}},
        {'id': 'note', 'type': 'log', 'config': {'message': 'done', 'expression': 'shape.n'}},
    ],
    'edges': [{'source': 'shape', 'target': 'note'}],
}
SLOW = {'id': 'slow', 'name': 'Slow', 'nodes': [{'id': 'wait', 'type': 'delay', 'config': {'seconds': 60}}]}


@pytest.fixture(scope='module')
def flowmon(launch_shared: Launch) -> FlowmonProcess:
    """The process of the delete, status and imports tests: a week's retention, pruned at start-up and every 10
    minutes; a fresh ``python app.py`` (not a copy of a preloaded process: see ``tests/preloaded.py``), whose own
    imports the last test reads."""
    process = launch_shared(fresh=True, FLOWMON_RETENTION_DAYS='7', FLOWMON_RETENTION_INTERVAL='600')
    process.wait_started()
    return process


def rows(data_dir: Path) -> dict[str, int]:
    """Rows per table, read from the live database file."""
    with closing(sqlite3.connect(f'file:{data_dir / "flowmon.db"}?mode=ro', uri=True)) as conn:
        return {
            table: conn.execute(f'SELECT count(*) FROM {table}').fetchone()[0]
            for table in ('executions', 'events', 'node_runs', 'workflow_snapshots', 'execution_search')
        }


def stored(data_dir: Path, *execution_ids: str) -> set[str]:
    """Which of ``execution_ids`` have a row in the live database file."""
    marks = ', '.join('?' * len(execution_ids))
    with closing(sqlite3.connect(f'file:{data_dir / "flowmon.db"}?mode=ro', uri=True)) as conn:
        return {row[0] for row in conn.execute(f'SELECT id FROM executions WHERE id IN ({marks})', execution_ids)}


def file_bytes(data_dir: Path, suffix: str = '') -> int:
    """The database file (``suffix`` ``-wal``: its write-ahead log) on disk."""
    path = data_dir / f'flowmon.db{suffix}'
    return path.stat().st_size if path.exists() else 0


def put(flowmon: FlowmonProcess, workflow: dict[str, Any]) -> None:
    response = flowmon.api('PUT', f'/api/workflows/{workflow["id"]}', json=workflow)
    assert response.status_code in (200, 201), response.text


def start(flowmon: FlowmonProcess, workflow_id: str, input: Any = None) -> str:
    response = flowmon.api('POST', f'/api/workflows/{workflow_id}/executions', json={'input': input or {}})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def ended(flowmon: FlowmonProcess, execution_id: str) -> dict[str, Any]:
    return dict(flowmon.poll(f'/api/executions/{execution_id}', lambda body: body['status'] in TERMINAL))


def pruned_after(flowmon: FlowmonProcess, moment: str, timeout: float = 30.0) -> dict[str, Any]:
    """Wait for a pruning that started after ``moment`` (ISO time) and deleted nothing: everything due is gone."""
    status = flowmon.poll(
        '/api/status',
        lambda body: (
            (last := body['retention']['last_pruning']) is not None
            and last['started_at'] > moment
            and not any(last['deleted'].values())
        ),
        timeout=timeout,
        interval=0.2,
    )
    return dict(status)


def test_history_stays_flat_under_retention_with_the_kept_runs_intact(launch: Launch) -> None:
    flowmon = launch(FLOWMON_RETENTION_MAX_EXECUTIONS=str(KEEP), FLOWMON_RETENTION_INTERVAL='1')
    flowmon.wait_started()
    put(flowmon, CHAIN)
    sizes: list[int] = []
    logs: list[int] = []
    counts: list[dict[str, int]] = []
    kept: list[str] = []
    for round_ in range(ROUNDS):
        ids = [start(flowmon, 'chain', {'pad': PAD, 'n': round_ * PER_ROUND + n}) for n in range(PER_ROUND)]
        # (the runs that end first may be pruned already: wait for the engine to be idle rather than for each run)
        flowmon.poll('/api/status', lambda body: body['executions'] == {'active': 0, 'queued': 0})
        status = pruned_after(flowmon, datetime.now(UTC).isoformat())
        counts.append(rows(flowmon.data_dir))
        sizes.append(file_bytes(flowmon.data_dir))
        logs.append(file_bytes(flowmon.data_dir, '-wal'))
        kept = ids[-KEEP:]
        assert status['retention']['max_executions'] == KEEP

    events_per_run = counts[-1]['events'] // KEEP
    assert counts == [{'executions': KEEP, 'events': KEEP * events_per_run, 'node_runs': KEEP * 2,
                       'workflow_snapshots': 1, 'execution_search': KEEP}] * ROUNDS  # fmt: skip
    # Flat: a round's 24 runs add about 1.4 MB when nothing is pruned (their events and their search text), so a
    # file that kept them would grow by that much each round. Within 256 KB the size moves with where the last pages
    # happen to sit (a loaded machine measured 540, 565 and 676 KB in rounds 2-4); a leak of 4 KB a run would not fit.
    assert max(sizes[1:]) - sizes[1] <= 256 * 1024, f'the database kept growing: {sizes}'
    assert sizes[-1] < 1024 * 1024, sizes  # the 96 runs' events alone would take over 2 MB
    assert max(logs) < 8 * 1024 * 1024, logs  # the write-ahead log: reused after each checkpoint, not growing

    listed = flowmon.api('GET', '/api/executions?limit=50').json()
    assert sorted(item['id'] for item in listed['items']) == sorted(kept) and listed['total'] == KEEP
    for execution_id in kept:  # intact: every event, replay at every position, the export
        events = flowmon.api('GET', f'/api/executions/{execution_id}/events').json()
        assert [event['seq'] for event in events] == list(range(1, events_per_run + 1))
        middle = flowmon.api('GET', f'/api/executions/{execution_id}/state?at={events_per_run // 2}').json()
        assert middle['position'] == {
            'at': events_per_run // 2,
            'events': events_per_run,
            'elapsed_s': middle['position']['elapsed_s'],
        }
        final = flowmon.api('GET', f'/api/executions/{execution_id}/state').json()
        assert final['status'] == 'succeeded' and final['nodes']['shape']['output']['pad'] == PAD
        export = flowmon.api('GET', f'/api/executions/{execution_id}/export')
        assert export.status_code == 200
        document = export.json()
        assert document['workflow']['nodes'][0]['id'] == 'shape' and len(document['events']) == events_per_run


def test_delete_through_the_real_app(flowmon: FlowmonProcess) -> None:
    put(flowmon, {**CHAIN, 'id': 'delete-chain'})
    put(flowmon, {**SLOW, 'id': 'delete-slow'})
    keep, gone = start(flowmon, 'delete-chain', {'n': 1}), start(flowmon, 'delete-chain', {'n': 2})
    ended(flowmon, keep)
    ended(flowmon, gone)
    running = start(flowmon, 'delete-slow')

    busy = flowmon.api('DELETE', f'/api/executions/{running}')
    assert busy.status_code == 409 and 'still' in busy.json()['detail']
    anonymous = httpx.delete(f'{flowmon.base_url}/api/executions/{gone}', timeout=10.0)
    assert anonymous.status_code == 401

    deleted = flowmon.api('DELETE', f'/api/executions/{gone}')
    assert deleted.status_code == 204 and deleted.content == b''
    for path in ('', '/events', '/state', '/export'):
        assert flowmon.api('GET', f'/api/executions/{gone}{path}').status_code == 404, path
    assert flowmon.api('DELETE', f'/api/executions/{gone}').status_code == 404  # afterwards
    assert flowmon.api('DELETE', '/api/executions/no-such-execution').status_code == 404
    listed = flowmon.api('GET', '/api/executions?workflow_id=delete-chain').json()
    assert [item['id'] for item in listed['items']] == [keep]
    assert stored(flowmon.data_dir, keep, gone, running) == {keep, running}  # the kept one and the running one

    assert flowmon.api('POST', f'/api/executions/{running}/cancel').status_code == 202
    ended(flowmon, running)
    assert flowmon.api('DELETE', f'/api/executions/{running}').status_code == 204  # once it has ended


def test_status_through_the_real_app(flowmon: FlowmonProcess) -> None:
    put(flowmon, CHAIN)
    ended(flowmon, start(flowmon, 'chain', {'n': 1}))
    assert httpx.get(f'{flowmon.base_url}/api/status', timeout=10.0).status_code == 401
    assert httpx.get(f'{flowmon.base_url}/api/health', timeout=10.0).json() == {'status': 'ok'}  # public, cheap

    status = flowmon.poll('/api/status', lambda body: body['retention']['last_pruning'] is not None)

    assert status['version'] == '0.1.0' and status['uptime_seconds'] > 0
    assert status['database']['url'] == f'sqlite+aiosqlite:///{flowmon.data_dir.resolve() / "flowmon.db"}'
    on_disk = file_bytes(flowmon.data_dir) + file_bytes(flowmon.data_dir, '-wal')
    assert status['database']['size_bytes'] == pytest.approx(on_disk, rel=0.5)
    assert status['recorder_backlog_events'] >= 0 and 0 <= status['event_loop_lag_seconds'] < 5
    assert status['connected_clients'] == 0 and status['executions'] == {'active': 0, 'queued': 0}
    assert status['retention'] | {'last_pruning': None} == {
        'days': 7,
        'max_executions': 0,
        'interval_seconds': 600,
        'last_pruning': None,
    }
    last = status['retention']['last_pruning']
    assert set(last) == {'started_at', 'finished_at', 'duration_ms', 'deleted', 'pages_given_back', 'steps',
                         'longest_step_ms', 'error'}  # fmt: skip
    assert last['error'] is None and set(last['deleted']) == {
        'executions',
        'events',
        'node_runs',
        'webhook_deliveries',
        'webhook_attempts',
        'workflow_snapshots',
    }
    kinds = status['scheduler']['by_kind']
    assert kinds['retention']['count'] == 1 and kinds['hooks']['count'] == 1
    assert status['scheduler']['jobs'] == sum(kind['count'] for kind in kinds.values())
    assert flowmon.token not in str(status)


def test_the_start_leaves_out_the_parts_flowmon_never_calls(flowmon: FlowmonProcess) -> None:
    """socket.io's client side (aiohttp, requests) and httpx's command line are not loaded by the server (see
    ``flowmon/infra/unused_parts.py``): none of their compiled modules is mapped into it, while those of the libraries
    it uses are. The pages' socket.io server itself is exercised by every browser test."""
    put(flowmon, CHAIN)
    ended(flowmon, start(flowmon, 'chain', {'n': 2}))  # a run, with its HTTP-capable node types loaded

    mapped = Path(f'/proc/{flowmon.process.pid}/maps').read_text()

    def loaded(package: str) -> bool:
        return f'/site-packages/{package}/' in mapped

    assert [package for package in ('aiohttp', 'multidict', 'yarl', 'charset_normalizer') if loaded(package)] == []
    assert all(loaded(package) for package in ('pydantic_core', 'orjson', 'sqlalchemy'))
