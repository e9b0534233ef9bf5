"""``SignInMiddleware``: every HTTP way into the pages, and the only code that signs a browser in or out.

NiceGUI pages are reached two ways, so there are three guards:

- This middleware sees every HTTP request. It signs a browser in from ``?token=...`` (then redirects to the same
  URL without the token, so it stays out of history and logs) or from the sign-in form's ``POST /login``, signs
  it out on ``POST /logout``, and sends page requests without a session to ``/login``. Signing in and out
  always replaces the session id (:func:`flowmon.perimeter.sessions.start_new_session`): a cookie planted before
  sign-in never becomes signed in. ``/_nicegui*`` (assets, websocket), ``/api/`` (bearer auth), ``/hooks/``
  (signed by their senders), ``/metrics`` (bearer auth), the login page and the API docs pass untouched.
- Sub-page navigation runs over the websocket and never reaches the middleware; the routed frame
  (:mod:`flowmon.web.routing`) asks :func:`~flowmon.web.auth.is_signed_in` before it renders a page.
- Handlers that act (Run, Cancel) or load data (the header's workflows menu) ask again: a hidden element can
  still receive events.

Wrong tokens are counted per address by the shared :class:`~flowmon.perimeter.token_gate.TokenGate`. A browser on
another site's page could make them for its visitor (a hidden form, an image), to lock that address out or to sign
it out: the sign-in and sign-out forms, and any other request to the pages but a GET, are refused (403, nothing counted,
no session made: see :mod:`flowmon.perimeter.sessions`) when the browser says they come from a page that is not
flowmon's own (``Sec-Fetch-Site``, else ``Origin``), and so is a ``?token=`` that another site's page embeds
(``Sec-Fetch-Dest`` other than a document) or opens without a person's click (no ``Sec-Fetch-User``: a script
sending a popup from guess to guess). A link clicked in a chat, or opened from a terminal, still signs in.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from urllib.parse import parse_qsl, urlencode

from nicegui import app
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from flowmon.perimeter.bearer_first import METRICS_PATH
from flowmon.perimeter.sessions import from_another_site, header, start_new_session
from flowmon.perimeter.token_gate import Outcome, TokenGate, too_many_failures

from .auth import (
    EXPIRES_KEY,
    LOGIN_PATH,
    LOGOUT_PATH,
    SESSION_KEY,
    TOKEN_PARAM,
    fingerprint,
    is_signed_in,
    login_url,
    safe_redirect,
)

OPEN_PATHS = frozenset({LOGIN_PATH, '/favicon.ico', '/docs', '/openapi.json', METRICS_PATH})
OPEN_PREFIXES = ('/_nicegui', '/api/', '/hooks/', '/_docs/')
MAX_FORM_BYTES = 8 * 1024  # the sign-in form: a token and a path


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def is_page_load(scope: Scope) -> bool:
    """Whether the request builds a page for a browser without a session: the sign-in page. Every other page path
    sends such a browser there (a 303, which builds nothing), a sign-in link (``?token=``) is the token gate's to
    count, and the open paths serve no page (a path under ``/_nicegui`` that matches nothing gets a plain 404:
    :func:`~flowmon.perimeter.sessions.install_json_not_found`)."""
    return scope['path'] == LOGIN_PATH


class SignInMiddleware:
    """Pure ASGI (no ``BaseHTTPMiddleware``: it may not sit between the body cap and the routes)."""

    def __init__(self, app: ASGIApp, gate: TokenGate, session_seconds: int, own_origins: Collection[str]) -> None:
        """``own_origins``: the ``Origin`` values of flowmon's own pages (those the socket.io handshake accepts)."""
        self.app = app
        self.gate = gate
        self.session_seconds = session_seconds
        self.own_origins = frozenset(own_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        response = await self._respond(scope, receive)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Response | None:
        """The middleware's own answer, or ``None`` to let the request through."""
        path, method = scope['path'], scope['method']
        acts = method not in ('GET', 'HEAD') and (path in (LOGIN_PATH, LOGOUT_PATH) or not is_open_path(path))
        if acts and self._from_another_site(scope):
            return PlainTextResponse("refused: this form was sent from another site's page", status_code=403)
        if path == LOGIN_PATH and method == 'POST':
            return await self._login_form(scope, receive)
        if path == LOGOUT_PATH and method == 'POST':
            await start_new_session(scope)
            return RedirectResponse(LOGIN_PATH, status_code=303)
        if is_open_path(path):
            return None
        query = parse_qsl(scope['query_string'].decode('latin-1'), keep_blank_values=True)
        presented = [value for key, value in query if key == TOKEN_PARAM]
        if presented:
            if self._from_another_site(scope) and (_embedded(scope) or header(scope, b'sec-fetch-user') != b'?1'):
                # (embedded in another site's page, or opened by its script rather than by a person's click)
                return PlainTextResponse("refused: a sign-in link opened by another site's page", status_code=403)
            rest = [(key, value) for key, value in query if key != TOKEN_PARAM]
            return await self._sign_in(scope, presented[-1], _target(scope, urlencode(rest)))
        if is_signed_in(self.gate.token):
            return None
        if method not in {'GET', 'HEAD'}:
            return PlainTextResponse('sign in first: open /login', status_code=401)
        return RedirectResponse(login_url(_target(scope, scope['query_string'].decode('latin-1'))), status_code=303)

    async def _login_form(self, scope: Scope, receive: Receive) -> Response:
        body = await _read_form(receive, scope)
        if body is None:
            return PlainTextResponse(f'the sign-in form is larger than {MAX_FORM_BYTES} bytes', status_code=413)
        fields = dict(parse_qsl(body.decode('latin-1'), keep_blank_values=True))
        return await self._sign_in(scope, fields.get('token', ''), fields.get('redirect_to', '/'))

    async def _sign_in(self, scope: Scope, presented: str, target: str) -> Response:
        if not presented:  # an empty form is no guess: nothing to check or count
            return RedirectResponse(login_url(target, error='missing'), status_code=303)
        verdict = self.gate.check(presented, scope)
        if verdict.outcome is Outcome.LIMITED:
            return too_many_failures(verdict, json=False)
        if verdict.outcome is Outcome.REFUSED:
            return RedirectResponse(login_url(target, error='token'), status_code=303)
        await start_new_session(scope)
        app.storage.user.update({SESSION_KEY: fingerprint(self.gate.token), EXPIRES_KEY: self._expiry()})
        return RedirectResponse(safe_redirect(target), status_code=303)

    def _expiry(self) -> float:
        return time.time() + self.session_seconds

    def _from_another_site(self, scope: Scope) -> bool:
        return from_another_site(scope, self.own_origins)  # (the same decision that gives such a request no session)


def _embedded(scope: Scope) -> bool:
    """A request for something inside a page (an image, a frame, a fetch), not for a page to show."""
    dest = header(scope, b'sec-fetch-dest')
    return dest is not None and dest != b'document'


def _target(scope: Scope, query: str) -> str:
    """The requested page as a local URL (the raw, still-encoded path), for redirects back to it."""
    raw = scope.get('raw_path') or scope['path'].encode()
    path = raw.decode('latin-1').split('?', 1)[0]
    return path + (f'?{query}' if query else '')


async def _read_form(receive: Receive, scope: Scope) -> bytes | None:
    """The request body, or ``None`` once it is over :data:`MAX_FORM_BYTES` (declared or streamed)."""
    for key, value in scope['headers']:
        if key == b'content-length' and (not value.isdigit() or int(value) > MAX_FORM_BYTES):
            return None
    body = bytearray()
    while True:
        message = await receive()
        body.extend(message.get('body', b''))
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get('more_body', False):
            return bytes(body)
