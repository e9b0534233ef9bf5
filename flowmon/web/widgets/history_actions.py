"""An execution's history actions: Replay, Compare (with the run a rerun reran, else the previous run; or any run
picked) and Export.

Put into the execution page's action row. Export asks the same use case as ``GET /api/executions/{id}/export``
for the file and hands it to the browser as a download (the page's session is not an API token).
Problems (nothing earlier to compare with, an execution that has not ended) are reported with ``ui.notify``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from flowmon.application import Application
from flowmon.application.ids import unknown_execution
from flowmon.web.actions import guarded
from flowmon.web.format import short_id, timestamp
from flowmon.web.widgets.focus_keeper import menu_entry

PICKER_LIMIT = 50  # recent executions of the same workflow offered in the picker


class HistoryActions:
    """Buttons for one execution; :meth:`set_ended` shows Export only once the execution has ended."""

    def __init__(
        self,
        application: Application,
        execution_id: str,
        workflow_id: str | None,
        created_at: datetime | None,
        *,
        retry_of: str | None = None,
    ) -> None:
        self._application = application
        self._id = execution_id
        self._workflow_id = workflow_id
        self._created_at = created_at
        self._retry_of = retry_of  # a rerun compares with the run it reran first
        first_choice = (
            f'Compare with the run it reruns ({short_id(retry_of)})' if retry_of else 'Compare with previous run'
        )
        self.replay = (
            ui.button('Replay', icon='slow_motion_video', on_click=self._replay)
            .props('outline no-caps data-testid=replay-execution')
            .mark('replay-execution')
        )
        with (
            ui.button('Compare', icon='compare_arrows')
            .props('outline no-caps data-testid=compare-menu')
            .mark('compare-menu') as self.compare
        ):
            with ui.menu().props('auto-close'):
                menu_entry(ui.menu_item(first_choice, on_click=self.compare_with_previous)).props(
                    'data-testid=compare-previous'
                ).mark('compare-previous')
                menu_entry(ui.menu_item('Compare with another run…', on_click=self.open_picker)).props(
                    'data-testid=compare-pick'
                ).mark('compare-pick')
        self.export = (
            ui.button('Export', icon='download', on_click=self.export_file)
            .props('outline no-caps data-testid=export-execution')
            .mark('export-execution')
        )
        self._picker = ui.dialog()

    def set_ended(self, ended: bool) -> None:
        self.export.set_visibility(ended)

    def withdraw(self) -> None:
        """The execution was deleted: nothing to replay, compare or export any more."""
        for button in (self.replay, self.compare, self.export):
            button.set_visibility(False)
            button.disable()  # (a keyboard shortcut or a stale click finds nothing to do either)
        self._picker.close()

    def _replay(self) -> None:
        ui.navigate.to(f'/executions/{self._id}/replay')

    async def compare_with_previous(self) -> None:
        if not self._retry_of and (not self._workflow_id or self._created_at is None):
            ui.notify('This execution has no workflow to find an earlier run of.', type='warning')
            return
        previous = await self._application.history.previous(
            self._id, self._workflow_id, self._created_at or datetime.now(UTC), retry_of=self._retry_of
        )
        if previous is None:
            ui.notify('There is no earlier execution of this workflow to compare with.', type='warning')
            return
        ui.navigate.to(f'/compare?a={previous}&b={self._id}')

    async def open_picker(self) -> None:
        records, _ = await self._application.history.page(workflow_id=self._workflow_id, limit=PICKER_LIMIT)
        options = {
            record.id: f'{short_id(record.id)} · {record.status} · {timestamp(record.created_at)}'
            for record in records
            if record.id != self._id
        }
        self._picker.clear()
        with self._picker, ui.card().classes('fm-panel gap-3').style('width: min(520px, 94vw)'):
            ui.label('Compare with another run').classes('text-lg font-semibold')
            chosen = (
                ui.select(options, label='Recent runs of this workflow', with_input=True)
                .classes('w-full')
                .props('outlined dense data-testid=compare-pick-select')
                .mark('compare-pick-select')
            )
            typed = (
                ui.input('…or any execution id')
                .classes('w-full')
                .props('outlined dense data-testid=compare-pick-id')
                .mark('compare-pick-id')
            )
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self._picker.close).props('flat no-caps')
                ui.button('Compare', on_click=lambda: self._compare_with(str(typed.value or chosen.value or ''))).props(
                    'unelevated no-caps data-testid=compare-pick-go'
                ).mark('compare-pick-go')
        self._picker.open()

    def _compare_with(self, other: str) -> None:
        other = other.strip()
        if not other:
            ui.notify('Pick a run or type an execution id.', type='warning')
            return
        if unknown_execution(other) is not None:  # (a lone surrogate could not even go into the address)
            ui.notify(f'No execution has the id {other[:40]!r} (at most 40 letters, digits, _ . -).', type='warning')
            return
        self._picker.close()
        ui.navigate.to(f'/compare?a={other}&b={self._id}')

    async def export_file(self) -> None:
        file = await guarded(self._application, 'export', lambda: self._application.exchange.export(self._id))
        if file is not None:
            ui.download.content(file.content, file.filename, media_type='application/json')
