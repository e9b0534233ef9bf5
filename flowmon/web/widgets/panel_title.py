"""The head of a panel: its title over a line that says what it shows (or a figure kept up to date)."""

from __future__ import annotations

from nicegui import ui


def panel_title(title: str, subtitle: str = '') -> ui.label:
    """Draw the title and the subtitle; returns the subtitle's label (to mark it, or to set its text later)."""
    with ui.column().classes('gap-0'):
        ui.label(title).classes('fm-panel-title')
        return ui.label(subtitle).classes('text-xs text-grey-7')
