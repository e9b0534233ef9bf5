"""``python -m flowmon backup PATH`` against a running flowmon (``python app.py``) that keeps starting executions,
with one of them running; the copy then opens in a fresh flowmon with every execution and its events."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from flowmon_process import FlowmonProcess, flowmon_command, ok
from sample_workflows import WAIT_ONLY, chain, log, transform

Launch = Callable[..., FlowmonProcess]
QUICK = chain('quick', 'Quick', transform('shape', '{n: input.n}'), log('note', 'noted', 'shape.n'))
SLOW = WAIT_ONLY


def test_a_backup_taken_while_flowmon_works_restores_into_a_fresh_flowmon(launch: Launch, tmp_path: Path) -> None:
    data_dir = tmp_path / 'data'
    flowmon = launch(data_dir=data_dir)
    flowmon.wait_started()
    ok(flowmon.api('PUT', '/api/workflows/quick', json=QUICK), 201)
    ok(flowmon.api('PUT', '/api/workflows/slow', json=SLOW), 201)
    finished = [flowmon.start('quick', {'n': n}) for n in range(5)]
    for execution_id in finished:
        flowmon.wait_ended(execution_id)
    running = flowmon.start('slow', {'n': 0})
    flowmon.poll(f'/api/executions/{running}', lambda body: body['status'] == 'running')
    original_events = {
        execution_id: ok(flowmon.api('GET', f'/api/executions/{execution_id}/events'))
        for execution_id in [*finished, running]
    }

    busy, started_meanwhile = threading.Event(), []

    def keep_starting() -> None:  # the recorder keeps writing while the backup reads
        while not busy.is_set():
            started_meanwhile.append(flowmon.start('quick', {'n': len(started_meanwhile)}))

    writer = threading.Thread(target=keep_starting)
    writer.start()
    try:
        target = tmp_path / 'backups' / 'flowmon-1.db'
        target.parent.mkdir()
        taken = flowmon_command(data_dir, 'backup', str(target))
    finally:
        busy.set()
        writer.join(timeout=30)
    assert taken.returncode == 0, taken.stderr
    assert f'to {target}' in taken.stdout and 'secret key is not in the backup' in taken.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert started_meanwhile  # executions were being written during the copy
    assert sorted(path.name for path in target.parent.iterdir()) == ['flowmon-1.db']

    with sqlite3.connect(target) as copy:
        assert copy.execute('PRAGMA integrity_check').fetchone() == ('ok',)
        # one moment: every execution row agrees with the events stored for it
        for execution_id, last_seq, events, first, top in copy.execute(
            'SELECT x.id, x.last_seq, count(e.seq), min(e.seq), max(e.seq) '
            'FROM executions x JOIN events e ON e.execution_id = x.id GROUP BY x.id'
        ):
            assert (first, top) == (1, events) and last_seq == events, execution_id

    again = flowmon_command(data_dir, 'backup', str(target))
    assert again.returncode == 1 and 'exists; pass --force' in again.stderr
    forced = flowmon_command(data_dir, 'backup', str(target), '--force')
    assert forced.returncode == 0, forced.stderr
    elsewhere = flowmon_command(
        data_dir, 'backup', str(tmp_path / 'pg.db'), FLOWMON_DATABASE_URL='postgresql+asyncpg://u:pw@h/db'
    )
    assert elsewhere.returncode == 2 and 'pg_dump' in elsewhere.stderr and not (tmp_path / 'pg.db').exists()

    # restore into a fresh data directory: the database file and, kept apart, the secret key
    restored_dir = tmp_path / 'restored'
    restored_dir.mkdir()
    shutil.copyfile(tmp_path / 'backups' / 'flowmon-1.db', restored_dir / 'flowmon.db')
    shutil.copyfile(data_dir / '.secret_key', restored_dir / '.secret_key')
    restored = launch(data_dir=restored_dir)
    restored.wait_started()
    for execution_id in finished:
        summary = ok(restored.api('GET', f'/api/executions/{execution_id}'))
        assert summary['status'] == 'succeeded'
        assert ok(restored.api('GET', f'/api/executions/{execution_id}/events')) == original_events[execution_id]
    summary = ok(restored.api('GET', f'/api/executions/{running}'))
    assert summary['status'] == 'interrupted'  # it was running at the moment of the copy
    events = ok(restored.api('GET', f'/api/executions/{running}/events'))
    assert events[: len(original_events[running])] == original_events[running]
