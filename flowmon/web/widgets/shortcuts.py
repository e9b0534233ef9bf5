"""Keyboard shortcuts on every page, listed by ``?`` in a dialog.

``shortcuts.js`` listens to the keyboard (``lib/fm-keys.js`` maps keys and two-key sequences to actions; keys typed
into a field or an editor, and keys while a modal dialog is open, are left alone). It asks the server to navigate
(only to the pages in :data:`TARGETS`) and to show the help; ``/``, ``r`` and ``c`` it does itself, by focusing the
search box or pressing the page's button marked ``data-fm-shortcut="run"`` / ``"cancel"``, so a shortcut does
exactly what that button does: the Run button of a workflow page, the Rerun button of an execution page, the Cancel
button of a running execution (which asks first).
"""

from __future__ import annotations

from nicegui import ui
from nicegui.events import GenericEventArguments

# (keys, what they do), in the order the help shows them; fm-keys.js BINDINGS holds the same keys
SHORTCUTS: list[tuple[str, str]] = [
    ('?', 'Show this list'),
    ('/', 'Search executions (focuses the search box; opens the execution list on pages without one)'),
    ('g d', 'Go to the dashboard'),
    ('g w', 'Open the workflows menu'),
    ('g e', 'Go to the executions'),
    ('g h', 'Go to the webhooks'),
    ('g s', 'Go to the secrets'),
    ('r', 'Run: the workflow on its page; the rerun on an execution page'),
    ('c', 'Cancel the running execution on its page (asks first)'),
]
# the code editors take Tab to indent (CodeMirror's way out is Esc, then Tab): said in the list, as nowhere else
EDITOR_TAB = 'In an editor, Tab indents: press Esc, then Tab, to move on from it.'
TARGETS = frozenset({'/', '/executions', '/webhooks', '/secrets'})  # where the g-sequences may navigate


class Shortcuts(ui.element, component='shortcuts.js', dependencies=['lib/fm-keys.js']):
    """Put once on every page (the shell does)."""

    def __init__(self) -> None:
        super().__init__()
        self._help: ui.dialog | None = None  # built on first use
        self.on('navigate', self._navigate)
        self.on('help', self.show_help)

    def _navigate(self, event: GenericEventArguments) -> None:
        target = event.args
        if isinstance(target, str) and target in TARGETS:
            ui.navigate.to(target)

    def show_help(self) -> None:
        if self._help is None:
            with self, ui.dialog() as self._help, ui.card().classes('w-full max-w-md gap-2').mark('shortcuts-help'):
                ui.label('Keyboard shortcuts').classes('text-lg font-semibold')
                for keys, meaning in SHORTCUTS:
                    with ui.row().classes('w-full items-baseline no-wrap gap-3'):
                        ui.label(keys).classes('fm-kbd shrink-0').props('data-testid=shortcut-keys')
                        ui.label(meaning).classes('text-sm')
                ui.label('Keys typed into a field or an editor are not shortcuts.').classes('text-xs text-grey-7')
                ui.label(EDITOR_TAB).classes('text-xs text-grey-7')
                with ui.row().classes('w-full justify-end'):
                    ui.button('Close', on_click=self._help.close).props('flat no-caps').mark('shortcuts-close')
        self._help.open()
