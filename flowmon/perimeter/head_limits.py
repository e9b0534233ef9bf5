"""``BoundedHead``: a request's line and headers are bounded before anything (even a login) sees them.

uvicorn's httptools protocol appends the URL and the headers as they arrive, without a limit, so any client could
make a connection hold megabytes before the first middleware runs. This subclass counts them: a request target over
:data:`MAX_TARGET_BYTES` gets 414, a request line and headers over :data:`MAX_HEAD_BYTES` together get 431, both
with ``Connection: close``, and the rest of the connection is not parsed. The count is per request (it starts again
for each request of a keep-alive or pipelined connection) and covers the websocket upgrade too, whose request is
parsed here before the websocket protocol takes the connection over.

httptools keeps a header's name and value to itself until the header is complete, so the bytes are counted as they
are received while a request's head is being read (one received chunk at most goes uncounted, the one that ends a
previous request), and exactly (target, names and values) once the head is complete. Requests received before the
refused one (pipelined) are answered first. After the refusal the connection lingers (what still arrives is thrown
away) for at most :data:`LINGER_SECONDS` and :data:`LINGER_BYTES`, so a client still sending reads the answer rather
than a reset; then it is closed.
"""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_TARGET_BYTES = 8 * 1024  # nginx's large_client_header_buffers line size: a request line's usual limit
MAX_HEAD_BYTES = 64 * 1024  # request line and headers together: cookies of the host included
# the bytes of a head still arriving (the request line's method and version, each line's ': ' and CRLF, any
# spaces) beyond what is counted once it is complete (target, names, values and 4 bytes a header)
HEAD_FRAMING_BYTES = 1024
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20  # thrown away after the refusal before the connection is closed at once


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; ``data_received`` answers with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def target_too_long() -> HeadTooLarge:
    return HeadTooLarge(414, f'request target longer than {MAX_TARGET_BYTES} bytes')


def head_too_large() -> HeadTooLarge:
    return HeadTooLarge(431, f'request line and headers larger than {MAX_HEAD_BYTES} bytes')


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request's target and head bounded (``ui.run(http=BoundedHead)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request's line or headers
        self._head_bytes = 0
        self._refused = False
        self._discarded = 0
        self._pending: HeadTooLarge | None = None  # raised by a parser callback
        self._deferred: HeadTooLarge | None = None  # to answer once the requests before it are answered

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with the count and the refusal (a callback's refusal reaches here as a parser error)."""
        if self._refused:  # lingering: thrown away, up to a point
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        self._pending = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._pending is not None:
                self._refuse(self._pending)
                return
            self.logger.warning('Invalid HTTP request received.')
            self.send_400_response('Invalid HTTP request received.')
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        else:
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES + HEAD_FRAMING_BYTES:
                self._refuse(head_too_large())  # a head still incomplete: it is not read to its end

    def _stop(self, error: HeadTooLarge) -> None:
        self._pending = error
        raise error

    def on_message_begin(self) -> None:
        self._in_head = True
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:
            self._stop(target_too_long())

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._stop(head_too_large())
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._deferred is not None and self._idle():
            self._answer(self._deferred)

    def _idle(self) -> bool:
        return not self.pipeline and (self.cycle is None or self.cycle.response_complete)

    def _refuse(self, error: HeadTooLarge) -> None:
        """Read no more of the connection; answer ``error`` once the requests before this one are answered."""
        self._refused = True
        if self._idle():
            self._answer(error)
        else:
            self._deferred = error

    def _answer(self, error: HeadTooLarge) -> None:
        self._deferred = None
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        body = error.message.encode('ascii')
        content = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b': ', value, b'\r\n'])
        content.extend(
            [
                b'content-type: text/plain; charset=utf-8\r\n',
                b'content-length: ' + str(len(body)).encode('ascii') + b'\r\n',
                b'connection: close\r\n',
                b'\r\n',
                body,
            ]
        )
        self.flow.resume_reading()  # (paused while requests were pipelined) what arrives now is thrown away
        self.transport.write(b''.join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


__all__ = ['MAX_HEAD_BYTES', 'MAX_TARGET_BYTES', 'BoundedHead']
