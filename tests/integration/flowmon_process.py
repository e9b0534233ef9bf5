"""flowmon as a real process (``python app.py``), driven over HTTP only.

No browser: tests using this run in the ``-m "not e2e"`` layer. Like the e2e fixtures, this module does not
import ``flowmon``: the app under test is a subprocess started exactly as a user starts it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0
STARTUP_LINE = re.compile(r'Open (http://[^/\s]+)/\?token=(\S+)')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def child_env(data_dir: Path, port: int, **overrides: str | None) -> dict[str, str]:
    """The parent's environment without pytest's or any FLOWMON_* variables, plus the test's settings.

    An override of ``None`` leaves that variable unset.
    """
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST' and not k.startswith('FLOWMON_')}
    values: dict[str, str | None] = {
        'FLOWMON_HOST': '127.0.0.1',
        'FLOWMON_PORT': str(port),
        'FLOWMON_DATA_DIR': str(data_dir),
        'FLOWMON_WORKFLOWS_DIR': str(REPO_ROOT / 'data' / 'workflows'),
        'PYTHONUNBUFFERED': '1',
        **overrides,
    }
    env.update({k: v for k, v in values.items() if v is not None})
    return env


@dataclass
class FlowmonProcess:
    """One run of ``python app.py``; stdout and stderr go to files under ``log_dir``."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    token: str | None = None
    base_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = f'http://127.0.0.1:{self.port}'

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                pytest.fail(f'flowmon exited with code {code} during start-up:\n{self.logs()}')
            match = STARTUP_LINE.search(self.stdout)
            found = token or (match.group(2) if match else None)
            if found:
                try:
                    if httpx.get(f'{self.base_url}/api/health', timeout=2.0).status_code == 200:
                        self.token = found
                        return found
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        pytest.fail(f'flowmon did not start within {timeout:.0f}s:\n{self.logs()}')

    def api(self, method: str, path: str, json: Any = None) -> httpx.Response:
        assert self.token, 'wait_started() first'
        return httpx.request(
            method,
            f'{self.base_url}{path}',
            json=json,
            headers={'Authorization': f'Bearer {self.token}'},
            timeout=10.0,
        )

    def poll(self, path: str, done: Callable[[Any], bool], timeout: float = 10.0, interval: float = 0.05) -> Any:
        """GET ``path`` until ``done(json)``; fails with the last answer on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.api('GET', path)
            assert response.status_code == 200, response.text
            body = response.json()
            if done(body):
                return body
            if time.monotonic() > deadline:
                pytest.fail(f'gave up polling {path}; last answer: {body}\n{self.logs()}')
            time.sleep(interval)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code.

        After a graceful shutdown on SIGTERM the code is ``-SIGTERM``: uvicorn re-raises the signal it caught.
        """
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail(f'flowmon did not exit within {timeout:.0f}s of signal {sig}:\n{self.logs()}')
