"""A dialog that asks for a run's JSON input and refuses anything but a JSON object before sending it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from flowmon.engine.core.payload import PayloadBudget, PayloadError

PLACEHOLDER = '{\n  "order_id": "ORD-2001"\n}'
_PARSER = PayloadBudget()  # for its depth limit only, which is the same for every budget


def parse_input(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """``(value, None)`` for an object (empty text is ``{}``), else ``(None, message naming the problem)``."""
    if text is None or not text.strip():
        return {}, None
    try:  # depth is measured before parsing (the size is checked when the run is submitted)
        value = _PARSER.loads(text, 'the input', sized=False)
    except PayloadError as exc:
        return None, f'The input was not accepted: {exc}.'
    except json.JSONDecodeError as exc:
        return None, f'Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).'
    except ValueError as exc:  # a number too long to convert
        return None, f'Not valid JSON: {exc}.'
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else 'null'
        return None, f'The input must be a JSON object such as {{"key": "value"}}, not {kind}.'
    return value, None


class JsonInputDialog:
    """``open()`` shows it; "Run" validates and calls ``on_submit(value)`` only for a JSON object."""

    def __init__(
        self,
        *,
        title: str,
        on_submit: Callable[[dict[str, Any]], Awaitable[None] | None],
        hint: str | None = None,
    ) -> None:
        self._on_submit = on_submit
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-xl gap-3').mark('input-dialog'):
            ui.label(title).classes('text-lg font-semibold')
            if hint:
                ui.label(hint).classes('text-sm text-grey-7 fm-clamp-3')
            self.editor = (
                ui.textarea('Input (JSON object)', placeholder=PLACEHOLDER)
                .props('outlined autogrow input-class="fm-mono" spellcheck=false')
                .classes('w-full')
                .mark('input-json')
            )
            self.error = ui.label('').classes('text-sm text-negative').mark('input-error')
            self.error.set_visibility(False)
            self.editor.on_value_change(self._clear_error)
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps')
                self.run_button = (
                    ui.button('Run', icon='play_arrow', on_click=self._submit)
                    .props('unelevated no-caps')
                    .mark('input-run')
                )

    def open(self) -> None:
        self._clear_error()
        self.dialog.open()

    def _clear_error(self) -> None:
        self.error.set_visibility(False)

    async def _submit(self) -> None:
        value, problem = parse_input(self.editor.value)
        if problem is not None or value is None:
            self.error.set_text(problem or 'Invalid input.')
            self.error.set_visibility(True)
            return
        self.run_button.disable()
        try:
            result = self._on_submit(value)
            if result is not None:
                await result
            self.dialog.close()
        finally:
            self.run_button.enable()
