"""flowmon as a real process (``python app.py``, or ``python -m flowmon <command>``), driven over HTTP only.

Used by the integration tests (the ``launch`` fixtures), the e2e server fixture and the UI benchmark. Like the e2e
fixtures, this module does not import ``flowmon``: the app under test is a process of its own running ``app.py`` as
``__main__``, started as a user starts it or, in the tests, as a copy of a process that has done its imports already
(:mod:`preloaded`). Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import stalls
from ports import free_port
from preloaded import STARTING_ENVIRONMENT, Copy, Preloader
from quiet_examples import quiet_examples
from waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 30.0
STARTUP_LINE = re.compile(r'Open (http://[^/\s]+)/\?token=(\S+)')
TERMINAL = frozenset({'succeeded', 'failed', 'cancelled', 'interrupted'})


def ok(response: httpx.Response, *codes: int) -> Any:
    """The JSON of an answer with one of ``codes`` (200 if none given); None for an empty body."""
    assert response.status_code in (codes or (200,)), response.text
    return response.json() if response.content else None


def healthy(process: subprocess.Popen[bytes] | Copy, url: str, logs: Callable[[], str]) -> bool:
    """Whether the flowmon at ``url`` answers /api/health; fails the test if its process has exited."""
    code = process.poll()
    if code is not None:
        pytest.fail(f'flowmon exited with code {code} during start-up:\n{logs()}')
    try:
        return httpx.get(f'{url}/api/health', timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def stop_process(process: subprocess.Popen[bytes] | Copy, timeout: float = 10.0) -> None:
    """Terminate ``process`` (kill it if it does not exit within ``timeout``) and reap it."""
    stalls.release(process)
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def flowmon_command(
    data_dir: Path, *args: str, stdin: str | None = None, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """``python -m flowmon *args`` on ``data_dir`` (a maintenance command); its outcome, whatever the exit code."""
    return subprocess.run(
        [sys.executable, '-m', 'flowmon', *args],
        cwd=REPO_ROOT,
        env=child_env(data_dir, 8080, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def child_env(data_dir: Path, port: int, **overrides: str | None) -> dict[str, str]:
    """The environment the test process started with (not as a test or a library changed it since: see
    :data:`preloaded.STARTING_ENVIRONMENT`) without pytest's or any FLOWMON_* variables, plus the test's settings.

    An override of ``None`` leaves that variable unset.
    """
    env = {k: v for k, v in STARTING_ENVIRONMENT.items() if k != 'PYTEST_CURRENT_TEST' and not k.startswith('FLOWMON_')}
    values: dict[str, str | None] = {
        'FLOWMON_HOST': '127.0.0.1',
        'FLOWMON_PORT': str(port),
        'FLOWMON_DATA_DIR': str(data_dir),
        'FLOWMON_WORKFLOWS_DIR': str(quiet_examples()),  # (without their schedules)
        'PYTHONUNBUFFERED': '1',
        **overrides,
    }
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def spawn(
    log_dir: Path,
    data_dir: Path,
    name: str = 'run',
    *,
    prefix: Sequence[str] = (),
    fresh: bool = False,
    **overrides: str | None,
) -> FlowmonProcess:
    """Start ``python app.py`` on ``data_dir`` and a free port (``overrides``: settings, see :func:`child_env`;
    ``prefix``: a command to run it under, e.g. ``taskset``); its output goes to ``log_dir/<name>.out`` and ``.err``.
    Not waited for: see :meth:`FlowmonProcess.wait_started`.

    In the tests the process is a copy of a process that has imported flowmon already (:mod:`preloaded`), unless
    ``fresh`` (a test of what the start imports), a ``prefix`` is given, the overrides set a variable read once at
    the interpreter's start or at import (``PYTHONHASHSEED``, ``TZ``, ...: see :meth:`Preloader.can_copy`; not
    ``PYTHONPATH``, which a copy applies), or ``TESTS_PRELOADED=0`` is set."""
    port = free_port()
    stdout_path, stderr_path = log_dir / f'{name}.out', log_dir / f'{name}.err'
    env = child_env(data_dir, port, **overrides)
    if not fresh and not prefix and os.environ.get('TESTS_PRELOADED', '1') != '0' and Preloader.can_copy(env):
        copy = Preloader.start(['app.py'], env, stdout_path, stderr_path)
        return FlowmonProcess(copy, port, data_dir, stdout_path, stderr_path)
    with stdout_path.open('wb') as out, stderr_path.open('wb') as err:
        process = subprocess.Popen(
            [*prefix, sys.executable, 'app.py'],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    return FlowmonProcess(process, port, data_dir, stdout_path, stderr_path)


@dataclass
class FlowmonProcess:
    """One run of ``python app.py``; stdout and stderr go to files under ``log_dir``."""

    process: subprocess.Popen[bytes] | Copy
    port: int
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    token: str | None = None
    base_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = f'http://127.0.0.1:{self.port}'

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding='utf-8', errors='replace')

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding='utf-8', errors='replace')

    def logs(self, lines: int = 40) -> str:
        tail = (self.stdout + self.stderr).splitlines()[-lines:]
        return '\n'.join(tail)

    def wait_started(self, timeout: float = STARTUP_TIMEOUT_S, *, token: str | None = None) -> str:
        """Wait for the ``Open http://...?token=...`` line and a healthy API; returns the printed token.

        With ``token`` (the ``FLOWMON_TOKEN`` it was started with) only a healthy API is waited for: with
        ``FLOWMON_LOG_FORMAT=json`` flowmon prints no token.
        """

        def started() -> str | None:
            match = STARTUP_LINE.search(self.stdout)
            found = token or (match.group(2) if match else None)
            return found if found and healthy(self.process, self.base_url, self.logs) else None

        self.token = wait_until(started, 'flowmon to start', timeout=timeout, seen=self.logs)
        stalls.watch(self.process)  # (only when FLOWMON_STALL asks for it: see tests/stalls.py)
        return self.token

    def wait_idle(self, timeout: float = 60.0, window: float = 0.5, share: float = 0.2) -> None:
        """Wait until the server used less than ``share`` of a core in each of two ``window`` seconds in a row and
        none of its threads is running, waiting to run or stopped at the end of them: what it was still doing for
        requests already answered or given up (and so what it would log about them) is over. A server starved of CPU
        (a loaded machine) or stopped (``FLOWMON_STALL``) is not idle."""
        pid = self.process.pid

        def cpu_seconds() -> float:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')  # utime + stime, all threads

        def busy_threads() -> list[str]:
            states = []
            for task in Path(f'/proc/{pid}/task').iterdir():
                try:
                    states.append(Path(task, 'stat').read_text().rsplit(')', 1)[1].split()[0])
                except (FileNotFoundError, ProcessLookupError):  # (a thread that ended meanwhile)
                    continue
            return [state for state in states if state in ('R', 'T', 't')]

        quiet = [0]

        def idle() -> bool:
            assert self.process.poll() is None, f'flowmon ended: {self.logs()}'
            before = cpu_seconds()
            time.sleep(window)
            calm = cpu_seconds() - before < share * window and not busy_threads()
            quiet[0] = quiet[0] + 1 if calm else 0
            return quiet[0] >= 2

        wait_until(idle, 'the server to be idle', timeout=timeout, seen=self.logs)

    def api(self, method: str, path: str, json: Any = None) -> httpx.Response:
        assert self.token, 'wait_started() first'
        return httpx.request(
            method,
            f'{self.base_url}{path}',
            json=json,
            headers={'Authorization': f'Bearer {self.token}'},
            timeout=10.0,
        )

    def poll(self, path: str, done: Callable[[Any], bool], **wait: Any) -> Any:
        """GET ``path`` until ``done(json)``; the answer. Fails with the last answer on timeout."""
        last: list[Any] = [None]

        def answered() -> Any:
            response = self.api('GET', path)
            assert response.status_code == 200, response.text
            last[0] = response.json()
            return last[0] if done(last[0]) else None

        return wait_until(answered, f'GET {path} to answer as awaited', seen=lambda: (last[0], self.logs()), **wait)

    def start(self, workflow_id: str, input: Any = None) -> str:
        """Start a run of ``workflow_id`` with ``input``; its id."""
        body = {'input': {} if input is None else input}
        return str(ok(self.api('POST', f'/api/workflows/{workflow_id}/executions', json=body), 202)['id'])

    def put(self, workflow: dict[str, Any]) -> None:
        """Save ``workflow`` (created or replaced)."""
        ok(self.api('PUT', f'/api/workflows/{workflow["id"]}', json=workflow), 200, 201)

    def run_to_end(self, workflow_id: str, input: Any = None) -> dict[str, Any]:
        """Start a run and wait until it ended; its summary."""
        return self.wait_ended(self.start(workflow_id, input))

    def wait_ended(self, execution_id: str) -> dict[str, Any]:
        """Wait until the execution is terminal; its summary."""
        return dict(self.poll(f'/api/executions/{execution_id}', lambda body: body['status'] in TERMINAL))

    def wait_delivery(self, delivery_id: str, status: str) -> dict[str, Any]:
        """Wait until the webhook delivery has ``status``; its detail."""
        return dict(self.poll(f'/api/webhooks/deliveries/{delivery_id}', lambda detail: detail.get('status') == status))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code.

        After a graceful shutdown on SIGTERM the code is ``-SIGTERM``: uvicorn re-raises the signal it caught.
        """
        stalls.release(self.process)
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
            pytest.fail(f'flowmon did not exit within {timeout:.0f}s of signal {sig}:\n{self.logs()}')
