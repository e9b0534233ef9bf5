"""Integration fixtures. ``launch`` starts flowmon processes (see :mod:`flowmon_process`) and kills them after."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flowmon_process import REPO_ROOT, FlowmonProcess, child_env, free_port


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., FlowmonProcess]]:
    """``launch(data_dir=..., **env_overrides)`` starts ``python app.py``; every process is killed at teardown."""
    started: list[FlowmonProcess] = []

    def start(data_dir: Path | None = None, **overrides: str | None) -> FlowmonProcess:
        data_dir = data_dir or tmp_path / 'data'
        port = free_port()
        run = len(started) + 1
        stdout_path, stderr_path = tmp_path / f'run{run}.out', tmp_path / f'run{run}.err'
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

    yield start
    for flowmon in started:
        if flowmon.process.poll() is None:
            flowmon.process.kill()
            flowmon.process.wait(timeout=10)
