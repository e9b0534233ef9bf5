"""Fixtures shared by the in-process test layers: settings on a temporary data dir, a started database, a started
system (the composition root: infrastructure plus the application layer), and a throwaway PostgreSQL server for the
tests that run on both dialects (``database_url``: one empty database per test, SQLite or PostgreSQL).

PostgreSQL is not optional: without it the PostgreSQL half of those tests fails, naming what to install
(``make test`` installs it). ``FLOWMON_TEST_POSTGRES=0`` leaves that half out, for a quick run on a machine without it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from postgres_support import DIALECTS, create_database, drop_database

from flowmon.bootstrap import System
from flowmon.settings import Settings, load_settings
from flowmon.store import Database

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_WORKFLOWS = REPO_ROOT / 'data' / 'workflows'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the data dir (SQLite file, secrets) under ``tmp_path`` and the shipped example workflows."""
    return load_settings({'FLOWMON_DATA_DIR': str(tmp_path / 'data'), 'FLOWMON_WORKFLOWS_DIR': str(EXAMPLE_WORKFLOWS)})


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A started database (schema created) in the temporary data dir; disposed after the test."""
    db = Database(settings.db_url)
    await db.start()
    try:
        yield db
    finally:
        await db.stop()


@pytest.fixture
def token() -> str:
    """The access token of :func:`system` (override the fixture to choose another)."""
    return 'test-token'


@pytest.fixture
async def system(settings: Settings, token: str) -> AsyncIterator[System]:
    """A started flowmon without the web layer: its ``application`` is what routes and pages are given."""
    system = System.build(settings, token=token)
    await system.start()
    try:
        yield system
    finally:
        await system.stop()


@pytest.fixture(scope='session')
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a free port; yields 'host:port'. Runs as 'postgres' under root."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin'), key=lambda p: int(p.split('/')[-2]))
    if not found:
        pytest.fail(
            'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin): `make test` installs it '
            '(apt-get install postgresql); FLOWMON_TEST_POSTGRES=0 runs the tests on SQLite only',
            pytrace=False,
        )
    bin_dir = found[-1]
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    root = tempfile.mkdtemp(prefix='flowmon-pg-', dir='/tmp')  # the postgres user must reach it: not under /root
    data, as_pg = os.path.join(root, 'data'), []
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postgres')
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_pg = ['runuser', '-u', 'postgres', '--']
    run = lambda *cmd: subprocess.run([*as_pg, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(f'{bin_dir}/initdb', '-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync')
        opts = f'-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200'
        run(f'{bin_dir}/pg_ctl', '-D', data, '-l', f'{root}/log', '-w', '-o', opts, 'start')
        yield f'127.0.0.1:{port}'
    finally:
        if os.path.exists(f'{data}/postmaster.pid'):
            subprocess.run(
                [*as_pg, f'{bin_dir}/pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop'], capture_output=True
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=DIALECTS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database for the store contract: a SQLite file, or a fresh database on the throwaway PostgreSQL
    server (one per test, dropped after it)."""
    if request.param == 'sqlite':
        yield f'sqlite+aiosqlite:///{tmp_path}/flowmon.db'
        return
    url = await create_database(request.getfixturevalue('postgres_server'))
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def postgresql_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database on the throwaway PostgreSQL server, for what exists only there (processes sharing it)."""
    if 'postgresql' not in DIALECTS:
        pytest.skip('FLOWMON_TEST_POSTGRES=0: the PostgreSQL tests are left out')
    url = await create_database(request.getfixturevalue('postgres_server'))
    try:
        yield url
    finally:
        await drop_database(url)
