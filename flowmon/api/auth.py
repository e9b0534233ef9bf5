"""Bearer-token authentication for the API routes (constant-time comparison).

In the running app :class:`~flowmon.perimeter.bearer_first.BearerFirst` has already refused a missing or wrong
token before the body was read (and counted the failure); this dependency keeps the routes safe wherever they
are mounted without that middleware.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flowmon.perimeter.bearer_first import UNAUTHORIZED, bearer_token
from flowmon.perimeter.token_gate import token_matches

from .dependencies import App

# Declares the scheme in /openapi.json (``components.securitySchemes`` and each guarded operation's ``security``), so
# /docs has an Authorize button that sends the token and generated clients know to; the guard below does the checking.
BEARER = HTTPBearer(
    scheme_name='bearerToken',
    description='The access token (FLOWMON_TOKEN), sent as `Authorization: Bearer <token>`.',
    auto_error=False,
)


async def require_token(
    request: Request, application: App, _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None
) -> None:
    """A FastAPI dependency that refuses requests without ``Authorization: Bearer <token>`` (the token of the
    application installed on the app). One function, not one made per application: installing the API again (the
    UI tests do, on NiceGUI's one app, for every test) gives FastAPI the same dependencies to work out."""
    if not token_matches(bearer_token(request.scope), application.token):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={'WWW-Authenticate': 'Bearer'}
        )
