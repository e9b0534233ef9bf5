"""The browser session: its cookie, a new id on every sign-in and sign-out, and no storage for API callers.

NiceGUI keys each browser's server-side user storage by ``request.session['id']``, a random id in a cookie
signed with the storage secret. Two things are adjusted here:

- **Fixation.** A browser keeps the id it arrived with, and cookies are shared across the ports of one host, so
  another app on 127.0.0.1 could plant an id that later becomes signed in. :func:`start_new_session` replaces
  the id; it must run in HTTP code before the response starts (after that the cookie cannot change).
- **Per-visitor state.** NiceGUI creates a storage entry and sets a cookie for every request without one; for
  ``/api/``, ``/hooks/`` and ``/metrics`` callers (scripts, senders) that is memory spent on nobody. They get neither.
  An unknown path there gets a JSON 404 (:func:`install_json_not_found`), not NiceGUI's error page: that page is a
  client, and a client without a session id breaks NiceGUI's storage pruning (a ``KeyError: 'id'`` every minute
  while it lives).
- **Another site's forms.** A form that a page on another site posts to flowmon arrives without the cookie (it is
  ``SameSite=Lax``); a new session's cookie in the answer would replace the visitor's and sign them out. Such a request
  (:func:`from_another_site` says so) gets no session either, and the sign-in middleware refuses it.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import nicegui.storage as ng_storage
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from nicegui import app
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from .bearer_first import METRICS_PATH

SESSION_COOKIE = 'flowmon_session'
STATELESS_PREFIXES = ('/api/', '/hooks/', '/_docs/')
STATELESS_PATHS = frozenset({'/docs', '/openapi.json', METRICS_PATH})
NICEGUI_PREFIX = '/_nicegui'  # NiceGUI's assets and socket

log = logging.getLogger(__name__)


def session_middleware_options(*, seconds: int, https: bool) -> dict[str, Any]:
    """``ui.run(session_middleware_kwargs=...)``: the cookie's name, lifetime and flags."""
    return {'session_cookie': SESSION_COOKIE, 'max_age': seconds, 'same_site': 'lax', 'https_only': https}


class NoStorageForApi(ng_storage.RequestTrackingMiddleware):
    """NiceGUI's request tracking, skipped for paths that never show a page (no storage entry, no cookie).

    Pages and ``/_nicegui_ws`` keep it: NiceGUI prunes storage by reading each client's session id.
    """

    own_origins: frozenset[str] = frozenset()  # flowmon's own pages' origins (set by install_storage_policy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and (
            is_stateless(scope['path']) or posted_from_another_site(scope, NoStorageForApi.own_origins)
        ):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of the request header ``name`` (lower case)."""
    for key, value in scope['headers']:
        if key == name:
            return bytes(value)
    return None


def from_another_site(scope: Scope, own_origins: Collection[str]) -> bool:
    """Whether the browser says a page that is not flowmon's made the request: its fetch metadata
    (``Sec-Fetch-Site``), else its ``Origin`` against ``own_origins`` ("null", which flowmon's own no-referrer pages
    send too, says nothing). A client that says nothing, such as a script, is taken at its word: it acts for itself,
    not for a visitor."""
    site = header(scope, b'sec-fetch-site')
    if site is not None:
        return site not in (b'same-origin', b'none')
    origin = header(scope, b'origin')
    return (
        bool(own_origins) and origin is not None and origin != b'null' and origin.decode('latin-1') not in own_origins
    )


def posted_from_another_site(scope: Scope, own_origins: Collection[str]) -> bool:
    """A request other than GET or HEAD that, by :func:`from_another_site`, a page of another origin made."""
    return scope['method'] not in ('GET', 'HEAD') and from_another_site(scope, own_origins)


def is_stateless(path: str) -> bool:
    """Whether ``path`` serves no page, so a visitor there needs no session."""
    return path in STATELESS_PATHS or path.startswith(STATELESS_PREFIXES)


def install_json_not_found(fastapi_app: FastAPI) -> None:
    """A 404 on a stateless path, or on a path of NiceGUI's own (``/_nicegui...``: an asset or socket address that
    matches nothing), is JSON, answered by the app's handler of HTTP exceptions (the API's names the missing route:
    ``{"detail": "no API route at /api/..."}``); elsewhere NiceGUI's own handler shows its page. (NiceGUI's page
    is the whole shell, built for whoever asks: an asset path asked for by no page needs none of it.)"""
    page_not_found = fastapi_app.exception_handlers.get(404)

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if page_not_found is None or is_stateless(path) or path.startswith(NICEGUI_PREFIX):
            assert isinstance(exc, HTTPException)
            answer = fastapi_app.exception_handlers.get(HTTPException, http_exception_handler)
            response = answer(request, exc)
            return await response if inspect.isawaitable(response) else response
        page = page_not_found(request, exc)
        return await page if inspect.isawaitable(page) else page

    fastapi_app.add_exception_handler(404, not_found)


def install_storage_policy(storage_dir: Path, own_origins: Collection[str] = ()) -> None:
    """Before ``ui.run``: user storage files under ``storage_dir``, none for API callers nor for what another site's
    page posts (``own_origins``: the origins of flowmon's own pages).

    NiceGUI looks the request-tracking class up by name when the server starts, so replacing it here is enough.
    """
    ng_storage.Storage.path = storage_dir
    NoStorageForApi.own_origins = frozenset(own_origins)
    if not issubclass(ng_storage.RequestTrackingMiddleware, NoStorageForApi):
        ng_storage.RequestTrackingMiddleware = NoStorageForApi  # type: ignore[misc]


async def start_new_session(scope: Scope) -> None:
    """Forget the browser's current session (its stored data too) and give it a fresh random id.

    The caller writes the new session's data through ``app.storage.user``, which now resolves to the new id.
    """
    session = scope['session']
    users = app.storage._users  # NiceGUI 3.18 has no public API for this
    old_id = session.get('id')
    if isinstance(old_id, str):
        if old_id not in users:  # pruned from memory, perhaps still on disk
            await app.storage._create_user_storage(old_id)
        users[old_id].clear()  # an emptied storage file is deleted
    new_id = str(uuid.uuid4())
    session.clear()
    session['id'] = new_id
    await app.storage._create_user_storage(new_id)


def remove_expired_storage(storage_dir: Path, max_age_seconds: float, now: float | None = None) -> int:
    """Delete user storage files untouched for longer than a session lives (their sign-in has expired)."""
    now = time.time() if now is None else now
    removed = 0
    for path in storage_dir.glob(f'storage-{ng_storage.USER_PREFIX}*.json'):
        try:
            if path.stat().st_mtime < now - max_age_seconds:
                path.unlink()
                removed += 1
        except OSError as exc:
            log.warning('could not remove expired session storage %s: %s', path.name, exc)
    return removed
