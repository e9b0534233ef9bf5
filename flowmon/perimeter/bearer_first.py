"""``BearerFirst``: API routes refuse a missing or wrong bearer token before a byte of the body is read.

FastAPI parses a model-typed body before it runs the route's dependencies, so the API's own bearer check came
after the whole body was buffered and parsed. This pure-ASGI middleware answers 401 (or 429 for a locked-out
address, see :mod:`.token_gate`) from the headers alone. Unknown paths and wrong methods under ``/api/`` get
401 too: a stranger learns nothing about the API's shape. Other paths that take the bearer token (``/metrics``, which
Prometheus scrapes) are guarded the same way and count in the same limiter.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .token_gate import Outcome, TokenGate, too_many_failures

API_PREFIX = '/api/'
METRICS_PATH = '/metrics'
UNAUTHORIZED = 'missing or invalid token: send Authorization: Bearer <token>'


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), if any."""
    header = next((value for key, value in scope['headers'] if key == b'authorization'), None)
    if header is None:
        return None
    scheme, _, value = header.decode('latin-1').partition(' ')
    return value.strip() if scheme.lower() == 'bearer' else ''


class BearerFirst:
    """Guard every ``/api/`` path but ``open_paths``, and each of ``guarded_paths``, with the token, from the headers
    only."""

    def __init__(
        self, app: ASGIApp, gate: TokenGate, open_paths: Collection[str] = (), guarded_paths: Collection[str] = ()
    ) -> None:
        self.app = app
        self.gate = gate
        self.open_paths = frozenset(open_paths)
        self.guarded_paths = frozenset(guarded_paths)

    def guards(self, path: str) -> bool:
        return path in self.guarded_paths or (path.startswith(API_PREFIX) and path not in self.open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and self.guards(scope['path']):
            presented = bearer_token(scope)
            if presented is None:  # no credentials at all: nothing was guessed, nothing to count
                await _unauthorized(scope, receive, send)
                return
            verdict = self.gate.check(presented, scope)
            if verdict.outcome is Outcome.LIMITED:
                await too_many_failures(verdict, json=True)(scope, receive, send)
                return
            if verdict.outcome is Outcome.REFUSED:
                await _unauthorized(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({'detail': UNAUTHORIZED}, status_code=401, headers={'WWW-Authenticate': 'Bearer'})
    await response(scope, receive, send)
