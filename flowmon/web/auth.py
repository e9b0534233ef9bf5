"""Token sign-in for the browser: a session flag in NiceGUI user storage, checked on every way in.

Three guards, because NiceGUI pages are reached two ways:

- :class:`AuthMiddleware` sees every HTTP request. It signs a browser in from ``?token=...`` (then redirects to
  the same URL without the token, so it stays out of history and logs) and sends page requests without a
  session to ``/login``. ``/_nicegui*`` (assets, websocket), ``/api/*`` (its own bearer auth), the login page
  and the API docs pass untouched.
- Sub-page navigation runs over the websocket and never reaches the middleware; the routed frame
  (:mod:`flowmon.web.routing`) asks :func:`is_signed_in` before it renders a page.
- Handlers that act (Run, Cancel) ask again, because hiding a button is not authorisation.

The session stores a fingerprint of the token, not a boolean: starting flowmon with a new token signs every
browser out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware

SESSION_KEY = 'flowmon_auth'
TOKEN_PARAM = 'token'
LOGIN_PATH = '/login'
OPEN_PATHS = frozenset({LOGIN_PATH, '/favicon.ico', '/docs', '/redoc', '/openapi.json', '/docs/oauth2-redirect'})
OPEN_PREFIXES = ('/_nicegui', '/api/')


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def fingerprint(token: str) -> str:
    """What the session keeps instead of the token itself."""
    return hmac.new(token.encode(), b'flowmon browser session', hashlib.sha256).hexdigest()[:32]


def is_signed_in(token: str) -> bool:
    """Whether the current browser (request or websocket context) is signed in with ``token``."""
    try:
        stored = app.storage.user.get(SESSION_KEY)
    except (RuntimeError, AssertionError):  # no request context or storage: nobody is signed in
        return False
    return isinstance(stored, str) and hmac.compare_digest(stored, fingerprint(token))


def sign_in(given: str | None, token: str) -> bool:
    """Sign the current browser in when ``given`` is the token; returns whether it was."""
    if not token_matches(given, token):
        return False
    app.storage.user[SESSION_KEY] = fingerprint(token)
    return True


def sign_out() -> None:
    app.storage.user.pop(SESSION_KEY, None)


def safe_redirect(target: str | None) -> str:
    """A local path to go to after signing in (never another host, never back to the login page)."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/'
    if target == LOGIN_PATH or target.startswith(LOGIN_PATH + '?'):
        return '/'
    return target


def login_url(redirect_to: str, *, error: str | None = None) -> str:
    params = {'redirect_to': safe_redirect(redirect_to)}
    if error:
        params['error'] = error
    return f'{LOGIN_PATH}?{urlencode(params, quote_via=quote)}'


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def auth_middleware(token: str) -> type[BaseHTTPMiddleware]:
    """The middleware class for ``app.add_middleware`` (bound to the configured token)."""

    class AuthMiddleware(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            path = request.url.path
            if is_open_path(path):
                return await call_next(request)
            query = parse_qsl(request.url.query, keep_blank_values=True)
            presented = [value for key, value in query if key == TOKEN_PARAM]
            if presented:
                rest = [(key, value) for key, value in query if key != TOKEN_PARAM]
                target = path + (f'?{urlencode(rest)}' if rest else '')
                if sign_in(presented[-1], token):
                    return RedirectResponse(target, status_code=303)
                return RedirectResponse(login_url(target, error='token'), status_code=303)
            if is_signed_in(token):
                return await call_next(request)
            if request.method not in {'GET', 'HEAD'}:
                return PlainTextResponse('sign in first: open /login', status_code=401)
            target = path + (f'?{request.url.query}' if request.url.query else '')
            return RedirectResponse(login_url(target), status_code=303)

    return AuthMiddleware


__all__ = [
    'LOGIN_PATH',
    'auth_middleware',
    'fingerprint',
    'is_open_path',
    'is_signed_in',
    'login_url',
    'safe_redirect',
    'sign_in',
    'sign_out',
    'token_matches',
]
