"""Bearer-token authentication for the API routes (constant-time comparison).

In the running app :class:`~flowmon.perimeter.bearer_first.BearerFirst` has already refused a missing or wrong
token before the body was read (and counted the failure); this dependency keeps the routes safe wherever they
are mounted without that middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flowmon.perimeter.bearer_first import UNAUTHORIZED, bearer_token
from flowmon.perimeter.token_gate import token_matches

# Declares the scheme in /openapi.json (``components.securitySchemes`` and each guarded operation's ``security``), so
# /docs has an Authorize button that sends the token and generated clients know to; the guard below does the checking.
BEARER = HTTPBearer(
    scheme_name='bearerToken',
    description='The access token (FLOWMON_TOKEN), sent as `Authorization: Bearer <token>`.',
    auto_error=False,
)


def bearer_guard(expected: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that refuses requests without ``Authorization: Bearer <token>``."""

    async def require_token(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None
    ) -> None:
        if not token_matches(bearer_token(request.scope), expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={'WWW-Authenticate': 'Bearer'}
            )

    return require_token
