"""Integration fixtures. ``launch`` starts flowmon processes (see :mod:`flowmon_process`) and kills them after;
``launch_shared`` does the same for processes that every test of one module uses; ``storage`` runs a test once on
SQLite and once on PostgreSQL (a fresh database on the throwaway server)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flowmon_process import REPO_ROOT, FlowmonProcess, child_env, free_port
from postgres_support import DIALECTS, Storage, create_database_now, drop_database_now


def _launcher(directory: Path) -> tuple[Callable[..., FlowmonProcess], list[FlowmonProcess]]:
    started: list[FlowmonProcess] = []

    def start(data_dir: Path | None = None, **overrides: str | None) -> FlowmonProcess:
        data_dir = data_dir or directory / 'data'
        port = free_port()
        run = len(started) + 1
        stdout_path, stderr_path = directory / f'run{run}.out', directory / f'run{run}.err'
        with stdout_path.open('wb') as out, stderr_path.open('wb') as err:
            process = subprocess.Popen(
                [sys.executable, 'app.py'],
                cwd=REPO_ROOT,
                env=child_env(data_dir, port, **overrides),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        flowmon = FlowmonProcess(process, port, data_dir, stdout_path, stderr_path)
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
