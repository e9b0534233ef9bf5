"""Fixtures shared by the in-process test layers: settings on a temporary data dir, a started database, a started
system (the composition root: infrastructure plus the application layer), and a throwaway PostgreSQL server for the
tests that run on both dialects (``database_url``: one empty database per test, SQLite or PostgreSQL).

PostgreSQL is not optional: without it the PostgreSQL half of those tests fails, naming what to install
(``make test`` installs it). ``FLOWMON_TEST_POSTGRES=0`` leaves that half out, for a quick run on a machine without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from postgres_support import DIALECTS, PostgresMissing, create_database, drop_database, throwaway_server

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
    """A throwaway PostgreSQL on a free port for the whole run; yields 'host:port' (see :func:`throwaway_server`)."""
    try:
        with throwaway_server() as server:
            yield server
    except PostgresMissing as exc:
        pytest.fail(f'{exc}; FLOWMON_TEST_POSTGRES=0 runs the tests on SQLite only', pytrace=False)


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
