"""The workflow editor's note, above the editor, that someone saved or deleted the workflow since the editor's text
started from it (another tab, another person, a script): who did what and when, that nothing was saved and the text
is still in the editor, and the choices. Review their version against the text (the text alone when they deleted it),
overwrite theirs with the text (save it again, when they deleted it), or drop the text for their version.

The editor says what each choice does; the note keeps which version it is about (:attr:`EditorConflict.theirs`)
until the editor clears it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from flowmon.application.workflows import StoredWorkflow
from flowmon.web.format import timestamp

Choice = Callable[[str, StoredWorkflow | None], Awaitable[None]]


class EditorConflict:
    """Where the note goes, built where this is made and empty until :meth:`show`."""

    def __init__(self, *, review: Choice, overwrite: Choice, load: Callable[[StoredWorkflow], Awaitable[None]]) -> None:
        """Each choice is called with the workflow's id and their version (None: deleted); ``load`` only with a
        version (there is none to load once they deleted it)."""
        self._review, self._overwrite, self._load = review, overwrite, load
        self.theirs: tuple[str, StoredWorkflow | None] | None = None  # what someone saved since (id, None: deleted)
        self._host = ui.column().classes('w-full gap-0')

    def show(self, workflow_id: str, theirs: StoredWorkflow | None, *, since_opened: bool) -> None:
        """Say that ``workflow_id`` was saved (``theirs``) or deleted (None) since the editor opened it
        (``since_opened``) or meanwhile, with the choices; the text stays as it is."""
        self.theirs = (workflow_id, theirs)
        since = 'since you opened it' if since_opened else 'meanwhile'
        if theirs is None:
            message = f'Someone deleted the workflow “{workflow_id}” {since}.'
        else:
            message = f'Someone saved the workflow “{workflow_id}” at {timestamp(theirs.updated_at)} {since}.'
        self._host.clear()
        with self._host:
            self._note(message, deleted=theirs is None)

    def clear(self) -> None:
        self.theirs = None
        self._host.clear()

    def _note(self, message: str, *, deleted: bool) -> None:
        with ui.column().classes('w-full gap-2 fm-note').props('role=alert').mark('editor-conflict'):
            with ui.row().classes('items-center gap-2 no-wrap'):
                ui.icon('warning', size='1.2rem').classes('text-warning')
                ui.label(message).classes('text-sm font-semibold').mark('editor-conflict-message')
            ui.label('Nothing was saved: your text is still in the editor. Choose what to keep.').classes('text-sm')
            with ui.row().classes('items-center gap-2'):
                review = 'Review yours' if deleted else 'Review their version against yours'
                ui.button(review, icon='difference', on_click=self._review_theirs).props(
                    'outline no-caps data-testid=conflict-review'
                ).mark('conflict-review')
                overwrite = 'Save yours again' if deleted else 'Overwrite with yours'
                ui.button(overwrite, icon='save', on_click=self._overwrite_theirs).props(
                    'unelevated no-caps color=negative data-testid=conflict-overwrite'
                ).mark('conflict-overwrite')
                if not deleted:
                    ui.button('Discard yours, load theirs', icon='download', on_click=self._load_theirs).props(
                        'flat no-caps data-testid=conflict-load'
                    ).mark('conflict-load')

    async def _review_theirs(self) -> None:
        if self.theirs is not None:
            await self._review(*self.theirs)

    async def _overwrite_theirs(self) -> None:
        if self.theirs is not None:
            await self._overwrite(*self.theirs)

    async def _load_theirs(self) -> None:
        if self.theirs is not None and self.theirs[1] is not None:
            await self._load(self.theirs[1])
