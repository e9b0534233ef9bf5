"""Integration fixtures. ``launch`` starts flowmon processes (see :mod:`flowmon_process`) and kills them after;
``launch_shared`` does the same for processes that every test of one module uses; ``storage`` runs a test once on
SQLite and once on PostgreSQL (a fresh database on the throwaway server). ``app``, ``client`` and ``anonymous``: the
REST API of the started ``system`` in-process (see :mod:`inprocess`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from flowmon_process import FlowmonProcess, spawn
from inprocess import api_app, api_client
from postgres_support import DIALECTS, Storage, create_database_now, drop_database_now

from flowmon.bootstrap import System


def _launcher(directory: Path) -> tuple[Callable[..., FlowmonProcess], list[FlowmonProcess]]:
    started: list[FlowmonProcess] = []

    def start(data_dir: Path | None = None, *, fresh: bool = False, **overrides: str | None) -> FlowmonProcess:
        name = f'run{len(started) + 1}'
        flowmon = spawn(directory, data_dir or directory / 'data', name, fresh=fresh, **overrides)
        started.append(flowmon)
        return flowmon

    return start, started


def _kill_all(started: list[FlowmonProcess]) -> None:
    for flowmon in started:
        if flowmon.process.poll() is None:
            flowmon.process.kill()
            flowmon.process.wait(timeout=10)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., FlowmonProcess]]:
    """``launch(data_dir=..., **env_overrides)`` starts ``python app.py``; every process is killed at teardown."""
    start, started = _launcher(tmp_path)
    yield start
    _kill_all(started)


@pytest.fixture(scope='module')
def launch_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., FlowmonProcess]]:
    """Like ``launch``, for a process shared by the tests of one module (killed after the module)."""
    start, started = _launcher(tmp_path_factory.mktemp('shared'))
    yield start
    _kill_all(started)


@pytest.fixture(params=DIALECTS)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """The test runs once with the default SQLite database and once on a fresh PostgreSQL database."""
    if request.param == 'sqlite':
        yield Storage('sqlite')
        return
    url = create_database_now(request.getfixturevalue('postgres_server'))
    try:
        yield Storage('postgresql', url, {'FLOWMON_DATABASE_URL': url})
    finally:
        drop_database_now(url)


@pytest.fixture
def app(system: System) -> FastAPI:
    """The REST API of the started ``system`` on a bare FastAPI app (see :mod:`inprocess`)."""
    return api_app(system)


@pytest.fixture
async def client(app: FastAPI, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with the bearer token; pass ``headers={'Authorization': ...}`` per request to override."""
    async with api_client(app, token) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` without a token."""
    async with api_client(app) as client:
        yield client
