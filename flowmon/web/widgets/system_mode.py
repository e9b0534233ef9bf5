"""The system's light or dark mode (the browser's ``prefers-color-scheme``), told to the server: once the page is
live, and again each time the system switches while the page is open (an automatic dark mode at sunset).

The page itself follows the system through Quasar's auto mode; what the server draws in a mode (the code editors'
theme) learns it from here. ``system_mode.js`` listens to the media query and says each change with a
``system_mode`` event; the element is on the page only while the visitor has not chosen a mode (the header's
toggle deletes it), and its listener lives and dies with it.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui
from nicegui.events import GenericEventArguments


class SystemMode(ui.element, component='system_mode.js'):
    """Calls ``on_change`` with True (dark) or False (light) when the browser says the system's mode."""

    def __init__(self, on_change: Callable[[bool], None]) -> None:
        super().__init__()
        self.on('system_mode', lambda e: _told(e, on_change))


def _told(event: GenericEventArguments, on_change: Callable[[bool], None]) -> None:
    dark = event.args.get('dark') if isinstance(event.args, dict) else None
    if isinstance(dark, bool):  # anything else is not what system_mode.js sends: ignored
        on_change(dark)
