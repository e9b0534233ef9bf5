"""``python -m flowmon db upgrade|current|history`` in a subprocess, and the real app (``python app.py``) on databases
made before migrations and by a newer flowmon."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from flowmon_process import FlowmonProcess, flowmon_command, free_port, ok
from migration_support import FIRST_VERSION, PRE_ALEMBIC_EXECUTION, pre_alembic_database

from flowmon.store import migrate

Launch = Callable[..., FlowmonProcess]
HEAD = migrate.head()
BASELINE_LINE = f'{migrate.BASELINE}: Baseline: the schema of flowmon when Alembic took over.'


def test_db_commands_on_a_new_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / 'data'

    current = flowmon_command(data_dir, 'db', 'current')
    assert (current.returncode, current.stdout, current.stderr) == (0, 'none\n', '')
    assert not (data_dir / 'flowmon.db').exists()  # looking creates nothing

    history = flowmon_command(data_dir, 'db', 'history')
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines() == [
        f'{revision.id}{" (head)" if revision.id == HEAD else ""}: {revision.message}' for revision in migrate.history()
    ]
    assert history.stdout.splitlines()[-1].endswith('Baseline: the schema of flowmon when Alembic took over.')

    upgraded = flowmon_command(data_dir, 'db', 'upgrade')
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines()[0] == f'applied {BASELINE_LINE}'
    assert upgraded.stdout.splitlines()[-1] == f'now at {HEAD}'
    assert (data_dir / 'flowmon.db').stat().st_mode & 0o077 == 0  # as private as the server's own files

    assert flowmon_command(data_dir, 'db', 'current').stdout == f'{HEAD} (head)\n'
    again = flowmon_command(data_dir, 'db', 'upgrade', 'head')
    assert (again.returncode, again.stdout) == (0, f'already at {HEAD}: nothing to do\n')

    unknown = flowmon_command(data_dir, 'db', 'upgrade', '0999')
    assert unknown.returncode == 1 and unknown.stdout == ''
    assert unknown.stderr.strip() == (
        f"flowmon: db upgrade failed, nothing was changed: unknown revision '0999': this flowmon knows "
        f'{", ".join(revision.id for revision in reversed(migrate.history()))}'
    )


def test_flowmon_adopts_a_database_made_before_migrations(tmp_path: Path, launch: Launch) -> None:
    """The first version's database with a finished run: flowmon starts on it, shows the old run, and what later
    versions added (import's ``imported_from``, new runs) works; afterwards it is at the newest revision."""
    data_dir = tmp_path / 'data'
    pre_alembic_database(data_dir / 'flowmon.db', FIRST_VERSION)
    assert flowmon_command(data_dir, 'db', 'current').stdout == 'none\n'

    flowmon = launch(data_dir=data_dir, FLOWMON_RETENTION_DAYS='0')  # the run is from 2025: keep it whatever its age
    flowmon.wait_started()
    assert 'database schema: adopted a database made before migrations (added column executions.imported_from' in (
        flowmon.stderr
    )
    assert f'database schema: now at {HEAD}' in flowmon.stderr and 'alembic' not in flowmon.stderr
    listed = ok(flowmon.api('GET', '/api/executions'))['items']
    assert [(item['id'], item['status'], item['imported_from']) for item in listed] == [
        (PRE_ALEMBIC_EXECUTION, 'succeeded', None)
    ]
    summary = ok(flowmon.api('GET', f'/api/executions/{PRE_ALEMBIC_EXECUTION}'))
    assert summary['status'] == 'succeeded'

    exported = ok(flowmon.api('GET', f'/api/executions/{PRE_ALEMBIC_EXECUTION}/export'))
    imported = ok(flowmon.api('POST', '/api/executions/import', json=exported), 201)
    assert imported['imported_from'] == PRE_ALEMBIC_EXECUTION

    started = ok(flowmon.api('POST', '/api/workflows/greet/executions', json={'input': {'name': 'Grace'}}), 202)
    done = flowmon.poll(f'/api/executions/{started["id"]}', lambda body: body['status'] == 'succeeded')
    assert done['status'] == 'succeeded'
    flowmon.stop()

    assert flowmon_command(data_dir, 'db', 'current').stdout == f'{HEAD} (head)\n'


def test_db_upgrade_refuses_while_flowmon_runs(tmp_path: Path, launch: Launch) -> None:
    data_dir = tmp_path / 'data'
    flowmon = launch(data_dir=data_dir)
    flowmon.wait_started()

    refused = flowmon_command(data_dir, 'db', 'upgrade')
    assert refused.returncode == 1
    assert 'in use by another process' in refused.stderr
    assert flowmon_command(data_dir, 'db', 'current').stdout == f'{HEAD} (head)\n'  # reading is fine meanwhile


def test_flowmon_refuses_to_start_on_a_database_from_a_newer_version(tmp_path: Path, launch: Launch) -> None:
    data_dir = tmp_path / 'data'
    assert flowmon_command(data_dir, 'db', 'upgrade').returncode == 0
    with closing(sqlite3.connect(data_dir / 'flowmon.db')) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")

    flowmon = launch(data_dir=data_dir)
    assert flowmon.process.wait(timeout=60) == 2
    assert "the database is at revision '0999', which this flowmon does not know" in flowmon.stderr
    assert 'Traceback' not in flowmon.stderr
    assert flowmon_command(data_dir, 'db', 'current').stdout == '0999\n'


def test_flowmon_stops_with_one_line_when_its_database_cannot_be_opened(tmp_path: Path, launch: Launch) -> None:
    """A PostgreSQL server that does not answer (or refuses the password) stopped nothing: flowmon went on serving
    /api/health 503 'starting' for ever, with a traceback in its log."""
    port = free_port()  # nothing listens there
    url = f'postgresql+asyncpg://flowmon:pw-not-to-be-shown@127.0.0.1:{port}/flowmon'
    flowmon = launch(data_dir=tmp_path / 'data', FLOWMON_DATABASE_URL=url)
    assert flowmon.process.wait(timeout=60) == 2
    shown = f'postgresql+asyncpg://flowmon@127.0.0.1:{port}/flowmon'
    assert f'flowmon: cannot open the database {shown}: ' in flowmon.stderr
    assert 'Traceback' not in flowmon.stderr
    assert 'pw-not-to-be-shown' not in flowmon.stderr + flowmon.stdout


def test_flowmon_stops_with_one_line_when_its_sqlite_directory_cannot_be_made(tmp_path: Path, launch: Launch) -> None:
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    flowmon = launch(data_dir=tmp_path / 'data', FLOWMON_DATABASE_URL=f'sqlite+aiosqlite:///{blocker}/sub/flowmon.db')
    assert flowmon.process.wait(timeout=60) == 2
    assert f'flowmon: cannot open the database sqlite+aiosqlite:///{blocker}/sub/flowmon.db: ' in flowmon.stderr
    assert 'Traceback' not in flowmon.stderr


def test_a_data_directory_that_cannot_be_made_stops_flowmon_with_one_line(tmp_path: Path, launch: Launch) -> None:
    """It stopped with a Python traceback (exit status 1)."""
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    flowmon = launch(data_dir=blocker / 'data')
    assert flowmon.process.wait(timeout=60) == 2
    assert flowmon.stderr.strip() == f'flowmon: FLOWMON_DATA_DIR: cannot use {blocker}/data: Not a directory'

    refused = flowmon_command(blocker / 'data', 'db', 'upgrade')
    assert refused.returncode == 1
    assert refused.stderr.startswith('flowmon: db upgrade failed, nothing was changed: ')
    assert 'Traceback' not in refused.stderr


def test_db_current_names_a_database_it_cannot_open_in_one_line(tmp_path: Path) -> None:
    """It printed SQLAlchemy's text, its '(Background on this error at: ...)' line included."""
    port = free_port()
    url = f'postgresql+asyncpg://flowmon:pw-not-to-be-shown@127.0.0.1:{port}/flowmon'
    refused = flowmon_command(tmp_path / 'data', 'db', 'current', FLOWMON_DATABASE_URL=url)
    assert refused.returncode == 1
    shown = f'postgresql+asyncpg://flowmon@127.0.0.1:{port}/flowmon'
    assert refused.stderr.startswith(f'flowmon: db current failed: cannot open the database {shown}: ')
    assert len(refused.stderr.strip().splitlines()) == 1 and 'pw-not-to-be-shown' not in refused.stderr
