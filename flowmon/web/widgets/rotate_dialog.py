"""Rotate a signing secret: what becomes of the old one is asked with the rotation (``grace = await
ask_rotation(...)``), kept for 24 h so the other side has time to switch, or stopped at once after a leak."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.application.rotation import MAX_GRACE_SECONDS
from flowmon.web import format as fmt

KEEP, STOP = 'keep', 'stop'


async def ask_rotation(
    title: str,
    message: str,
    *,
    keep: str,
    stop: str,
    replacing: str = '',
    marker: str = 'confirm-rotate',
    host: ui.element | None = None,
) -> int | None:
    """Ask; the grace period chosen in seconds (``keep``: 24 h, ``stop``: 0), or None when the visitor cancels.

    ``keep`` and ``stop`` say what each choice means for the old secret; keeping it is chosen to begin with.
    ``replacing`` (see :func:`grace_cut_short`) says what the rotation does to a previous secret still in its grace.
    ``host`` as for :func:`~flowmon.web.widgets.confirm_dialog.confirm`."""
    with host or nullcontext(), ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark(marker):
        ui.label(title).classes('text-lg font-semibold fm-break')
        ui.label(message).classes('text-sm text-grey-7 fm-break').mark(f'{marker}-message')
        if replacing:
            with ui.row().classes('fm-callout w-full items-start gap-2 no-wrap'):
                ui.icon('warning', size='1.1rem').classes('text-warning')
                ui.label(replacing).classes('text-sm grow min-w-0 fm-break').mark(f'{marker}-replacing')
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


def grace_cut_short(revealed: Mapping[str, Any] | None, what: str) -> str:
    """What a rotation does to the previous secret when ``revealed`` (a reveal's answer, read as the dialog opens)
    says one is still in its grace: only one previous secret is kept, so it stops now; '' when none is. ``what``: how
    it is still used ("accepted", "signing"). Never the secret itself."""
    expires = (revealed or {}).get('previous_secret_expires_at')
    if not expires:
        return ''
    until = fmt.full_timestamp(datetime.fromisoformat(expires), tz=fmt.viewer_timezone())
    return (
        f'The secret replaced by the last rotation, still {what} until {until}, stops working now: '
        'only one previous secret is kept.'
    )
