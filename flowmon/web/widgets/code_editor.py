"""A code editor (CodeMirror, as NiceGUI ships it) in the page's light or dark theme.

The text is the user's own, shown as text: CodeMirror renders a document, never markup. The theme follows the
header's light/dark toggle: an editor starts in the mode of its page, and the toggle calls :func:`follow_dark_mode`
for the editors on the page (a toggle is rare; a page has a handful of editors at most). On a page that follows the
system's mode and has not heard yet which mode that is (the browser says so once the page is live), an editor takes
its theme in the browser from the same media query the page follows, so that it is drawn in the page's mode from the
first frame; the server's theme replaces it once the page's mode is known.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, Literal

from nicegui import Client, ui

LIGHT_THEME: Final = 'githubLight'
DARK_THEME: Final = 'githubDark'
# The theme of an editor on a page whose mode is not known yet: a dynamic prop, picked in the browser (a constant)
SYSTEM_THEME_PROP: Final = ':theme'
SYSTEM_THEME_JS: Final = f"matchMedia('(prefers-color-scheme: dark)').matches ? '{DARK_THEME}' : '{LIGHT_THEME}'"
Language = Literal['JSON', 'YAML']
# What the page's connection carries at once (NiceGUI's client drops a larger message, with a "Message too long"
# notice of its own): an edit this large (a big paste) never reaches the server
SENDABLE = 'about 1 MB'
RECHECK_SECONDS = 0.3  # between two answers that differ, before the editor says its text did not arrive


class CodeEditor(ui.codemirror):
    """``ui.codemirror`` with two-space indents, wrapped lines and flowmon's light or dark theme."""

    def __init__(self, value: str = '', *, language: Language = 'JSON', on_change: Any = None) -> None:
        dark = _dark(ui.context.client)
        super().__init__(
            value,
            language=language,
            theme=DARK_THEME if dark else LIGHT_THEME,
            indent='  ',
            line_wrapping=True,
            on_change=on_change,
        )
        self.classes('fm-code-editor')
        if dark is None:  # the system's mode, not known here yet: the browser picks (it wins over the theme above)
            self.props[SYSTEM_THEME_PROP] = SYSTEM_THEME_JS
        self._edits = 0  # how many edits have reached the server
        self.on_value_change(self._count)

    def _count(self) -> None:
        self._edits += 1

    async def in_sync(self, *, timeout: float = 5.0) -> bool | None:
        """Whether the server's text is the one in the browser (None: the browser did not answer in time, or its
        page has no such editor any more).

        The editor sends each edit as a change to the text before it; an edit larger than the page's connection
        carries (:data:`SENDABLE`) never arrives, and every later change then applies to a text that lacks it: the
        server's copy is wrong for good. The browser's length is asked after every edit it had sent has arrived
        (they travel the same connection, in order); an edit arriving while it is asked means nothing (the lengths
        are compared only when none did). Two answers apart, a moment between them, must differ before it says so
        (a page that has just reconnected may still hold an edit it sends once its connection is back)."""
        differed = 0
        while True:
            edits = self._edits
            try:
                length = await self.client.run_javascript(
                    f'getElement({self.id})?.editor?.state.doc.length ?? null', timeout=timeout
                )
            except TimeoutError:
                return None
            if not isinstance(length, int):  # (no editor in the page any more: it has gone on)
                return None
            if edits != self._edits:
                continue
            if length == _utf16_length(self.value or ''):
                return True
            differed += 1
            if differed == 2:
                return False
            await asyncio.sleep(RECHECK_SECONDS)

    def follow(self, dark: bool) -> None:
        """Switch to the dark (or light) theme."""
        self.props.pop(SYSTEM_THEME_PROP, None)
        self.set_theme(DARK_THEME if dark else LIGHT_THEME)


def follow_dark_mode(client: Client, dark: bool) -> None:
    """The page went dark (or light): every code editor on it follows."""
    for element in list(client.elements.values()):
        if isinstance(element, CodeEditor):
            element.follow(dark)


def _dark(client: Client) -> bool | None:
    """Whether the page is in dark mode now (its ``ui.dark_mode`` element, which the header owns); None while it
    follows the system's mode and does not know yet which that is."""
    for element in client.elements.values():
        if isinstance(element, ui.dark_mode):
            return element.value
    return False


def _utf16_length(text: str) -> int:
    """The length of ``text`` as the browser counts it (UTF-16 code units: two for a character beyond U+FFFF)."""
    return len(text.encode('utf-16-le', errors='surrogatepass')) // 2
