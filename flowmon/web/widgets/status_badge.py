"""A status word on a coloured pill, in the one palette (:mod:`flowmon.web.theme`)."""

from __future__ import annotations

from nicegui import ui

from flowmon.web.theme import ACTIVE_STATUSES, badge_text, status_quasar


class StatusBadge(ui.badge):
    """``succeeded``, ``failed``, ``running`` ... ; active statuses pulse gently."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.classes('fm-status')
        self._status = ''
        self.set_status(status)

    @property
    def status(self) -> str:
        return self._status

    def set_status(self, status: str) -> None:
        if status == self._status:
            return
        self._status = status
        self.set_text(status)
        self.props.update({'color': status_quasar(status), 'text-color': badge_text(status), 'data-status': status})
        self.classes(remove='fm-status-active')
        if status in ACTIVE_STATUSES:
            self.classes(add='fm-status-active')
