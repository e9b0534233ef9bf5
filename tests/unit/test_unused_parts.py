"""The parts of flowmon's libraries it never calls are left out of its imports, and only while they run: socket.io's
server (made as NiceGUI makes it) and httpx work without them, and a plugin that imports them later gets them. The
running server's own imports are checked in ``tests/integration/test_operations_process.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = ('aiohttp', 'requests', 'urllib3', 'websocket', 'tornado', 'rich', 'engineio.async_drivers.tornado')

SCRIPT = """
import json, sys
from flowmon.infra.unused_parts import without_unused_parts

with without_unused_parts():  # the libraries alone: app.py's own imports are the running server's test
    import httpx
    import socketio
    try:
        import aiohttp
    except ModuleNotFoundError as exc:
        missing = str(exc)

left_out = [name for name in NAMES if name in sys.modules]
server = socketio.AsyncServer(async_mode='asgi')  # as NiceGUI makes the pages' server
sent = httpx.Response(200, json={'ok': True}).json()

import aiohttp  # afterwards, as a plugin would
import requests

print(json.dumps({
    'loaded_inside': left_out,
    'missing': missing,
    'server': type(server).__name__,
    'engine': type(server.eio).__name__,
    'httpx': sent,
    'after': [aiohttp.ClientSession.__name__, requests.Session.__name__],
}))
"""


def test_unused_parts_are_left_out_while_flowmon_imports_and_only_then() -> None:
    script = SCRIPT.replace('NAMES', repr(LEFT_OUT))
    result = subprocess.run(
        [sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen['loaded_inside'] == []
    assert seen['missing'] == "aiohttp is left out of flowmon's start"
    assert (seen['server'], seen['engine']) == ('AsyncServer', 'AsyncServer')
    assert seen['httpx'] == {'ok': True}
    assert seen['after'] == ['ClientSession', 'Session']


def test_the_block_ends_with_what_it_wraps_even_when_that_fails() -> None:
    from flowmon.infra.unused_parts import without_unused_parts

    before = list(sys.meta_path)
    with pytest.raises(RuntimeError, match='a failing import'), without_unused_parts():
        assert len(sys.meta_path) == len(before) + 1
        raise RuntimeError('a failing import')
    assert sys.meta_path == before
