"""A real loopback HTTP receiver for webhook tests: records every hit, answers from a script.

It runs a ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) on 127.0.0.1 in a background thread, so it serves the
same way whether the sender is in this process (asyncio tests) or in a subprocess (the kill test). The fixtures
``receiver`` and ``receivers`` (tests/conftest.py) start them and stop them after the test.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from waiting import until, wait_until


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b'ok'


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request arrived
    wall: float
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Receiver:
    """``Receiver([Reply(503), Reply(503)])`` fails the first two hits, then answers 200 to everything."""

    def __init__(self, replies: Sequence[Reply] | Callable[[int], Reply] = ()) -> None:
        self._replies = replies
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    def reply_for(self, index: int) -> Reply:
        if callable(self._replies):
            return self._replies(index)
        return self._replies[index] if index < len(self._replies) else Reply()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get('content-length') or 0)
                body = self.rfile.read(length) if length else b''
                hit = Hit(
                    at=time.monotonic(),
                    wall=time.time(),
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                with receiver._lock:
                    index = len(receiver.hits)
                    receiver.hits.append(hit)
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                reply = receiver.reply_for(index)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header('Content-Length', str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            do_POST = do_PUT = do_PATCH = do_GET = _handle

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name='webhook receiver', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}/hook'

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _has(self, count: int) -> list[Hit] | None:
        return list(self.hits) if len(self.hits) >= count else None

    def _seen(self) -> str:
        return f'{len(self.hits)} hit(s)'

    def wait_hits(self, count: int, **wait: Any) -> list[Hit]:
        """Block until at least ``count`` requests arrived; all of them so far."""
        return wait_until(lambda: self._has(count), f'{count} hit(s) on {self.url}', seen=self._seen, **wait)

    async def await_hits(self, count: int, **wait: Any) -> list[Hit]:
        """:meth:`wait_hits` for tests on the event loop."""
        return await until(lambda: self._has(count), f'{count} hit(s) on {self.url}', seen=self._seen, **wait)
