""" "Import": upload an execution export file and add it to history as a read-only execution.

The file is checked completely before anything is written (the same use case as ``POST /api/executions/import``);
a file that is not a valid export is reported with ``ui.notify`` naming the problem and changes nothing.
On success the browser goes to the imported execution's replay. The import's notices are one notification: each
outcome takes the place of the one before, so a refused file's notice and the next file's success never show at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from nicegui import events, ui

from flowmon.application import Application
from flowmon.application.errors import AppError
from flowmon.application.exchange import IMPORT_LIMIT, MAX_IMPORT_BYTES
from flowmon.web.auth import is_signed_in

log = logging.getLogger(__name__)

# Quasar's notification group: a notice of the group replaces the one showing (with a count, which is hidden: the
# outcomes differ, and counting them says nothing)
NOTICE_GROUP = 'flowmon-import'


class ImportButton:
    """A button that opens a small upload dialog for one ``.json`` export."""

    def __init__(self, application: Application) -> None:
        self._application = application
        self.button = (
            ui.button('Import', icon='upload_file', on_click=self.open)
            .props('outline no-caps data-testid=import-execution')
            .mark('import-execution')
        )
        with ui.dialog() as self.dialog, ui.card().classes('fm-panel gap-3').style('width: min(480px, 94vw)'):
            ui.label('Import an execution').classes('text-lg font-semibold')
            ui.label(
                'Choose a file exported from flowmon ("Export" on an execution page). It is added to the history '
                'as a read-only execution you can replay and compare.'
            ).classes('text-sm text-grey-7')
            self.upload = (
                ui.upload(on_upload=self._uploaded, auto_upload=True, max_file_size=MAX_IMPORT_BYTES, max_files=1)
                .props('accept=".json,application/json" flat bordered label="Export file (.json)" '
                       'data-testid=import-upload')
                .classes('w-full')
                .mark('import-upload')
            )  # fmt: skip
            self.upload.on_rejected(
                lambda: tell(f'That file is too large to import: the limit is {IMPORT_LIMIT}.', 'negative')
            )
            with ui.row().classes('w-full justify-end'):
                ui.button('Close', on_click=self.dialog.close).props('flat no-caps')

    def open(self) -> None:
        self.upload.reset()
        self.dialog.open()

    async def _uploaded(self, event: events.UploadEventArguments) -> None:
        self.upload.reset()
        if not is_signed_in(self._application.token):
            tell('Sign in again to import executions.', 'warning')
            return
        name = event.file.name
        outcome = await import_file(self._application, name, await event.file.read())
        if self.dialog.is_deleted:  # the page was left meanwhile: nothing to tell it (the import stands, if made)
            log.info('import of %s ended after its page was left: %s', name, outcome.message)
            return
        tell(outcome.message, outcome.kind, multi_line=outcome.new_id is None)
        if outcome.new_id is not None:
            self.dialog.close()
            ui.navigate.to(f'/executions/{outcome.new_id}/replay')


@dataclass(frozen=True, slots=True)
class Imported:
    """How an import ended: the new execution's id (None: refused) and what to tell."""

    new_id: str | None
    message: str
    kind: Literal['positive', 'negative', 'warning']


async def import_file(application: Application, name: str, content: bytes) -> Imported:
    """Import ``content``: the new execution's id, or None and why not."""
    try:
        imported = await application.exchange.import_file(content)
    except AppError as exc:
        return Imported(None, f'{name} cannot be imported: {exc}', 'negative')
    except Exception as exc:
        log.exception('import of %s failed', name)
        return Imported(None, f'Could not import {name}: {exc}', 'negative')
    return Imported(imported.id, f'Imported as {imported.id} ({imported.events} events)', 'positive')


def tell(message: str, kind: Literal['positive', 'negative', 'warning'], *, multi_line: bool = False) -> None:
    """One import outcome, in place of the notice of the one before it (if that still shows)."""
    ui.notify(message, type=kind, multi_line=multi_line, group=NOTICE_GROUP, badgeStyle='display: none')
