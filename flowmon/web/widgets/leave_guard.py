"""The browser's "Leave site?" question while a page holds edits not saved: :meth:`LeaveGuard.arm` asks for it (the
page's ``beforeunload``), :meth:`LeaveGuard.disarm` lets the page go unasked. The listener lives and dies with the
element (``leave_guard.js``), so a page that is left within the app takes it along (the routed frame asks then, see
:mod:`flowmon.web.routing`). Its ``data-armed`` attribute says whether the browser has it armed."""

from __future__ import annotations

from nicegui import ui

from .confirm_dialog import confirm


class LeaveGuard(ui.element, component='leave_guard.js'):
    def __init__(self) -> None:
        super().__init__()
        self._props['armed'] = False
        self._props['data-testid'] = 'leave-guard'

    @property
    def armed(self) -> bool:
        return bool(self._props['armed'])

    def set_armed(self, armed: bool) -> None:
        if armed != self.armed:
            self._props['armed'] = armed
            self.update()

    def arm(self) -> None:
        self.set_armed(True)

    def disarm(self) -> None:
        self.set_armed(False)

    def keep_address(self, path: str) -> None:
        """Make the address bar show ``path`` again (a new history entry) if it shows another one."""
        self.run_method('keepAddress', path)


async def confirm_leave(host: ui.element | None = None) -> bool:
    """The app's own question before a page with edits not saved goes (its Cancel, a link, the header, the back
    button): True to leave, dropping them; Stay keeps the page (see :func:`confirm` for ``host``)."""
    return await confirm(
        'Leave without saving?',
        'This page has edits that are not saved; leaving drops them.',
        ok_label='Leave',
        ok_color='negative',
        cancel_label='Stay',
        marker='leave',
        host=host,
    )
