"""End-to-end fixtures: a real flowmon server process driven by Debian Chromium through sync Playwright.

Run these in their own pytest process (``pytest -m e2e tests/e2e``): sync Playwright cannot share a
process with the asyncio-based tests. This module deliberately does not import ``flowmon``: the app
under test runs as a subprocess, exactly as a user starts it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = 'e2e-token-0123456789'
STARTUP_TIMEOUT_S = 30.0
CHROMIUM_ARGS = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--no-first-run',
    '--metrics-recording-only',
    '--disable-quic',
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an e2e test."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class Server:
    url: str
    token: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding='utf-8', errors='replace')
        except FileNotFoundError:
            return '<no log>'
        return '\n'.join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _wait_healthy(server: Server, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    last_error = ''
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            pytest.fail(f'flowmon exited with code {code} during startup; log tail:\n{server.log_tail()}')
        try:
            response = httpx.get(f'{server.url}/api/health', timeout=2.0)
            if response.status_code == 200:
                return
            last_error = f'HTTP {response.status_code}'
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.2)
    pytest.fail(f'flowmon not healthy after {timeout:.0f}s ({last_error}); log tail:\n{server.log_tail()}')


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_server(directory: Path, **overrides: str) -> Server:
    """Start ``python app.py`` with its data directory under ``directory``; the caller stops it (:func:`_stop`)."""
    data_dir = directory / 'data'
    data_dir.mkdir(parents=True)
    log_path = directory / 'server.log'
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    env.update(
        FLOWMON_PORT=str(port),
        FLOWMON_HOST='127.0.0.1',
        FLOWMON_DATA_DIR=str(data_dir),
        FLOWMON_TOKEN=TOKEN,
        FLOWMON_WORKFLOWS_DIR=str(REPO_ROOT / 'data' / 'workflows'),
        PYTHONUNBUFFERED='1',
    )
    env.update(overrides)
    with log_path.open('wb') as log:
        process = subprocess.Popen(
            [sys.executable, 'app.py'],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f'http://127.0.0.1:{port}', token=TOKEN, data_dir=data_dir, log_path=log_path, process=process)


@pytest.fixture(scope='session')
def server() -> Iterator[Server]:
    tmp = Path(tempfile.mkdtemp(prefix='flowmon-e2e-'))
    # webhook tests: loopback receivers started by the test are allowed; three attempts half a second apart
    srv = start_server(
        tmp, FLOWMON_OUTBOUND_ALLOW='127.0.0.1', FLOWMON_WEBHOOK_RETRY_SCHEDULE='0,0.5,0.5', FLOWMON_WEBHOOK_JITTER='0'
    )
    try:
        _wait_healthy(srv)
        yield srv
    finally:
        _stop(srv.process)
        # Keep the server log where CI output can point at it, then drop the temporary data dir.
        out = REPO_ROOT / 'test-output'
        out.mkdir(exist_ok=True)
        if srv.log_path.exists():
            shutil.copyfile(srv.log_path, out / 'e2e-server.log')
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def launch_servers() -> Iterator[Callable[..., Server]]:
    """``launch_servers(**env_overrides)``: more flowmon processes, healthy when returned; stopped after the module."""
    tmp = Path(tempfile.mkdtemp(prefix='flowmon-e2e-more-'))
    started: list[Server] = []

    def launch(**overrides: str) -> Server:
        srv = start_server(tmp / str(len(started)), **overrides)
        started.append(srv)
        _wait_healthy(srv)
        return srv

    try:
        yield launch
    finally:
        for srv in started:
            _stop(srv.process)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='session')
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which('chromium') or '/usr/bin/chromium',
            args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope='session')
def shots() -> Path:
    directory = REPO_ROOT / 'test-output' / 'screenshots'
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def api(server: Server, method: str, path: str, json: Any = None) -> httpx.Response:
    """Call the flowmon HTTP API of ``server`` with its bearer token."""
    return httpx.request(
        method,
        f'{server.url}{path}',
        json=json,
        headers={'Authorization': f'Bearer {server.token}'},
        timeout=15.0,
    )


@pytest.fixture
def call_api(server: Server) -> Callable[..., httpx.Response]:
    """``call_api('POST', '/api/...', json={...})``: :func:`api` bound to the session server."""

    def call(method: str, path: str, json: Any = None) -> httpx.Response:
        return api(server, method, path, json=json)

    return call
