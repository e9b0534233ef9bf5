"""Bearer-token authentication for the API (constant-time comparison)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def bearer_guard(expected: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests without ``Authorization: Bearer <token>``."""

    async def require_token(request: Request) -> None:
        header = request.headers.get('authorization', '')
        scheme, _, value = header.partition(' ')
        if scheme.lower() != 'bearer' or not token_matches(value.strip(), expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail='missing or invalid token: send Authorization: Bearer <token>',
                headers={'WWW-Authenticate': 'Bearer'},
            )

    return require_token
