"""``HeadAsGet``: ``HEAD`` on an API route answers as its ``GET`` does, without the body.

FastAPI gives a ``GET`` route no ``HEAD`` (Starlette's own routes get one), so ``HEAD`` on the API was a 405. This
layer runs a ``HEAD`` request under ``/api/`` (or on ``/metrics``) that a ``GET`` route answers as that ``GET``: the
same checks (the token, an unknown id, ``If-None-Match``) give the same status and headers. Writing no body is the
server's part (uvicorn writes none for ``HEAD`` whatever the app sends), so the layers outside this one (gzip) shape
the headers as they do for ``GET``. A response of no declared length (an event stream, which never ends by itself)
ends right after its headers instead, and the route is stopped there (its stream closed). No route takes ``HEAD``,
so ``/openapi.json`` documents none.
"""

from __future__ import annotations

from collections.abc import Collection

import anyio
import anyio.lowlevel
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer ``HEAD`` on ``prefix``-ed paths and ``paths`` as ``GET`` where one of ``routes`` answers ``GET``."""

    def __init__(self, app: ASGIApp, routes: Collection[BaseRoute], prefix: str, paths: Collection[str] = ()) -> None:
        self.app = app
        self.routes = routes  # the app's own list: routes added after this layer count too
        self.prefix = prefix
        self.paths = frozenset(paths)

    def answers_get(self, scope: Scope) -> bool:
        path = scope['path']
        if not (path.startswith(self.prefix) or path in self.paths):
            return False
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http' or scope['method'] != 'HEAD':
            await self.app(scope, receive, send)
            return
        as_get = {**scope, 'method': 'GET'}  # a copy: the server still knows the request as HEAD
        if not self.answers_get(as_get):
            await self.app(scope, receive, send)  # a 405 naming HEAD, or a 404
            return
        ended = False
        with anyio.CancelScope() as route:

            async def send_headers(message: Message) -> None:
                nonlocal ended
                if ended:  # the rest of a body the answer already ended without
                    await anyio.lowlevel.checkpoint()  # where the cancelled route stops
                    return
                await send(message)
                if message['type'] == 'http.response.start' and not _declares_length(message):
                    await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
                    ended = True
                    route.cancel()  # a body of no known length may never end: the route stops at its next await

            await self.app(as_get, receive, send_headers)


def _declares_length(message: Message) -> bool:
    return any(name.lower() == b'content-length' for name, _ in message.get('headers') or ())
