"""Rotate a signing secret: what becomes of the old one is asked with the rotation (``grace = await
ask_rotation(...)``), kept for 24 h so the other side has time to switch, or stopped at once after a leak."""

from __future__ import annotations

from contextlib import nullcontext

from nicegui import ui

from flowmon.application.rotation import MAX_GRACE_SECONDS

KEEP, STOP = 'keep', 'stop'


async def ask_rotation(
    title: str, message: str, *, keep: str, stop: str, marker: str = 'confirm-rotate', host: ui.element | None = None
) -> int | None:
    """Ask; the grace period chosen in seconds (``keep``: 24 h, ``stop``: 0), or None when the visitor cancels.

    ``keep`` and ``stop`` say what each choice means for the old secret; keeping it is chosen to begin with.
    ``host`` as for :func:`~flowmon.web.widgets.confirm_dialog.confirm`."""
    with host or nullcontext(), ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark(marker):
        ui.label(title).classes('text-lg font-semibold')
        ui.label(message).classes('text-sm text-grey-7').mark(f'{marker}-message')
        ui.label('The current secret:').classes('text-sm font-medium')
        choice = ui.radio({KEEP: keep, STOP: stop}, value=KEEP).props('dense').classes('text-sm').mark(f'{marker}-old')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=lambda: dialog.submit(None)).props('flat no-caps').mark(f'{marker}-cancel')
            ui.button('Rotate', on_click=lambda: dialog.submit(choice.value)).props(
                f'unelevated no-caps data-testid={marker}-ok'
            ).mark(f'{marker}-ok')
    try:
        answer = await dialog
    finally:
        if not dialog.is_deleted:
            dialog.delete()
    if answer == STOP:
        return 0
    return MAX_GRACE_SECONDS if answer == KEEP else None
