"""``BodyCap``: request bodies over a size limit get 413 before anything parses them.

FastAPI reads and parses a model-typed body before any dependency runs, and nothing else bounds a request's
size, so without this a stranger could make the server buffer any amount of JSON. This pure-ASGI middleware
refuses a declared ``Content-Length`` over the limit without reading a byte, and counts the bytes of streamed
(chunked) bodies as they arrive, stopping at the limit. It must sit inside every ``BaseHTTPMiddleware``-free
stretch up to the routes: one of those between it and the router wraps its exception in an ``ExceptionGroup``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit. A Starlette ``HTTPException``: FastAPI re-raises it
    from body parsing unchanged (other errors there become a 400), and the app's handler answers it with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f'request body larger than {limit} bytes (the limit for this path)'


class BodyCap:
    """Refuse request bodies over ``default`` bytes (or over the limit of the first matching path prefix)."""

    def __init__(self, app: ASGIApp, default: int, overrides: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        self.overrides = tuple(overrides)

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.overrides if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope['path'])
        for key, value in scope['headers']:
            if key == b'content-length' and (not value.isdigit() or int(value) > limit):
                await _too_large(limit, scope, receive, send)  # nothing of the body was read
                return
        seen = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get('body', b''))
            if seen > limit:
                raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message['type'] == 'http.response.start'
            await send(message)

        try:
            await self.app(scope, capped_receive, watching_send)
        except BodyTooLarge:  # only when nothing inside turned it into a response
            if started:
                raise
            await _too_large(limit, scope, receive, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({'detail': too_large_message(limit)}, status_code=413, headers={'Connection': 'close'})
    await response(scope, receive, send)
