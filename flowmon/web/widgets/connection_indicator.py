"""The header's connection indicator: a dot and a word (Live, Offline, Connecting), kept up to date by the browser.

The server cannot report its own absence, so ``connection_indicator.js`` watches the page's socket itself: on the
socket's events and every half second. One element for the dot and the words: every element is about fifty objects
the garbage collector walks, per tab.
"""

from __future__ import annotations

from nicegui import ui


class ConnectionIndicator(ui.element, component='connection_indicator.js'):
    """Shows ``data-state`` ``connecting``, ``online`` or ``offline`` (styled by ``.fm-conn`` in style.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes('fm-conn items-center gap-1').props('data-testid=connection')
