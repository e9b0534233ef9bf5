"""flowmon as a process: start-up, configuration errors, restarts and a crash mid-run."""

from __future__ import annotations

import signal
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from flowmon_process import FlowmonProcess
from postgres_support import Storage
from prometheus_client.parser import text_string_to_metric_families
from sample_workflows import QUICK_CHAIN as QUICK
from sample_workflows import SLOW_CHAIN as SLOW
from waiting import wait_until

from flowmon.web.theme import PRIMARY

Launch = Callable[..., FlowmonProcess]

TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}
LONG_TOKEN = 'process-test-token-0123'
# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -SIGTERM is a clean exit here.
CLEAN_EXIT = {0, -signal.SIGTERM}


def put_and_start(flowmon: FlowmonProcess, workflow: dict[str, Any], input: dict[str, Any]) -> str:
    response = flowmon.api('PUT', f'/api/workflows/{workflow["id"]}', json=workflow)
    assert response.status_code in (200, 201), response.text
    response = flowmon.api('POST', f'/api/workflows/{workflow["id"]}/executions', json={'input': input})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_start_up_prints_the_address_with_the_given_token_in_a_new_private_data_directory_without_a_warning(
    launch: Launch, tmp_path: Path
) -> None:
    """Listening on 127.0.0.1 only: no plain-HTTP warning (beyond this machine there is one, see below). The data
    directory and its parents do not exist yet: flowmon creates them, private."""
    flowmon = launch(tmp_path / 'new' / 'data', FLOWMON_TOKEN='given-token-0123456789')
    assert flowmon.wait_started() == 'given-token-0123456789'
    assert f'Open http://127.0.0.1:{flowmon.port}/?token=given-token-0123456789' in flowmon.stdout
    assert 'plain HTTP' not in flowmon.stderr
    assert mode(flowmon.data_dir) == 0o700 and mode(flowmon.data_dir / 'flowmon.db') == 0o600

    assert flowmon.api('GET', '/api/workflows').status_code == 200
    assert {w['id'] for w in flowmon.api('GET', '/api/workflows').json()} >= {'order-pipeline', 'nightly-batch'}
    # pages get flowmon's primary colour (its contrast: tests/unit/test_theme_contrast.py), not NiceGUI's own
    assert f'"primary":"{PRIMARY}"' in httpx.get(f'{flowmon.base_url}/login').text
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
    code = flowmon.process.wait(timeout=20)  # it stops by itself
    assert code != 0
    lines = [line for line in flowmon.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, flowmon.stderr
    assert 'FLOWMON_PORT' in lines[0]
    assert 'abc' in lines[0]
    assert 'Traceback' not in flowmon.stdout + flowmon.stderr


def test_a_short_token_stops_start_up_with_one_line_naming_it(launch: Launch) -> None:
    flowmon = launch(FLOWMON_TOKEN='a')
    assert flowmon.process.wait(timeout=20) == 2
    lines = [line for line in flowmon.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, flowmon.stderr
    assert 'FLOWMON_TOKEN' in lines[0] and '16 characters' in lines[0]


def test_listening_beyond_this_machine_warns_about_plain_http(launch: Launch) -> None:
    flowmon = launch(FLOWMON_TOKEN=LONG_TOKEN, FLOWMON_HOST='0.0.0.0')
    flowmon.wait_started()  # the printed address is one a browser can open: http://127.0.0.1:<port>
    warnings = [line for line in flowmon.stderr.splitlines() if 'FLOWMON_HOST=0.0.0.0' in line]
    assert len(warnings) == 1
    assert 'WARNING' in warnings[0] and 'plain HTTP' in warnings[0] and 'reverse proxy' in warnings[0]
    assert 'FLOWMON_PUBLIC_URL' in warnings[0]
    assert flowmon.stop() in CLEAN_EXIT  # (on 127.0.0.1 alone there is no warning: see the first test)


def test_the_data_directory_and_its_files_are_private(launch: Launch, tmp_path: Path) -> None:
    data_dir = tmp_path / 'loose'
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)  # as an older flowmon (or umask 022) left it
    (data_dir / '.token').write_text('left-by-an-older-version-0123\n')
    (data_dir / '.token').chmod(0o644)
    flowmon = launch(data_dir, FLOWMON_TOKEN=None)
    assert flowmon.wait_started() == 'left-by-an-older-version-0123'
    put_and_start(flowmon, QUICK, {'n': 1})
    response = httpx.get(f'{flowmon.base_url}/?token={flowmon.token}', follow_redirects=False)
    assert response.status_code == 303  # a signed-in browser: its session is stored under the data dir
    assert mode(data_dir) == 0o700
    for name in ('flowmon.db', 'flowmon.db-wal', 'flowmon.db-shm', '.token', '.storage_secret'):
        assert mode(data_dir / name) == 0o600, name
    storage = data_dir / 'storage'
    # NiceGUI writes the session's file in the background
    files = wait_until(lambda: list(storage.glob('storage-user-*.json')), 'the session file', seen=lambda: storage)
    assert all(mode(path) == 0o600 for path in files)
    assert mode(storage) == 0o700
    flowmon.stop()  # (a data directory flowmon creates itself is private too: see the first test)


def test_history_survives_a_restart(launch: Launch, storage: Storage) -> None:
    first = launch(FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
    first.wait_started()
    execution_id = put_and_start(first, QUICK, {'n': 7})
    summary = first.poll(f'/api/executions/{execution_id}', lambda s: s['status'] in TERMINAL)
    assert summary['status'] == 'succeeded'
    events = first.api('GET', f'/api/executions/{execution_id}/events').json()
    assert events[-1]['type'] == 'execution.completed'
    assert first.stop(signal.SIGTERM) in CLEAN_EXIT

    second = launch(first.data_dir, FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
    second.wait_started()
    assert second.api('GET', f'/api/executions/{execution_id}').json() == summary
    assert second.api('GET', f'/api/executions/{execution_id}/events').json() == events
    # the list's other form, through the whole app: a limit after a seq, written page by page too
    some = second.api('GET', f'/api/executions/{execution_id}/events?after_seq=1&limit=2')
    assert (some.status_code, some.json()) == (200, events[1:3])
    listed = second.api('GET', '/api/executions').json()
    assert [item['id'] for item in listed['items']] == [execution_id]
    assert second.api('GET', '/api/workflows/quick').json()['name'] == 'Quick chain'
    second.stop()


def test_sigterm_mid_run_records_the_interruption_before_exiting(launch: Launch, storage: Storage) -> None:
    first = launch(FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
    first.wait_started()
    execution_id = put_and_start(first, SLOW, {})
    first.poll(f'/api/executions/{execution_id}', lambda s: s['nodes']['wait']['status'] == 'running')
    assert first.stop(signal.SIGTERM) in CLEAN_EXIT  # no read before: only the shutdown flush can save the tail

    second = launch(first.data_dir, FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
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
    assert summary['error'] == 'flowmon stopped'
    assert summary['nodes']['wait']['status'] == 'cancelled'
    second.stop()


def test_a_run_killed_mid_way_is_interrupted_after_restart(launch: Launch, storage: Storage) -> None:
    first = launch(FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
    first.wait_started()
    finished_id = put_and_start(first, QUICK, {'n': 1})
    first.poll(f'/api/executions/{finished_id}', lambda s: s['status'] in TERMINAL)
    execution_id = put_and_start(first, SLOW, {})
    first.poll(
        f'/api/executions/{execution_id}',
        lambda s: s['status'] == 'running' and s['nodes']['wait']['status'] == 'running',
    )
    before = first.api('GET', f'/api/executions/{execution_id}/events').json()  # reading flushes them
    assert before[-1]['type'] == 'node.started' and before[-1]['node_id'] == 'wait'
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = launch(first.data_dir, FLOWMON_TOKEN=LONG_TOKEN, **storage.env)
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
    # why it ended, as a failure's error says (the reason recovery wrote: on PostgreSQL it names the dead process)
    reason = events[-1]['data']['reason']
    assert summary['error'] == reason and 'stopped' in reason
    listed = second.api('GET', '/api/executions').json()
    assert [(item['id'], item['status'], item['error']) for item in listed['items']] == [
        (execution_id, 'interrupted', reason),
        (finished_id, 'succeeded', None),
    ]
    # counted where the crash is noticed (its events are written by recovery, not published): it was never counted
    metrics = httpx.get(f'{second.base_url}/metrics', headers={'Authorization': f'Bearer {LONG_TOKEN}'}, timeout=10)
    ended = {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
        if sample.name == 'flowmon_executions_total'
    }
    assert ended == {(('status', 'interrupted'), ('workflow', SLOW['id'])): 1.0}
    # node_runs are written after the events, off the hot path: whether or not the kill came before that write,
    # after the restart every finished execution has them (start-up derives what a crash left out).
    runs = {
        (row[0], row[1]): row[2]
        for row in storage.rows(second.data_dir, 'SELECT execution_id, node_id, status FROM node_runs')
    }
    assert runs == {
        (finished_id, 'prepare'): 'succeeded',
        (finished_id, 'work'): 'succeeded',
        (finished_id, 'report'): 'succeeded',
        (execution_id, 'first'): 'succeeded',
        (execution_id, 'wait'): 'cancelled',
        (execution_id, 'after'): 'cancelled',
    }
    second.stop()
