"""A SIGKILL loses no webhook delivery: the real app process is killed and restarted on the same data directory.

At-least-once with a stable id: after the restart the pending retry (or the attempt the kill interrupted) is sent
again with the same ``webhook-id``, and the delivery completes exactly once more.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from postgres_support import Storage
from standardwebhooks.webhooks import Webhook
from webhook_receiver import Receiver, Reply

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = 'kill-test-token-0123'


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


@dataclass
class AppProcess:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {'Authorization': f'Bearer {TOKEN}'}
        return httpx.request(method, f'{self.url}{path}', headers=headers, timeout=10.0, **kwargs)

    def log_tail(self) -> str:
        return '\n'.join(self.log_path.read_text(errors='replace').splitlines()[-40:])


class Launcher:
    """Starts flowmon processes on one data directory, kills them with SIGKILL, cleans up at the end."""

    def __init__(self, tmp_path: Path, schedule: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = tmp_path / 'data'
        self.tmp_path = tmp_path
        self.schedule = schedule
        self.env = env or {}  # the database (PostgreSQL's URL; SQLite's file is in the data directory)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> AppProcess:
        port = _free_port()
        log_path = self.tmp_path / f'app-{len(self.processes)}.log'
        env = {k: v for k, v in os.environ.items() if not k.startswith(('FLOWMON_', 'PYTEST_'))}
        env.update(
            FLOWMON_PORT=str(port),
            FLOWMON_HOST='127.0.0.1',
            FLOWMON_DATA_DIR=str(self.data_dir),
            FLOWMON_WORKFLOWS_DIR=str(self.tmp_path / 'no-workflows'),
            FLOWMON_TOKEN=TOKEN,
            FLOWMON_OUTBOUND_ALLOW='127.0.0.1',
            FLOWMON_WEBHOOK_RETRY_SCHEDULE=self.schedule,
            FLOWMON_WEBHOOK_JITTER='0',
            PYTHONUNBUFFERED='1',
            **self.env,
        )
        with log_path.open('wb') as log:
            process = subprocess.Popen(
                [sys.executable, 'app.py'], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self.processes.append(process)
        app = AppProcess(process=process, url=f'http://127.0.0.1:{port}', log_path=log_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f'flowmon exited with {process.returncode}:\n{app.log_tail()}')
            try:
                if httpx.get(f'{app.url}/api/health', timeout=1.0).status_code == 200:
                    return app
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f'flowmon did not become healthy:\n{app.log_tail()}')

    def kill(self, app: AppProcess) -> None:
        app.process.send_signal(signal.SIGKILL)
        app.process.wait(timeout=10)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def launcher_factory(tmp_path: Path, storage: Storage) -> Iterator[Any]:
    """Launchers on SQLite and on PostgreSQL (``storage``): the kill and the restart lose nothing on either."""
    made: list[Launcher] = []

    def make(schedule: str) -> Launcher:
        launcher = Launcher(tmp_path, schedule, storage.env)
        made.append(launcher)
        return launcher

    yield make
    for launcher in made:
        launcher.close()


def _wait_status(app: AppProcess, delivery_id: str, wanted: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    detail: dict[str, Any] = {}
    while time.monotonic() < deadline:
        detail = app.api('GET', f'/api/webhooks/deliveries/{delivery_id}').json()
        if detail.get('status') == wanted:
            return detail
        time.sleep(0.05)
    raise AssertionError(f'delivery not {wanted} within {timeout} s: {detail}\n{app.log_tail()}')


def test_sigkill_while_a_retry_is_pending_loses_nothing(launcher_factory: Any) -> None:
    receiver = Receiver([Reply(503)]).start()
    launcher = launcher_factory('0,3')
    try:
        app = launcher.start()
        response = app.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'order': 1}})
        assert response.status_code == 202, response.text
        queued = response.json()
        receiver.wait_hits(1)
        pending = _wait_status(app, queued['id'], 'retrying')  # the outcome is committed, the retry armed
        due = datetime.fromisoformat(pending['next_attempt_at'])
        launcher.kill(app)

        while datetime.now(due.tzinfo) < due:  # let the wake-up come due while nothing runs
            time.sleep(0.05)
        assert len(receiver.hits) == 1
        app = launcher.start()
        detail = _wait_status(app, queued['id'], 'succeeded')
        hits = receiver.hits
        assert len(hits) == 2  # exactly once more
        assert [a['status_code'] for a in detail['attempts']] == [503, 200]
        assert {hit.headers['webhook-id'] for hit in hits} == {queued['webhook_id']}
        for hit in hits:
            assert Webhook(queued['secret']).verify(hit.body, hit.headers) == {'order': 1}
    finally:
        receiver.stop()


def test_sigkill_during_an_attempt_marks_it_interrupted_and_sends_again(launcher_factory: Any) -> None:
    receiver = Receiver([Reply(200, delay=20)]).start()
    launcher = launcher_factory('0,0.3')
    try:
        app = launcher.start()
        queued = app.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'n': 2}}).json()
        receiver.wait_hits(1)  # the attempt is in flight: the receiver holds the response
        launcher.kill(app)

        app = launcher.start()
        detail = _wait_status(app, queued['id'], 'succeeded')
        hits = receiver.hits
        assert len(hits) == 2
        assert [a['error_class'] for a in detail['attempts']] == ['interrupted', None]
        assert [a['trigger'] for a in detail['attempts']][1] in ('retry', 'recovery')
        assert {hit.headers['webhook-id'] for hit in hits} == {queued['webhook_id']}
        Webhook(queued['secret']).verify(hits[1].body, hits[1].headers)
    finally:
        receiver.stop()
