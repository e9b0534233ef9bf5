"""A code editor (CodeMirror, as NiceGUI ships it) in the page's light or dark theme.

The text is the user's own, shown as text: CodeMirror renders a document, never markup. The theme follows the
header's light/dark toggle: an editor starts in the mode of its page, and the toggle calls :func:`follow_dark_mode`
for the editors on the page (a toggle is rare; a page has a handful of editors at most).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from nicegui import Client, ui

LIGHT_THEME: Final = 'githubLight'
DARK_THEME: Final = 'githubDark'
Language = Literal['JSON', 'YAML']


class CodeEditor(ui.codemirror):
    """``ui.codemirror`` with two-space indents, wrapped lines and flowmon's light or dark theme."""

    def __init__(self, value: str = '', *, language: Language = 'JSON', on_change: Any = None) -> None:
        super().__init__(
            value,
            language=language,
            theme=DARK_THEME if _dark(ui.context.client) else LIGHT_THEME,
            indent='  ',
            line_wrapping=True,
            on_change=on_change,
        )
        self.classes('fm-code-editor')

    def follow(self, dark: bool) -> None:
        """Switch to the dark (or light) theme."""
        self.set_theme(DARK_THEME if dark else LIGHT_THEME)


def follow_dark_mode(client: Client, dark: bool) -> None:
    """The page went dark (or light): every code editor on it follows."""
    for element in list(client.elements.values()):
        if isinstance(element, CodeEditor):
            element.follow(dark)


def _dark(client: Client) -> bool:
    """Whether the page is in dark mode now (its ``ui.dark_mode`` element, which the header owns)."""
    for element in client.elements.values():
        if isinstance(element, ui.dark_mode):
            return bool(element.value)
    return False
