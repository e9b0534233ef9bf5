"""The HTTP perimeter: everything a request passes before a route or page sees it.

:class:`Perimeter` owns the middleware stack and its order. NiceGUI's own layers (session, request tracking,
cache control, gzip) are outermost; flowmon's run inside them, outermost first::

    SecurityHeaders > TrustedHost > BearerFirst > NulGuard > AnonymousPageBudget > page guard (sign-in) > BodyCap
    > HeadAsGet > routes

Before any of them, the server's HTTP protocol (:class:`~flowmon.perimeter.head_limits.BoundedHead`, given to
``ui.run`` by :meth:`Perimeter.run_options`) bounds each request's target (414) and head (431).

One layer wraps even NiceGUI's: :class:`~flowmon.perimeter.stalled_streams.StalledStreams` cuts off an event-stream
client that stops reading (a stalled write is out of reach of every layer inside NiceGUI's ``BaseHTTPMiddleware``).

so every answer (even a 400 for a foreign ``Host``, a 401 or a 413) carries the security headers, a foreign
``Host`` is refused before anything else runs, an API caller without the token is refused before its body is
read, a NUL character in a path, query or header is refused once for every route (after the token), an
address that loads pages too fast without signing in gets 429 before a page is built, a
body cap error reaches FastAPI as a plain 413 (no ``BaseHTTPMiddleware`` between the cap and the
routes), and ``HEAD`` on an API route is answered as its ``GET`` after every check the ``GET`` passes.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from nicegui import core
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from flowmon.application.exchange import MAX_IMPORT_BYTES
from flowmon.settings import Settings, public_origin

from .bearer_first import API_PREFIX, METRICS_PATH, BearerFirst
from .body_cap import BodyCap
from .head_as_get import HeadAsGet
from .head_limits import BoundedHead
from .nul_guard import NulGuard
from .page_budget import AnonymousPageBudget, PageBudget, Pages
from .security_headers import SecurityHeaders
from .sessions import install_json_not_found, install_storage_policy, remove_expired_storage, session_middleware_options
from .stalled_streams import wrap_whole_stack
from .token_gate import TokenGate

LARGE_BODY_BYTES = MAX_IMPORT_BYTES  # an export file, imported by the API or uploaded from the executions page
LARGE_BODY_PATHS = ('/api/executions/import', '/_nicegui/client/')  # the import route and NiceGUI's uploads
OPEN_API_PATHS = frozenset({'/api/health'})

log = logging.getLogger(__name__)


class Perimeter:
    """Built from the settings and the token; installed once, before ``ui.run``."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.settings = settings
        self.gate = TokenGate(token)

    def install(self, app: FastAPI, page_guard: Middleware, pages: Pages) -> None:
        """Add the middlewares in order (the last added runs first) and restrict socket.io to our origins.

        ``pages``: what the page guard knows (which requests load a page, whether the request's browser is signed
        in), for the budget of page loads without a session that runs before it."""
        settings = self.settings
        storage_dir = settings.data_dir / 'storage'
        install_storage_policy(storage_dir, socket_origins(settings))
        install_json_not_found(app)
        remove_expired_storage(storage_dir, settings.session_seconds)
        large = max(LARGE_BODY_BYTES, settings.max_body_bytes)
        app.add_middleware(HeadAsGet, routes=app.router.routes, prefix=API_PREFIX, paths=(METRICS_PATH,))
        app.add_middleware(
            BodyCap, default=settings.max_body_bytes, overrides=[(path, large) for path in LARGE_BODY_PATHS]
        )
        app.add_middleware(page_guard.cls, *page_guard.args, **page_guard.kwargs)
        if settings.anonymous_pages_per_minute:
            budget = PageBudget(settings.anonymous_pages_per_minute)
            app.add_middleware(AnonymousPageBudget, budget=budget, is_page=pages.is_page, signed_in=pages.signed_in)
        app.add_middleware(NulGuard)
        guarded = () if settings.metrics_public else (METRICS_PATH,)
        app.add_middleware(BearerFirst, gate=self.gate, open_paths=OPEN_API_PATHS, guarded_paths=guarded)
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_list)
        app.add_middleware(SecurityHeaders)
        wrap_whole_stack(app, stall_seconds=settings.stream_stall_seconds)
        core.sio.eio.cors_allowed_origins = socket_origins(settings)
        # engine.io logs its first refusal of an origin at ERROR (then INFO): a refused request is no server error
        core.sio.eio.log_message_keys.add('bad-origin')

    def run_options(self) -> dict[str, Any]:
        """``ui.run`` keyword arguments: the session cookie, forwarded headers only from trusted proxies, and the
        HTTP protocol that bounds each request's line and headers."""
        settings = self.settings
        options: dict[str, Any] = {
            'session_middleware_kwargs': session_middleware_options(
                seconds=settings.session_seconds, https=settings.public_url.startswith('https://')
            ),
            'proxy_headers': bool(settings.trusted_proxy_list),
            'http': BoundedHead,
        }
        if settings.trusted_proxy_list:
            options['forwarded_allow_ips'] = settings.trusted_proxy_list
        return options

    def warn_if_exposed(self) -> None:
        """One warning line when flowmon listens beyond this machine."""
        settings = self.settings
        if not settings.host_is_loopback:
            log.warning(
                'FLOWMON_HOST=%s makes flowmon reachable from other machines over plain HTTP: the token and the '
                'session cookie cross the network unencrypted. Put a TLS reverse proxy in front and set '
                'FLOWMON_PUBLIC_URL, or listen on 127.0.0.1.',
                settings.host,
            )


def socket_origins(settings: Settings) -> list[str]:
    """The ``Origin`` values the socket.io handshake accepts: each allowed host on our port, and the public URL."""
    port = settings.port
    origins: list[str] = []
    for host in settings.allowed_host_list:
        if '*' in host:
            continue  # a pattern names no single origin
        origins.append(f'http://{host}:{port}')
        if port == 80:
            origins.append(f'http://{host}')
    if settings.public_url:
        origins.append(public_origin(settings.public_url))
    return list(dict.fromkeys(origins))


__all__ = ['Pages', 'Perimeter', 'TokenGate', 'socket_origins']
