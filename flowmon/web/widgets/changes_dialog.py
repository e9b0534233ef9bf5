"""The dialog the workflow editor shows before saving: what changes against the stored version, as a text diff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from flowmon.web.widgets.json_diff import definition_diff


def changes_dialog(
    workflow_id: str,
    current: dict[str, Any] | None,
    proposed: dict[str, Any],
    *,
    file_name: str | None,
    on_save: Callable[[ui.dialog], Awaitable[None]] | None,
    current_label: str = 'stored',
) -> ui.dialog:
    """``current`` (None: nothing stored under ``workflow_id``) against ``proposed``, line by line; with ``on_save``
    a Save (or Create) button that calls it with the dialog. ``file_name``: the workflow file that provisions it,
    which replaces it again at the next start. ``current_label``: what the diff calls ``current``. The lines follow
    ``proposed``'s key order (the document's), ``current``'s keys put in that order: a key that only moved is no
    change. The dialog deletes itself when it closes; the caller opens it."""
    save = on_save is not None
    with ui.dialog() as dialog, ui.card().classes('w-full max-w-4xl gap-3').mark('editor-changes'):
        dialog.on('hide', dialog.delete)
        title = f'Save “{workflow_id}”?' if save else f'Changes to “{workflow_id}”'
        ui.label(title).classes('text-lg font-semibold')
        if current is None:
            ui.label('A new workflow: nothing is stored under this id yet.').classes('text-sm text-grey-7')
        elif current == proposed:
            same = f'this is the {current_label} version' if current_label == 'stored' else f'yours is {current_label}'
            ui.label(f'No changes: {same}.').classes('text-sm text-grey-7').mark('no-changes')
        if file_name is not None:
            ui.label(f'{file_name} replaces it again at the next start.').classes('text-sm text-warning')
        definition_diff(current, proposed, a_label=current_label, b_label='yours')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Keep editing' if save else 'Close', on_click=dialog.close).props('flat no-caps')
            if on_save is not None:
                ui.button('Create' if current is None else 'Save', icon='save', on_click=lambda: on_save(dialog)).props(
                    'unelevated no-caps data-testid=editor-confirm-save'
                ).mark('editor-confirm-save')
    return dialog
