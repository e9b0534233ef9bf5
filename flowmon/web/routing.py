"""The routed frame of the single-page app: ``ui.sub_pages`` that refuses to render a page without sign-in.

Sub-page navigation happens over the websocket, so the HTTP middleware never sees it; this frame checks
the session before every render and shows the sign-in form instead of the page. It also tells the shell
whether the visitor is signed in, so the header shows navigation only to those who may use it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui
from nicegui.page_arguments import RouteMatch

from .auth import LOGIN_PATH, as_target, is_signed_in
from .pages import login

PUBLIC_ROUTES = frozenset({LOGIN_PATH})

log = logging.getLogger(__name__)


def with_error_panel(builder: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an async page builder so that a failure shows a message instead of a blank page.

    NiceGUI renders the error of a synchronous builder itself (see :meth:`GuardedSubPages._render_error`)
    but an async builder fails in a background task, after the frame was cleared. Synchronous builders
    are returned unchanged; the wrapper keeps the builder's signature, which routing reads.
    """
    if not inspect.iscoroutinefunction(builder):
        return builder

    @functools.wraps(builder)
    async def page(*args: Any, **kwargs: Any) -> None:
        try:
            await builder(*args, **kwargs)
        except Exception:
            log.exception('page %s could not be built', ui.context.client.sub_pages_router.current_path)
            _error_panel()

    return page


def _error_panel() -> None:
    with ui.column().classes('w-full items-center gap-2 py-16').mark('page-error'):
        ui.icon('report', size='3rem').classes('text-negative')
        ui.label('This page could not be loaded').classes('text-xl font-medium')
        ui.label('The server log has the details. Reload to try again.').classes('text-grey-7')


class GuardedSubPages(ui.sub_pages):
    """``ui.sub_pages`` whose protected routes render only for a signed-in browser."""

    def __init__(
        self,
        routes: Mapping[str, Callable[..., Any]],
        *,
        token: str,
        on_auth_checked: Callable[[bool], None] | None = None,
    ) -> None:
        self._token = token
        self._on_auth_checked = on_auth_checked
        self._showing_sign_in = False
        super().__init__(dict(routes))

    def _show(self) -> None:
        if self._showing_sign_in:
            self._reset_match()  # after signing in, the same path must render the real page
        super()._show()

    def _render_page(self, match: RouteMatch) -> bool:
        signed_in = is_signed_in(self._token)
        if self._on_auth_checked is not None:
            self._on_auth_checked(signed_in)
        self._showing_sign_in = not signed_in and match.pattern not in PUBLIC_ROUTES
        if self._showing_sign_in:
            login.render_form(redirect_to=as_target(self._router.current_path))
            return True
        return super()._render_page(match)

    def _find_matching_path(self) -> RouteMatch | None:
        # A route matches the whole path or not at all: '/' would otherwise match the first segment of any unknown
        # path, and its page would be built (a builder task that outlives the frame's clearing) under the 404.
        match = super()._find_matching_path()
        return None if match is not None and match.remaining_path else match

    def _set_match(self, match: RouteMatch | None) -> None:
        if match is None:
            self._cancel_active_tasks()  # a page still being built must not add itself to the not-found message
        super()._set_match(match)

    def _render_error(self, _: Exception) -> None:
        log.error('sub page %s produced an error', self._router.current_path, exc_info=True)
        _error_panel()

    def _render_404(self) -> None:
        # No route ran, so nobody has checked the session yet: a stranger gets the sign-in form (as on any guarded
        # page, after which the same path shows this message), a signed-in visitor the header's navigation.
        signed_in = is_signed_in(self._token)
        if self._on_auth_checked is not None:
            self._on_auth_checked(signed_in)
        self._showing_sign_in = not signed_in
        if not signed_in:
            login.render_form(redirect_to=as_target(self._router.current_path))
            return
        _not_found_panel(self._router.current_path)


def _not_found_panel(path: str) -> None:
    """What a signed-in visitor sees at a path no page lives at: the path (as text) and the ways on."""
    with ui.column().classes('w-full items-center gap-2 py-16 px-4').props('data-testid=not-found').mark('not-found'):
        ui.icon('travel_explore', size='3rem').classes('text-grey-6')
        ui.label('Page not found').classes('text-xl font-medium')
        ui.label(f'Nothing lives at {path}.').classes('text-grey-7 text-center break-all').mark('not-found-path')
        ui.label('The link may be mistyped or out of date.').classes('text-grey-7 text-center')
        with ui.row().classes('items-center gap-4 mt-2'):
            ui.link('Executions', '/executions').classes('fm-link').mark('not-found-executions')
            ui.link('Dashboard & workflows', '/').classes('fm-link').mark('not-found-workflows')
