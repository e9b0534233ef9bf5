"""Bearer-token authentication for the API routes (constant-time comparison).

In the running app :class:`~flowmon.perimeter.bearer_first.BearerFirst` has already refused a missing or wrong
token before the body was read (and counted the failure); this dependency keeps the routes safe wherever they
are mounted without that middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status

from flowmon.perimeter.bearer_first import UNAUTHORIZED, bearer_token
from flowmon.perimeter.token_gate import token_matches


def bearer_guard(expected: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests without ``Authorization: Bearer <token>``."""

    async def require_token(request: Request) -> None:
        if not token_matches(bearer_token(request.scope), expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={'WWW-Authenticate': 'Bearer'}
            )

    return require_token
