"""Fixtures shared by the in-process test layers: settings on a temporary data dir, a started database (with its
history queries and a recorder written to by hand), a started system (the composition root: infrastructure plus the
application layer), loopback webhook receivers, and a throwaway PostgreSQL server for the tests that run on both
dialects.

This directory is on the import path (pytest puts a rootdir conftest's directory there), so every layer imports the
shared support modules beside this file: waiting, sample_workflows, event_history, fake_clock, flowmon_process,
webhook_receiver, chromium."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_receiver import Receiver

from flowmon.bootstrap import System
from flowmon.engine import EventBus
from flowmon.settings import Settings, load_settings
from flowmon.store import Database, EventRecorder, History

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
def history(database: Database) -> History:
    """The stored history's queries on ``database``."""
    return History(database)


@pytest.fixture
def recorder(database: Database) -> EventRecorder:
    """A recorder on ``database`` used only through ``write`` (never started): the test decides what is written."""
    return EventRecorder(database, EventBus())


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


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """``receivers(replies)`` starts a loopback webhook receiver (see :class:`Receiver`); all stop after the test."""
    started: list[Receiver] = []

    def make(replies: Any = ()) -> Receiver:
        receiver = Receiver(replies).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    """One loopback webhook receiver that answers 200 to everything."""
    return receivers()


@pytest.fixture(scope='session')
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a free port; yields 'host:port'. Runs as 'postgres' under root."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin'), key=lambda p: int(p.split('/')[-2]))
    if not found:
        pytest.skip('PostgreSQL is not installed (apt-get install -y postgresql)')
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
