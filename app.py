"""flowmon's entry point: read settings, build the system (:mod:`flowmon.bootstrap`), install the API and the
pages on the application layer, serve.

Nothing starts at import time: the system starts in ``app.on_startup`` and stops in ``app.on_shutdown``. The
module body imports only what is cheap: each process of the local worker pool runs this file again as
``__mp_main__`` (multiprocessing's forkserver and spawn do), so flowmon's own imports happen in :func:`main`, and
only ``python app.py`` (``__name__ == '__main__'``) calls it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowmon.bootstrap import System
    from flowmon.settings import Settings

STOP_POLL_SECONDS = 0.2  # how soon open event streams end once the server is asked to stop
STOP_GRACE_SECONDS = 5  # how long a stop waits for requests still being answered before it cancels them
PAGE_KEPT_SECONDS = 20.0  # how long a page's client waits for its socket to come back before it is let go
PING_INTERVAL_SECONDS = 8.0  # how often the server pings each page's socket
PING_TIMEOUT_SECONDS = 4.0  # and how soon it gives up on a socket that did not answer


def main() -> None:
    gc.disable()  # until the imports are done: see _freeze_imports
    from flowmon.infra import logredact, logs
    from flowmon.infra.private_files import PRIVATE_UMASK, make_private
    from flowmon.settings import SettingsError, load_settings, resolve_secret
    from flowmon.store.keys import DataDirBusy, SecretKeyError, hold_data_dir, load_secret_box

    # the settings are checked before the rest is imported: a start they stop says why in a third of the time
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f'flowmon: invalid configuration: {exc}', file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.log_level, settings.log_format)

    from flowmon.infra.unused_parts import without_unused_parts

    with without_unused_parts():  # socket.io's client side and httpx's command line: half a second of every start
        from nicegui import app, ui
        from starlette.middleware import Middleware

        from flowmon.api import install_api
        from flowmon.api.docs import install_docs
        from flowmon.bootstrap import System
        from flowmon.engine.nodes import PluginError
        from flowmon.perimeter import Pages, Perimeter, socket_origins
        from flowmon.web import build_root, install_web
        from flowmon.web.auth import is_signed_in
        from flowmon.web.sign_in import SignInMiddleware, is_page_load

    _freeze_imports()

    # every file and directory flowmon creates is the user's alone (from here: the imports above may write Python's
    # bytecode caches, which every user of the installation reads)
    os.umask(PRIVATE_UMASK)
    try:
        make_private(settings.data_dir)
    except OSError as exc:  # a path through a file, a directory flowmon may not write
        print(f'flowmon: FLOWMON_DATA_DIR: cannot use {settings.data_dir}: {exc.strerror or exc}', file=sys.stderr)
        raise SystemExit(2) from None
    try:
        hold_data_dir(settings.data_dir)  # maintenance commands (rotate-secret-key) refuse while it is held
        box = load_secret_box(settings)
    except (DataDirBusy, SecretKeyError) as exc:
        print(f'flowmon: {exc}', file=sys.stderr)
        raise SystemExit(2) from None
    token = resolve_secret(settings.data_dir, '.token', _secret(settings.token))
    storage_secret = resolve_secret(settings.data_dir, '.storage_secret', _secret(settings.storage_secret))

    try:
        system = System.build(settings, token=token, box=box)
    except PluginError as exc:  # two packages offer one node type name, or one does not load
        print(f'flowmon: {exc}', file=sys.stderr)
        raise SystemExit(2) from None
    logredact.install(lambda: (token, *system.secrets.values()))  # nor the token, nor a named secret's value
    perimeter = Perimeter(settings, token)
    install_api(app, system.application, metrics=system.prometheus.render, metrics_public=settings.metrics_public)
    install_docs(app)
    install_web()
    sign_in = Middleware(
        SignInMiddleware,
        gate=perimeter.gate,
        session_seconds=settings.session_seconds,
        own_origins=socket_origins(settings),
    )
    perimeter.install(app, sign_in, Pages(is_page=is_page_load, signed_in=lambda: is_signed_in(token)))
    perimeter.warn_if_exposed()
    failures: list[str] = []
    app.on_startup(lambda: logredact.install())  # uvicorn has set up its loggers by now
    app.on_startup(_keep_pings_short)
    app.on_startup(lambda: _start(system, failures))
    app.on_startup(lambda: _announce(settings, token))
    app.on_startup(lambda: _freeze_startup_objects(system))
    app.on_startup(lambda: _end_streams_at_exit(system))
    app.on_shutdown(system.stop)

    ui.run(
        build_root(system.application, max_unconnected_pages=settings.max_unconnected_pages),
        host=settings.host,
        port=settings.port,
        title='flowmon',
        tailwind=False,  # no compiler in the browser: flowmon.web.tailwind's sheet instead
        storage_secret=storage_secret,
        reload=False,
        show=False,
        fastapi_docs=False,
        # a page keeps its client through 20 s without its socket (a laptop's busy browser, a network blip),
        # and the messages sent meanwhile are sent again: a page that reloads instead loses the reader's place
        # (the log's scroll, the open inspector, filters). The ping stays shorter than NiceGUI derives from this
        # (see _keep_pings_short); what may be sent again is kept for at most 32 s (ping, answer and this) and
        # 1000 messages, and what the page has acknowledged (every 3 s) is dropped
        reconnect_timeout=PAGE_KEPT_SECONDS,
        message_history_length=1000,
        show_welcome_message=False,
        log_config=None,  # uvicorn's loggers keep no handlers: their lines reach flowmon's (infra/logs.py)
        uvicorn_logging_level=settings.log_level.lower(),  # the server's start and stop lines, at flowmon's level
        access_log=False,  # but not a line per request
        timeout_graceful_shutdown=STOP_GRACE_SECONDS,
        **perimeter.run_options(),
    )
    if failures:
        raise SystemExit(2)


async def _start(system: System, failures: list[str]) -> None:
    """Start the system; a database that cannot be opened (a server that does not answer, a refused password), whose
    secrets the key cannot open, or whose schema this flowmon cannot upgrade (a revision from a newer flowmon), stops
    flowmon with one line (``DatabaseUnreachable`` is a ``SchemaError``)."""
    from nicegui import app

    from flowmon.store.migrate import SchemaError
    from flowmon.store.sealed import UnknownSecretKey

    try:
        await system.start()
    except (UnknownSecretKey, SchemaError) as exc:
        print(f'flowmon: {exc}', file=sys.stderr, flush=True)
        failures.append(str(exc))
        app.shutdown()


def _keep_pings_short() -> None:
    """NiceGUI derives its ping from the time a page is kept (0.8 and 0.4 of it); flowmon keeps a page twice as long
    as it pings for. A socket the server gave up on (a browser too busy to answer its ping in 4 s) is noticed by the
    browser only when the next ping does not come, up to 12 s after the last (8 + 4): the page must still be kept
    then, with time to spare for a loaded machine to reconnect. With both derived from 10 s, the server let a page go
    14 s after the unanswered ping, and a browser on a busy machine came back later than that and reloaded. (NiceGUI
    sets the ping when it starts, before the start-up handlers run.)"""
    from nicegui import core

    core.sio.eio.ping_interval = PING_INTERVAL_SECONDS
    core.sio.eio.ping_timeout = PING_TIMEOUT_SECONDS


def _secret(value: object) -> str | None:
    getter = getattr(value, 'get_secret_value', None)
    return getter() if getter else None


def _freeze_imports() -> None:
    """The imports build some 180,000 objects that live as long as the process: collected as they came, the
    collector walked them again and again (400 collections, 0.3 to 0.5 s of CPU at every start). They are moved out
    of the collector's sight at once, without a collection first: it took 130-160 ms of each start to free about
    2,200 objects the imports left unreachable (about 600 kB), which stay."""
    gc.freeze()
    gc.enable()


async def _freeze_startup_objects(system: System) -> None:
    """Once started, move everything built so far (modules, the app, the system) out of the garbage
    collector's sight: about 130,000 objects that live as long as the process, and that every full collection
    walked again (55 ms each here; with twenty tabs open the pauses reached 270 ms)."""
    await system.application.wait_ready()
    gc.collect()
    gc.freeze()


async def _end_streams_at_exit(system: System) -> None:
    """uvicorn waits for every open response to finish before it runs the shutdown handlers, and an event stream
    (``/api/events/stream``) does not finish by itself: end them all as soon as the server is asked to stop."""
    import asyncio

    from nicegui.server import Server

    server = getattr(Server, 'instance', None)
    if server is None:  # the user simulation of the tests runs no server
        return
    while not server.should_exit:
        await asyncio.sleep(STOP_POLL_SECONDS)
    system.application.streams.close_all()


def _announce(settings: Settings, token: str) -> None:
    if settings.log_format == 'json':  # stdout goes to a log collector: no token there
        where = 'FLOWMON_TOKEN' if settings.token else settings.data_dir / '.token'
        logging.getLogger('flowmon').info(
            'flowmon is running at %s; the access token is in %s', settings.browse_url, where
        )
        return
    print(f'flowmon is running. Open {settings.browse_url}/?token={token}', flush=True)


if __name__ == '__main__':  # not as '__mp_main__', in a worker process
    main()
