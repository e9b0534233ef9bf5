"""The browser session's sign-in flag, and where a browser may be sent after signing in.

A signed-in browser's NiceGUI user storage holds a fingerprint of the token (not a boolean: starting flowmon
with a new token signs every browser out) and the time the sign-in expires (``FLOWMON_SESSION_HOURS``), so an
open page loses its data at expiry even though its websocket never shows the cookie again. Signing in and out
happens only over HTTP (:mod:`flowmon.web.sign_in`), where the session id can be replaced; this module only
reads the flag, which pages and handlers do on every render and action.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote, unquote, urlencode

from nicegui import app

SESSION_KEY = 'flowmon_auth'
EXPIRES_KEY = 'flowmon_auth_expires'
TOKEN_PARAM = 'token'
LOGIN_PATH = '/login'
LOGOUT_PATH = '/logout'

# A local path with an optional query, in URL syntax (RFC 3986 characters only: no spaces, tabs, newlines,
# backslashes or other controls), whose first segment is not empty (so never "//host").
_CHAR = r"[A-Za-z0-9\-._~!$&'()*+,;=:@%]"
_LOCAL_TARGET = re.compile(rf'/(?:{_CHAR}+(?:/{_CHAR}*)*)?(?:\?(?:{_CHAR}|[/?])*)?')
_TARGET_SAFE_CHARS = "/?&=:@!$'()*+,;~-._%"
MAX_TARGET_LENGTH = 2000


def fingerprint(token: str) -> str:
    """What the session keeps instead of the token itself."""
    return hmac.new(token.encode(), b'flowmon browser session', hashlib.sha256).hexdigest()[:32]


def is_signed_in(token: str) -> bool:
    """Whether the current browser (request or websocket context) is signed in with ``token`` and not expired."""
    try:
        storage = app.storage.user
        stored, expires = storage.get(SESSION_KEY), storage.get(EXPIRES_KEY)
    except (RuntimeError, AssertionError, KeyError):  # no request context or no storage: nobody is signed in
        return False
    if not isinstance(expires, (int, float)) or expires <= time.time():
        return False
    return isinstance(stored, str) and hmac.compare_digest(stored, fingerprint(token))


def safe_redirect(target: str | None) -> str:
    """``target`` if it is a path on this site (never another host, never back to the login page), else ``/``.

    An allow-list, not a list of known tricks: only RFC 3986 path and query characters, a non-empty first
    segment, no dot segments, and nothing that decodes to a second slash, a backslash or a control character.
    Browsers drop tabs and newlines and read backslashes as slashes, so anything else could become ``//host``.
    """
    if not target or len(target) > MAX_TARGET_LENGTH or not _LOCAL_TARGET.fullmatch(target):
        return '/'
    path = target.split('?', 1)[0]
    decoded = unquote(target)
    if decoded.startswith('//') or '\\' in decoded or any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return '/'
    if any(segment in {'.', '..'} for segment in unquote(path).split('/')):
        return '/'
    if path in {LOGIN_PATH, LOGOUT_PATH}:
        return '/'
    return target


def as_target(path: str) -> str:
    """A page path as shown by the router (decoded) in URL syntax, for :func:`safe_redirect`."""
    return quote(path, safe=_TARGET_SAFE_CHARS)


def login_url(redirect_to: str, *, error: str | None = None) -> str:
    params = {'redirect_to': safe_redirect(redirect_to)}
    if error:
        params['error'] = error
    return f'{LOGIN_PATH}?{urlencode(params, quote_via=quote)}'


__all__ = [
    'EXPIRES_KEY',
    'LOGIN_PATH',
    'LOGOUT_PATH',
    'SESSION_KEY',
    'as_target',
    'fingerprint',
    'is_signed_in',
    'login_url',
    'safe_redirect',
]
