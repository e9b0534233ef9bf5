"""A dialog that asks for a run's JSON input in a code editor, checked as it is typed.

Used by "Run with input…" (an empty editor), Rerun and "Rerun from this node" (the previous input, to fix before
running again). The text must be a JSON object within the payload budget (nesting, 64-bit integers, size); the
problem is shown under the editor as soon as typing pauses, and Run is disabled while there is one. Run checks the
text once more before anything is sent, and that it is the text the browser shows (an edit too large for the page's
connection, a big paste, never reaches the server: the dialog says so rather than run with what it has).

A submission that was refused (``on_submit`` answers False) leaves the dialog open with the text. The owner may then
:meth:`JsonInputDialog.redirect` it: a note above the editor says why, and Run does something else (or goes, the
text staying in the editor to be copied).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.payload_values import PayloadError, human_size
from flowmon.web.actions import one_at_a_time

from .code_editor import SENDABLE, CodeEditor

CHECK_SECONDS = 0.25  # how often a changed text is checked (typing is not checked key by key)
WHAT = 'the execution input'
LOST = (
    f'This input did not reach flowmon: an edit of more than {SENDABLE} at once is more than the page can send '
    '(a run with an input that large starts through the API). Close this dialog to start over.'
)


def parse_input(text: str | None, budget: PayloadBudget | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """``(value, None)`` for an object within ``budget`` (empty text is ``{}``), else ``(None, message naming the
    problem)``. Without ``budget``, the default limits (the size is checked again when the run is submitted)."""
    budget = budget or PayloadBudget()
    if text is None or not text.strip():
        return {}, None
    size = len(text.encode('utf-8', errors='surrogatepass'))
    if size > 4 * budget.max_bytes:  # far over, whatever the whitespace: not even parsed
        return None, f'The input was not accepted: it is {human_size(size)}, far over the payload budget.'
    try:  # depth is measured before parsing
        value = budget.loads(text, WHAT, sized=False)
    except PayloadError as exc:
        return None, f'The input was not accepted: {exc}.'
    except json.JSONDecodeError as exc:
        return None, f'Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).'
    except ValueError as exc:  # a number too long to convert
        return None, f'Not valid JSON: {exc}.'
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else 'null'
        return None, f'The input must be a JSON object such as {{"key": "value"}}, not {kind}.'
    try:
        budget.check(value, WHAT)  # 64-bit integers and the size as compact JSON
    except PayloadError as exc:
        return None, f'The input was not accepted: {exc}.'
    return value, None


def pretty(value: Any) -> str:
    """An input as the editor shows it: indented JSON (nothing for no input)."""
    if value is None or value == {}:
        return ''
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return ''


class JsonInputDialog:
    """``open()`` shows it; Run calls ``on_submit(value)`` with a JSON object that the budget accepts, and closes the
    dialog unless that answers False (refused: the text stays)."""

    def __init__(
        self,
        *,
        title: str,
        on_submit: Callable[[dict[str, Any]], Awaitable[bool | None] | bool | None],
        hint: str | None = None,
        value: str = '',
        budget: PayloadBudget | None = None,
        run_label: str = 'Run',
    ) -> None:
        self._on_submit = on_submit
        self._budget = budget
        self._initial = value
        self._checked: str | None = None  # the text the message and the button are about
        self._lost = False  # an edit too large for the page's connection never reached the server
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-2xl gap-3').mark('input-dialog'):
            ui.label(title).classes('text-lg font-semibold').mark('input-title')
            if hint:
                ui.label(hint).classes('text-sm text-grey-7 fm-clamp-3')
            # why Run does something else now (redirect)
            self.note = ui.label('').classes('w-full text-sm fm-callout').props('role=status').mark('input-note')
            self.note.set_visibility(False)
            ui.label('Input (a JSON object; empty means {})').classes('text-xs text-grey-7')
            with ui.element('div').classes('w-full') as self._editor_box:
                self.editor = self._new_editor(value)
            self.error = (
                ui.label('').classes('text-sm text-negative').props('data-testid=input-error').mark('input-error')
            )
            self.error.set_visibility(False)
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps')
                self.run_button = (
                    ui.button(run_label, icon='play_arrow', on_click=one_at_a_time(self._submit))
                    .props('unelevated no-caps data-testid=input-run')
                    .mark('input-run')
                )
            self._timer = ui.timer(CHECK_SECONDS, self._check_later, active=False)  # goes with the dialog
        self.dialog.on_value_change(lambda event: None if event.value else self._closed())
        self._check_now()

    def open(self) -> None:
        self.dialog.open()

    def redirect(
        self, note: str, run_label: str | None, on_submit: Callable[[dict[str, Any]], Awaitable[bool | None]] | None
    ) -> None:
        """What Run did cannot be done any more: say ``note`` above the editor and let Run (as ``run_label``) call
        ``on_submit`` instead, or, with None, take Run away (the text stays in the editor, to copy)."""
        self.note.set_text(note)
        self.note.set_visibility(True)
        if on_submit is None or run_label is None:
            self.run_button.set_visibility(False)
            return
        self._on_submit = on_submit
        self.run_button.set_text(run_label)

    def _new_editor(self, value: str) -> CodeEditor:
        return (
            CodeEditor(value, language='JSON', on_change=self._changed)
            .classes('w-full')
            .style('height: min(320px, 45vh)')
            .props('data-testid=input-json')
            .mark('input-json')
        )

    def _changed(self) -> None:
        self._timer.activate()  # checked on the next tick: a pause in typing, not every key

    def _check_now(self) -> tuple[dict[str, Any] | None, str | None]:
        self._timer.deactivate()
        text = self.editor.value or ''
        value, problem = parse_input(text, self._budget)
        if self._lost:
            value, problem = None, LOST
        self._checked = text
        self.error.set_text(problem or '')
        self.error.set_visibility(problem is not None)
        self.run_button.set_enabled(problem is None)
        return value, problem

    async def _check_later(self) -> None:
        """A pause in typing: check the text, and that it is the one in the browser."""
        if self._check_now()[1] is None:
            await self._in_sync()

    async def _in_sync(self) -> bool:
        """Whether the server has the editor's text (else the problem is shown and Run disabled for good: the text
        the server has is not the one shown, and every later edit applies to the wrong one)."""
        if self._lost:
            return False
        in_sync = await self.editor.in_sync()
        if in_sync is False:
            self._lost = True
            self._check_now()
        return in_sync is True

    def _closed(self) -> None:
        """Closed: an editor whose text the server lost is made again with the text the dialog opened with (the
        server's and the browser's copies are one again), to start over."""
        if self._lost:
            self._lost = False
            self._editor_box.clear()
            with self._editor_box:
                self.editor = self._new_editor(self._initial)
            self._check_now()

    async def _submit(self) -> None:
        value, problem = self._check_now()
        if problem is not None or value is None:
            return
        if not await self._in_sync():
            if not self._lost:  # (the browser did not answer: nothing is known, nothing is run)
                ui.notify('The page did not answer in time: try again.', type='warning')
            return
        self.run_button.disable()
        try:
            result = self._on_submit(value)
            if isinstance(result, Awaitable):
                result = await result
            if result is not False:
                self.dialog.close()
        finally:
            self.run_button.enable()
