"""``StalledStreams``: an event-stream client that stops reading is cut off, not waited for.

A Server-Sent Events response writes as long as its client reads. A client that stops reading (a paused program, a
network path that still answers with a zero window) leaves the server's write waiting for room for as long as the
connection lives, and TCP never ends such a connection by itself: the stream would keep its place among the
:data:`~flowmon.application.streams.MAX_STREAMS` and its task for good. (Its events are not what piles up: a stream
that falls behind is cut off from the bus at once, see :mod:`flowmon.application.streams`.)

This layer gives each write of a ``text/event-stream`` response ``stall_seconds`` to find room. A write that waits
longer ends the response: the stream is closed and the connection dropped at once (closing it the usual way would
wait for the unsent bytes to go out, for ever). A client that reads again reconnects with ``Last-Event-ID`` and
misses nothing. One warning line says what happened.

It must wrap the whole stack (:func:`wrap_whole_stack`): NiceGUI's ``BaseHTTPMiddleware`` layers hand a response's
body to the server from their own task, where no layer inside them can reach a stalled write. Ending a response
early makes uvicorn log "ASGI callable returned without completing response" at error level; for a connection this
layer cut off, that line is left out (:class:`QuietCutOff`), as the warning has said why.

Being outermost, it also keeps a client that goes away out of the error log. NiceGUI's nested ``BaseHTTPMiddleware``
layers turn a request whose client disconnected before the answer began (an asset fetch cancelled by a page that
moved on, a connection reset) into ``RuntimeError("No response returned.")``, which uvicorn logged as an "Exception
in ASGI application" with its traceback: hundreds of them from anyone who opens and drops connections. Once this
layer has seen the client go, that error ends the request quietly (a debug line); any other error, and that one
while the client is still there, propagates as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

EVENT_STREAM = b'text/event-stream'
UVICORN_INCOMPLETE = 'ASGI callable returned without completing response'
UVICORN_UNSTARTED = 'ASGI callable returned without starting response'
NO_RESPONSE = 'No response returned.'  # what BaseHTTPMiddleware raises when the layers inside it sent no answer

# Set in the request's task when this layer cut its connection off: uvicorn logs its complaint in that same task.
_cut_off: ContextVar[bool] = ContextVar('flowmon_stream_cut_off', default=False)


class _Stalled(Exception):
    """A write of an event stream found no room in time."""


class StalledStreams:
    """End a ``text/event-stream`` response whose write waits more than ``stall_seconds`` for the client."""

    def __init__(self, app: ASGIApp, *, stall_seconds: float) -> None:
        self.app = app
        self.stall_seconds = stall_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http':
            await self._serve(scope, receive, send)
        else:  # websockets (socket.io) and the lifespan
            await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = False
        gone = False  # the client disconnected

        async def receive_watched() -> Message:
            nonlocal gone
            message = await receive()
            if message['type'] == 'http.disconnect':
                gone = True
            return message

        async def send_in_time(message: Message) -> None:
            nonlocal streaming
            if message['type'] == 'http.response.start':
                streaming = _is_event_stream(message)
            if not streaming:
                await send(message)
                return
            try:
                async with asyncio.timeout(self.stall_seconds):
                    await send(message)
            except TimeoutError:
                raise _Stalled from None

        try:
            await self.app(scope, receive_watched, send_in_time)
        except RuntimeError as exc:
            if str(exc) != NO_RESPONSE or not (gone or _closing(send)):
                raise
            _cut_off.set(True)
            log.debug('%s %s: the client went away before the answer began', scope.get('method'), scope.get('path'))
        except _Stalled:
            _cut_off.set(True)
            _abort(send)
            client = scope.get('client')
            log.warning(
                'an event-stream client (%s) read nothing for %g s: its stream is closed (it can resume with '
                'Last-Event-ID)',
                f'{client[0]}:{client[1]}' if client else 'unknown',
                self.stall_seconds,
            )


def _abort(send: Send) -> None:
    """Drop the connection now. Closing it (what the server does once the app returns) would wait until the unsent
    bytes had gone out, which a client that reads nothing never lets happen: the socket and its buffers would stay."""
    abort = _transport_method(send, 'abort')
    if abort is not None:
        abort()


def _closing(send: Send) -> bool:
    """Whether the connection of uvicorn's ``send`` is closed or closing."""
    is_closing = _transport_method(send, 'is_closing')
    return bool(is_closing()) if is_closing is not None else False


def _transport_method(send: Send, name: str) -> Callable[[], object] | None:
    """A method of the connection's transport: uvicorn's ``send`` is a method of the request's cycle, which holds
    the transport (None for any other server's ``send``)."""
    method = getattr(getattr(getattr(send, '__self__', None), 'transport', None), name, None)
    return method if callable(method) else None


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get('headers') or ():
        if name.lower() == b'content-type':
            return bytes(value).split(b';', 1)[0].strip().lower() == EVENT_STREAM
    return False


class QuietCutOff(logging.Filter):
    """Leaves out uvicorn's "returned without completing (or starting) response" for a request that
    :class:`StalledStreams` cut off or whose client went away."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_cut_off.get() and str(record.msg).startswith((UVICORN_INCOMPLETE, UVICORN_UNSTARTED)))


def wrap_whole_stack(app: object, *, stall_seconds: float) -> None:
    """Make :class:`StalledStreams` the outermost layer of ``app`` (a Starlette application), around the middleware
    stack it builds at its first request, whoever added the layers inside; and quiet uvicorn's line about it."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack  # type: ignore[attr-defined]

    def build_wrapped() -> ASGIApp:
        return StalledStreams(build(), stall_seconds=stall_seconds)

    app.build_middleware_stack = build_wrapped  # type: ignore[attr-defined]
    uvicorn_errors = logging.getLogger('uvicorn.error')
    if not any(isinstance(existing, QuietCutOff) for existing in uvicorn_errors.filters):
        uvicorn_errors.addFilter(QuietCutOff())
