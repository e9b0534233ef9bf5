"""Space without scrolling: while this element is on the page, Space does not scroll it unless a field or a button
has focus (the replay page plays and pauses with Space). The listener lives and dies with the element
(``space_guard.js``)."""

from __future__ import annotations

from nicegui import ui


class SpaceGuard(ui.element, component='space_guard.js'):
    pass
