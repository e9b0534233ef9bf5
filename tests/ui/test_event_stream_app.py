"""The event stream through the whole ASGI app in-process (``app.py`` with every middleware, NiceGUI's own
included), read message by message as the app sends them: the keep-alive comment at an injected interval, and the
stream ends when the client goes away. (gzip, which NiceGUI leaves out under pytest, is covered by
``tests/integration/test_event_streams.py`` against ``python app.py``.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from nicegui import app
from nicegui.testing.user import User
from uisim import TOKEN

from flowmon.api.dependencies import STATE_KEY
from flowmon.application import Application


class Response:
    """What the app sends for one request, message by message, and a way to hang up."""

    def __init__(self) -> None:
        self.start: dict[str, Any] = {}
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.hung_up = asyncio.Event()

    @property
    def headers(self) -> dict[str, str]:
        return {key.decode().lower(): value.decode() for key, value in self.start.get('headers', [])}

    async def text_until(self, marker: str, timeout: float = 10.0) -> str:
        text = ''
        async with asyncio.timeout(timeout):
            while marker not in text:
                text += (await self.chunks.get()).decode()
        return text


@asynccontextmanager
async def get(path: str, headers: dict[str, str]) -> AsyncIterator[Response]:
    """A GET through the full app, as a server would run it; leaving the block hangs up."""
    response = Response()
    scope = {
        'type': 'http', 'asgi': {'version': '3.0'}, 'http_version': '1.1', 'method': 'GET', 'scheme': 'http',
        'path': path, 'raw_path': path.encode(), 'query_string': b'', 'root_path': '',
        'headers': [(b'host', b'test'), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        'client': ('127.0.0.1', 50000), 'server': ('test', 80), 'state': {},
    }  # fmt: skip
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {'type': 'http.request', 'body': b'', 'more_body': False}
        await response.hung_up.wait()
        return {'type': 'http.disconnect'}

    async def send(message: dict[str, Any]) -> None:
        if message['type'] == 'http.response.start':
            response.start = message
        elif message['type'] == 'http.response.body':
            await response.chunks.put(message.get('body', b''))

    task = asyncio.create_task(app(scope, receive, send))
    try:
        yield response
    finally:
        response.hung_up.set()
        async with asyncio.timeout(10):
            await task


async def test_a_quiet_stream_sends_keep_alives_and_ends_when_the_client_hangs_up(user: User) -> None:
    application: Application = getattr(app.state, STATE_KEY)
    application.streams.keepalive_seconds = 0.01  # 15 s in production
    baseline = application.live.bus_subscribers
    async with get('/api/events/stream', {'Authorization': f'Bearer {TOKEN}'}) as response:
        text = await response.text_until(': keep-alive\n\n')
        assert response.start['status'] == 200
        assert response.headers['content-type'].startswith('text/event-stream')
        assert response.headers['content-security-policy'].startswith("default-src 'none'")
        assert 'set-cookie' not in response.headers  # an API caller gets no session
        assert text.startswith(': flowmon event stream\n\n')
        assert application.streams.open_count == 1
    assert application.streams.open_count == 0
    assert application.live.bus_subscribers == baseline


async def test_the_stream_needs_the_token(user: User) -> None:
    async with get('/api/events/stream', {'Authorization': 'Bearer wrong-token-wrong-token'}) as response:
        await response.text_until('}')
        assert response.start['status'] == 401
