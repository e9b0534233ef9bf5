"""The NiceGUI web app: one root page (header + routed frame) and one routes table for every page.

Every page module has ``create(application, **path_and_query_params)``: pages get the application layer
(:class:`~flowmon.application.Application`) and hold view state only. Adding a page is one line in
:data:`ROUTES` (query parameters arrive as keyword arguments of the same name, as strings).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from nicegui import Client, app, ui
from nicegui import app as nicegui_app

from flowmon.application import Application
from flowmon.web.shell import Shell

from .auth import is_signed_in
from .format import TIMEZONE_KEY, remember_timezone
from .pages import (
    compare,
    dashboard,
    delivery,
    execution,
    executions,
    login,
    replay,
    secrets,
    webhooks,
    workflow,
    workflow_editor,
    workflows,
)
from .routing import GuardedSubPages, with_error_panel
from .socket_text import keep_lone_surrogates
from .style import CSS, layered
from .tailwind import tailwind_css
from .teardown import release_on_delete
from .theme import PRIMARY
from .unconnected_pages import UnconnectedPages
from .widgets.dag_edges import CSS as EDGE_CSS
from .widgets.dag_viewport import CSS as VIEWPORT_CSS
from .widgets.event_log import CSS as EVENT_LOG_CSS

PageBuilder = Callable[..., Any]

ROUTES: dict[str, PageBuilder] = {
    '/': dashboard.create,
    '/login': login.create,
    '/workflows': workflows.create,
    '/workflows/new': workflow_editor.create_new,  # before the pattern below, which would take 'new' for an id
    '/workflows/{workflow_id}': workflow.create,
    '/workflows/{workflow_id}/edit': workflow_editor.create,
    '/executions': executions.create,
    '/executions/{execution_id}': execution.create,
    '/executions/{execution_id}/replay': replay.create,
    '/compare': compare.create,
    '/webhooks': webhooks.create,
    '/webhooks/deliveries/{delivery_id}': delivery.create,
    '/secrets': secrets.create,
}

SESSION_CHECK_INTERVAL = 2.0  # a browser signed out in another tab loses this one's page within this time


def app_css() -> str:
    """The style sheet every page shares."""
    return layered(CSS + EVENT_LOG_CSS + EDGE_CSS + VIEWPORT_CSS)


def install_web() -> None:
    """Web-wide set-up, before ``ui.run``: the primary colour and the shared CSS. The sign-in middleware
    (:class:`~flowmon.web.sign_in.SignInMiddleware`) is placed in the stack by :mod:`flowmon.perimeter`."""
    nicegui_app.colors(primary=PRIMARY)
    ui.add_css(tailwind_css(), shared=True)  # ui.run(tailwind=False): Tailwind's classes compiled ahead of time
    ui.add_css(app_css(), shared=True)
    nicegui_app.on_delete(release_on_delete)  # a closed page's objects are freed at once, not by a full collection
    keep_lone_surrogates()  # a field's value holding one reaches its handler, which refuses it by name


def build_root(application: Application, *, max_unconnected_pages: int) -> Callable[[], None]:
    """The root page builder handed to ``ui.run``: the shell and the guarded routed frame. Every page load, for any
    path, is built by it; of the pages whose browser has not connected yet, the newest ``max_unconnected_pages`` are
    kept (:mod:`~flowmon.web.unconnected_pages`)."""
    routes = {path: with_error_panel(partial(create, application)) for path, create in ROUTES.items()}
    token = application.token
    unconnected = UnconnectedPages(max_unconnected_pages)

    def root() -> None:
        client = ui.context.client
        unconnected.admit(client)
        shell = Shell(application)
        frame = GuardedSubPages(routes, token=token, on_auth_checked=shell.set_signed_in).classes('fm-frame')

        def check_session() -> None:
            if shell.signed_in and not is_signed_in(token):
                frame.refresh()  # re-render: the frame now shows the sign-in form instead of data

        ui.timer(SESSION_CHECK_INTERVAL, check_session)
        client.on_connect(lambda: _learn_timezone(client, token))

    return root


async def _learn_timezone(client: Client, token: str) -> None:
    """Ask a signed-in browser for its time zone once, so times show in the viewer's zone from the next page on.
    Visitors who never signed in get nothing stored."""
    if not is_signed_in(token) or app.storage.user.get(TIMEZONE_KEY):
        return
    try:
        name = await client.run_javascript('Intl.DateTimeFormat().resolvedOptions().timeZone', timeout=3.0)
    except TimeoutError:
        return
    remember_timezone(name)


__all__ = ['ROUTES', 'build_root', 'install_web']
