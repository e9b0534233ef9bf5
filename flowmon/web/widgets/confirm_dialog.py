"""A yes/no question in a dialog, awaited by the handler that asks it (``if await confirm(...): ...``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

from nicegui import ui


async def confirm(
    title: str,
    message: str,
    *,
    ok_label: str,
    ok_color: str = 'primary',
    cancel_label: str = 'Cancel',
    marker: str = 'confirm',
    host: ui.element | None = None,
    details: Sequence[str] = (),
) -> bool:
    """Ask, and answer True only when the visitor presses ``ok_label`` (``cancel_label``, Escape or a click outside:
    False). Where the action itself is called "Cancel", name the way back otherwise (``cancel_label``).

    ``host`` is where the dialog lives; pass an element that outlives redraws of the asking widget (by default the
    dialog is created in the current slot, which a live list may clear while the question is open). ``details``:
    more to say under the message, a paragraph each (what the action does to what, say).
    """
    with host or nullcontext(), ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark(marker):
        ui.label(title).classes('text-lg font-semibold fm-break')
        ui.label(message).classes('text-sm text-grey-7 fm-break').mark(f'{marker}-message')
        for detail in details:
            ui.label(detail).classes('text-sm text-grey-7 fm-break').mark(f'{marker}-detail')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button(cancel_label, on_click=lambda: dialog.submit(False)).props('flat no-caps').mark(
                f'{marker}-cancel'
            )
            ui.button(ok_label, on_click=lambda: dialog.submit(True)).props(
                f'unelevated no-caps color={ok_color} data-testid={marker}-ok'
            ).mark(f'{marker}-ok')
    try:
        return bool(await dialog)
    finally:
        if not dialog.is_deleted:
            dialog.delete()
