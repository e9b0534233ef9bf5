"""A dashboard number: label, value, a hint of what it counts; the whole card links to the matching list."""

from __future__ import annotations

from nicegui import ui


class MetricCard:
    """One metric. ``data-testid="metric-<key>"`` sits on the card; the value has class ``fm-metric-value``."""

    def __init__(self, key: str, label: str, *, icon: str, hint: str, href: str, accent: str | None = None) -> None:
        self.key = key
        self._text = ''
        with (
            ui.link(target=href)
            .classes('fm-metric no-underline')
            .props(f'data-testid=metric-{key} aria-label="{label}"')
            .mark(f'metric-{key}') as self.element
        ):
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                ui.label(label).classes('fm-metric-label')
                ui.icon(icon, size='1.25rem').classes('fm-metric-icon').style(f'color: {accent}' if accent else '')
            self._value = ui.label('—').classes('fm-metric-value').mark(f'metric-{key}-value')
            ui.label(hint).classes('fm-metric-hint')

    @property
    def text(self) -> str:
        return self._value.text

    def set_value(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._value.set_text(text)
