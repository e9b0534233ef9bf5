"""``StalledStreams`` on its own: which writes it times, what it does with one that stalls, and the log line it quiets.
(Through the whole app, with a real client that stops reading: tests/integration/test_event_streams.py.)"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from flowmon.api.streams import EventStreamResponse
from flowmon.application.streams import EventStreams
from flowmon.engine import Event, EventBus, EventType
from flowmon.perimeter.stalled_streams import UVICORN_INCOMPLETE, QuietCutOff, StalledStreams

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCOPE: Scope = {'type': 'http', 'method': 'GET', 'path': '/api/events/stream', 'client': ('10.0.0.7', 50123)}


def responding(content_type: bytes, chunks: int, seen: list[str]) -> Any:
    """An app that starts a response of ``content_type`` and sends ``chunks`` bodies, noting how it ended."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', content_type)]})
            for n in range(chunks):
                await send({'type': 'http.response.body', 'body': b'x', 'more_body': n < chunks - 1})
            seen.append('completed')
        except BaseException as exc:
            seen.append(type(exc).__name__)
            raise

    return app


class Transport:
    aborted = False

    def abort(self) -> None:
        self.aborted = True


class Server:
    """A server's request cycle: its ``send`` takes ``sent`` messages, then waits ``pause_s`` (for ever, by default)
    for room; like uvicorn's, it is a method of an object that holds the connection's ``transport``."""

    def __init__(self, sent: int, messages: list[Message], pause_s: float = 3600.0) -> None:
        self.sent, self.messages, self.pause_s = sent, messages, pause_s
        self.transport = Transport()

    async def send(self, message: Message) -> None:
        if len(self.messages) >= self.sent:
            await asyncio.sleep(self.pause_s)
        self.messages.append(message)


async def receive() -> Message:
    await asyncio.Event().wait()
    raise AssertionError('unreachable')


def incomplete_response_line() -> logging.LogRecord:
    return logging.LogRecord('uvicorn.error', logging.ERROR, __file__, 1, UVICORN_INCOMPLETE + '.', None, None)


async def test_an_event_stream_whose_write_stalls_is_ended_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    messages: list[Message] = []
    layer = StalledStreams(responding(b'text/event-stream; charset=utf-8', 5, seen), stall_seconds=0.05)

    server = Server(2, messages)

    async def request() -> bool:  # in a task of its own, as uvicorn runs each request: it then logs in that task
        await layer(SCOPE, receive, server.send)
        return QuietCutOff().filter(incomplete_response_line())

    quiet = await asyncio.create_task(request())

    assert [message['type'] for message in messages] == ['http.response.start', 'http.response.body']
    assert seen == ['_Stalled']  # the app's send raised: the response went no further
    assert server.transport.aborted  # and the connection is dropped, not closed after bytes that never leave
    assert 'an event-stream client (10.0.0.7:50123) read nothing for 0.05 s' in caplog.text
    assert quiet is False  # uvicorn's complaint about this request is left out ...
    assert QuietCutOff().filter(incomplete_response_line()) is True  # ... and only about a request that was cut off


async def test_other_responses_take_as_long_as_their_client_needs() -> None:
    seen: list[str] = []
    messages: list[Message] = []
    layer = StalledStreams(responding(b'application/json', 3, seen), stall_seconds=0.01)

    server = Server(1, messages, pause_s=0.05)
    await layer(SCOPE, receive, server.send)  # a slow download: each write takes 5x the bound

    assert seen == ['completed'] and len(messages) == 4 and not server.transport.aborted  # the start, three bodies


async def test_an_event_stream_that_the_client_keeps_reading_is_not_cut_off() -> None:
    seen: list[str] = []
    messages: list[Message] = []
    layer = StalledStreams(responding(b'text/event-stream', 4, seen), stall_seconds=0.5)

    server = Server(1, messages, pause_s=0.01)
    await layer(SCOPE, receive, server.send)

    assert not server.transport.aborted and seen == ['completed']
    assert messages[-1] == {'type': 'http.response.body', 'body': b'x', 'more_body': False}


async def test_websockets_and_lifespan_pass_through_untouched() -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope['type'])

    layer = StalledStreams(app, stall_seconds=0.01)
    for kind in ('websocket', 'lifespan'):
        await layer({'type': kind}, receive, Server(0, []).send)
    assert called == ['websocket', 'lifespan']


def answering_nothing(reads: int) -> Any:
    """An app like NiceGUI's nested BaseHTTPMiddleware layers when no answer came from inside them: it reads the
    request ``reads`` times, then raises what they raise."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(reads):
            await receive()
        raise RuntimeError('No response returned.')

    return app


async def test_no_response_for_a_client_that_went_away_ends_quietly() -> None:
    messages: list[Message] = []
    gone = [{'type': 'http.disconnect'}]

    async def disconnected() -> Message:
        return gone[0]

    layer = StalledStreams(answering_nothing(reads=1), stall_seconds=1)
    await layer({**SCOPE, 'path': '/_nicegui/asset.js'}, disconnected, Server(10, messages).send)  # no exception
    assert messages == []


async def test_no_response_while_the_client_is_still_there_is_an_error() -> None:
    async def request_body() -> Message:
        return {'type': 'http.request', 'body': b'', 'more_body': False}

    layer = StalledStreams(answering_nothing(reads=1), stall_seconds=1)
    with pytest.raises(RuntimeError, match='No response returned'):
        await layer({**SCOPE, 'path': '/executions'}, request_body, Server(10, []).send)
    with pytest.raises(RuntimeError, match='something else'):

        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            raise RuntimeError('something else')

        await StalledStreams(broken, stall_seconds=1)(SCOPE, request_body, Server(10, []).send)


async def test_a_stream_cut_off_lets_go_of_its_subscription_at_once() -> None:
    """Through the real event-stream response and a ``BaseHTTPMiddleware`` layer (as NiceGUI nests them): a write
    that stalls ends the response while the stream's generator waits at a ``yield``. The stream lets go of its bus
    subscription and its place among the open streams then, not whenever the garbage collector finds the generator
    (with the collector off here, as it may not run for a long time)."""
    bus = EventBus()
    streams = EventStreams(bus=bus, history=None, live=None)  # type: ignore[arg-type]  # (not read: no cursor)
    baseline = bus.subscriber_count
    stream = await streams.events()

    async def route(request: Request) -> Response:
        return EventStreamResponse(stream)

    async def passthrough(request: Request, call_next: Any) -> Response:
        return await call_next(request)

    app = Starlette(
        routes=[Route('/api/events/stream', route)], middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)]
    )
    layer = StalledStreams(app, stall_seconds=0.05)
    messages: list[Message] = []
    server = Server(3, messages)  # the start, the opening comment and one event; then no more room
    scope = {**SCOPE, 'headers': [], 'query_string': b'', 'scheme': 'http', 'server': ('127.0.0.1', 80),
             'root_path': '', 'http_version': '1.1', 'asgi': {'version': '3.0', 'spec_version': '2.4'}}  # fmt: skip
    for seq in range(1, 4):
        bus.publish(Event(execution_id='e1', seq=seq, type=EventType.EXECUTION_PROGRESS, ts=T0, data={'done': seq}))
    gc.disable()
    try:
        await asyncio.create_task(layer(scope, receive, server.send))
        assert len(messages) == 3 and server.transport.aborted
        assert stream.closed
        assert streams.open_count == 0 and bus.subscriber_count == baseline
    finally:
        gc.enable()
