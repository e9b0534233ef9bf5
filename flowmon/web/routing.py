"""The routed frame of the single-page app: ``ui.sub_pages`` that refuses to render a page without sign-in.

Sub-page navigation happens over the websocket, so the HTTP middleware never sees it; this frame checks
the session before every render and shows the sign-in form instead of the page. It also tells the shell
whether the visitor is signed in, so the header shows navigation only to those who may use it.

Going to another page within the app (the header, a link, the browser's back and forward buttons) unloads nothing,
so the browser's own question (:class:`~flowmon.web.widgets.leave_guard.LeaveGuard`) never comes: while the page
shown has an armed guard, the frame asks instead; the address and the header stay on (or go back to) that page.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import background_tasks, ui
from nicegui.page_arguments import RouteMatch

from flowmon.engine.core.payload_values import bounded_text, unstorable

from .auth import LOGIN_PATH, as_target, is_signed_in
from .pages import login
from .widgets.leave_guard import LeaveGuard, confirm_leave

PUBLIC_ROUTES = frozenset({LOGIN_PATH})
MAX_PATH_SHOWN = 500  # characters of a path the not-found message repeats

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
        self._shown_path: str | None = None  # the path of what the frame shows
        self._asking = False  # whether the visitor is being asked to leave edits not saved
        self._leave_to = ''  # where they went last meanwhile
        super().__init__(dict(routes))

    def _show(self) -> None:
        if self._showing_sign_in:
            self._reset_match()  # after signing in, the same path must render the real page
        if self._held_by_edits():
            return
        super()._show()
        self._shown_path = self._router.current_path

    def _held_by_edits(self) -> bool:
        """Whether the router moved on from a page with edits not saved, to a signed-in visitor who has not yet said
        to leave them: then the router and the header go back to the page shown, and the visitor is asked. Signed
        out, the page goes at once: its data must not stay."""
        target, shown = self._router.current_path, self._shown_path
        if shown is None or target == shown or not self._guards() or not is_signed_in(self._token):
            return False
        self._back_to(shown)  # (before the router writes the address: a link or the header's tabs then change none)
        self._leave_to = target
        if not self._asking:
            self._asking = True
            background_tasks.create(self._ask_to_leave(), name='ask to leave edits', context=self)
        return True

    def _guards(self) -> list[LeaveGuard]:
        return [element for element in self.descendants() if isinstance(element, LeaveGuard) and element.armed]

    def _back_to(self, path: str) -> None:
        self._router.current_path = path
        for handler in self._router._path_changed_handlers:  # the header's highlight (NiceGUI 3.18 has no public way)
            handler(path)

    async def _ask_to_leave(self) -> None:
        try:
            leave = await confirm_leave(host=self)
        finally:
            self._asking = False
        if self.is_deleted:
            return
        guards = self._guards()
        if leave:
            for guard in guards:
                guard.disarm()
            ui.navigate.to(self._leave_to)
        else:
            for guard in guards:  # the back or forward button did change the address: it shows the page again
                guard.keep_address(self._router.current_path)

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
        # An id in the path that holds what no id holds (a NUL character, a lone surrogate, which in-app navigation
        # can carry past the perimeter's check of addresses) names nothing: not found, before any page asks the
        # database, which could not even compare it (PostgreSQL's text holds no NUL).
        match = super()._find_matching_path()
        if match is None or match.remaining_path or any(map(unstorable, match.parameters.values())):
            return None
        return match

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
        shown = bounded_text(path, MAX_PATH_SHOWN)  # a NUL or a lone surrogate as text (\x00, \ud800)
        ui.label(f'Nothing lives at {shown}.').classes('text-grey-7 text-center break-all').mark('not-found-path')
        ui.label('The link may be mistyped or out of date.').classes('text-grey-7 text-center')
        with ui.row().classes('items-center gap-4 mt-2'):
            ui.link('Executions', '/executions').classes('fm-link').mark('not-found-executions')
            ui.link('Dashboard & workflows', '/').classes('fm-link').mark('not-found-workflows')
