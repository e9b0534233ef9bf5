"""The NiceGUI pages."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowmon.services import Services


def build_root(services: Services) -> Callable[[], None]:
    """The root page builder handed to ``ui.run``."""

    def root() -> None:
        ui.label('flowmon').classes('text-2xl')

    return root
