"""What shows where there is nothing to show: an empty list, or a page about something that does not exist.

Every text is shown as text; ``marker`` is the element's test marker (and, for pages, its ``data-testid``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from nicegui import ui

T = TypeVar('T')


def empty_state(marker: str, icon: str, title: str, hint: str) -> None:
    """Inside a list or table with no rows: what it would hold, and how to get some."""
    with ui.column().classes('w-full items-center gap-1 py-8 fm-empty').mark(marker):
        ui.icon(icon, size='2.5rem').classes('text-grey-5')
        ui.label(title).classes('text-base font-medium')
        ui.label(hint).classes('text-sm text-grey-7 text-center')


def redraw_list(
    element: ui.element, items: Sequence[T], draw: Callable[[Sequence[T]], object], empty: Callable[[], object]
) -> None:
    """Clear ``element`` and draw ``items`` in it, or (none) its empty state with ``empty``."""
    element.clear()
    with element:
        if items:
            draw(items)
        else:
            empty()


def not_found(
    marker: str,
    icon: str,
    title: str,
    lines: list[str],
    link: tuple[str, str],
    also: tuple[str, str, str] | None = None,
) -> None:
    """Instead of a page's content: a title, one line per reason and a way on (``also``: a second way, its text, URL
    and marker, beside the first)."""
    with ui.column().classes('w-full items-center gap-2 py-16').props(f'data-testid={marker}').mark(marker):
        ui.icon(icon, size='3rem').classes('text-grey-5')
        ui.label(title).classes('text-xl font-medium')
        for line in lines:
            ui.label(line).classes('text-grey-7')
        with ui.row().classes('items-center gap-4 mt-2'):
            ui.link(*link).classes('fm-link')
            if also is not None:
                text, url, also_marker = also
                ui.link(text, url).classes('fm-link').mark(also_marker)
