"""The note on a workflow that a workflow file provisions: the file replaces the stored definition at every start."""

from __future__ import annotations

from nicegui import ui


def provisioned_note(file_name: str | None) -> None:
    """Say that ``file_name`` wins at the next start (nothing when the workflow is not from a file)."""
    if file_name is None:
        return
    with ui.row().classes('w-full items-center gap-2 no-wrap fm-note').mark('provisioned-note'):
        ui.icon('description', size='1.2rem')
        ui.label(
            f'Provisioned from the workflow file {file_name}: the file wins at the next start, so changes saved here '
            'last until flowmon restarts. Edit the file to keep them.'
        ).classes('text-sm')
