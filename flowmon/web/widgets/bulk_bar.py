"""The bar over a selectable execution list: how many are selected, "Select all N matching", and Cancel, Rerun and
Delete for them, each confirmed first with the number it will touch (and how many of them Cancel or Rerun will skip
as imported), then reported in a notify with the outcome counts and, for those held back, how many for which reason
(``Rerun: 18 done, 2 skipped, 0 failed: 2 skipped (was imported: imported executions are read-only)``).

A selection of rows acts on their ids; "all matching" acts on the list's filter (the server matches it again, and
refuses a filter that matches more than it does at once, which the notify says).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from nicegui import ui

from flowmon.application import Application
from flowmon.application.bulk import MAX_BULK, BulkAction, BulkResult
from flowmon.application.history import ExecutionRecord
from flowmon.web.actions import guarded, one_at_a_time
from flowmon.web.filters import ExecutionFilter
from flowmon.web.format import count
from flowmon.web.live_rows import LiveRows
from flowmon.web.widgets.confirm_dialog import confirm
from flowmon.web.widgets.execution_table import ExecutionTable
from flowmon.web.widgets.pager import Pager

# action: (button label, icon, colour, what the confirmation adds)
ACTIONS: dict[BulkAction, tuple[str, str, str, str]] = {
    BulkAction.CANCEL: ('Cancel', 'stop_circle', 'negative', 'Queued and running ones stop; the others are skipped.'),
    BulkAction.RERUN: (
        'Rerun', 'replay', 'primary',
        'Each one that has ended runs again as a new execution; running ones are skipped.',
    ),
    BulkAction.DELETE: (
        'Delete', 'delete', 'negative',
        'Each one that has ended goes with its events and node runs; running ones are skipped. This cannot be undone.',
    ),
}  # fmt: skip


def executions_word(number: int) -> str:
    return f'{count(number)} execution{"s" if number != 1 else ""}'


class BulkBar:
    """Shown while some of ``rows`` are selected (in their table; their ``total`` is how many executions the list's
    filter matches now); ``on_done`` runs after an action went through (the page reloads its rows)."""

    def __init__(self, application: Application, rows: LiveRows, *, on_done: Callable[[], Awaitable[None]]) -> None:
        self._application = application
        self._rows = rows
        self._table = rows.table
        self._on_done = on_done
        self._all_matching = False
        with ui.row().classes('w-full items-center gap-2 fm-bulk').mark('bulk-bar') as self.element:
            self._label = (
                ui.label('').classes('text-sm font-medium').props('data-testid=bulk-selected').mark('bulk-selected')
            )
            self._all = (
                ui.button('', on_click=self._toggle_all)
                .props('flat dense no-caps data-testid=select-all-matching')
                .mark('select-all-matching')
            )
            ui.space()
            self._buttons = [
                ui.button(label, icon=icon, on_click=one_at_a_time(lambda action=action: self._confirm(action)))
                .props(f'outline dense no-caps color={colour} data-testid=bulk-{action.value}')
                .mark(f'bulk-{action.value}')
                for action, (label, icon, colour, _) in ACTIONS.items()
            ]
        self.update()

    @property
    def chosen(self) -> int:
        """How many executions an action would touch now."""
        return self._rows.total if self._all_matching else len(self._table.selected)

    def update(self) -> None:
        """Follow the table's selection (any change of it ends "all matching")."""
        if self._all_matching and self._table.selected != set(self._table.ids):
            self._all_matching = False
        selected = len(self._table.selected)
        total = self._rows.total
        self.element.set_visibility(selected > 0)
        if self._all_matching:
            beyond = f' (at most {count(MAX_BULK)} at once: narrow the filter)' if total > MAX_BULK else ''
            self._label.set_text(f'All {executions_word(total)} matching are selected{beyond}')
            self._all.set_text('Select only this page')
        else:
            self._label.set_text(f'{count(selected)} selected')
            self._all.set_text(f'Select all {count(total)} matching')
        page_whole = selected > 0 and selected == len(self._table.ids)
        self._all.set_visibility(page_whole and total > selected)

    async def _imported_chosen(self) -> int:
        """How many of the executions an action would touch now were imported (0 when that cannot be read: the
        action's outcome says what was skipped anyway)."""
        if not self._all_matching:
            return self._table.imported_selected()
        where = self._rows.flt.with_(origin='imported').filters(datetime.now(UTC))
        found = await guarded(
            self._application, 'count imported executions', lambda: self._application.history.page(**where, limit=1)
        )
        return found[1] if found is not None else 0

    def _toggle_all(self) -> None:
        self._all_matching = not self._all_matching
        self.update()

    async def _confirm(self, action: BulkAction) -> None:
        label, _, colour, consequence = ACTIONS[action]
        number = self.chosen
        question = f'{label} {executions_word(number)}?'
        if action is not BulkAction.DELETE:  # imported executions are read-only: say how many will be skipped
            imported = await self._imported_chosen()
            if imported:
                consequence += f' {count(imported)} of them {"was" if imported == 1 else "were"} imported (read-only):'
                consequence += ' skipped.'
        if not await confirm(
            question, consequence, ok_label=f'{label} {executions_word(number)}', ok_color=colour,
            cancel_label='Keep running' if action is BulkAction.CANCEL else 'Cancel', marker='confirm-bulk',
            host=self.element,
        ):  # fmt: skip
            return
        ids = None if self._all_matching else [i for i in self._table.ids if i in self._table.selected]
        where = self._rows.flt.filters(datetime.now(UTC)) if self._all_matching else None
        for button in self._buttons:
            button.disable()
        try:
            result = await guarded(
                self._application,
                f'{label.lower()} executions',
                lambda: self._application.bulk.apply(action, ids=ids, where=where),
            )
        finally:
            for button in self._buttons:
                button.enable()
        if result is None:
            return
        _report(result)
        self._all_matching = False
        self._table.select_page(False)
        await self._on_done()


def _report(result: BulkResult) -> None:
    """The outcome counts, and how many were skipped or failed for which reason (``6 skipped (was imported:
    imported executions are read-only)``): a warning unless every one was done."""
    reasons = result.reasons()
    message = result.summary() + (f': {"; ".join(reasons[:4])}' if reasons else '')
    if len(reasons) > 4:
        message += f'; {len(reasons) - 4} other reasons'
    ui.notify(message, type='warning' if reasons else 'positive', multi_line=True)


Page = tuple[list[ExecutionRecord], int]  # an SQL page of executions: its rows and how many match the filter


def last_page(total: int, page_size: int) -> int:
    """The number of the list's last page (1 for an empty list)."""
    return max(1, -(-total // page_size))


async def list_page(
    application: Application, flt: ExecutionFilter, page_size: int, *, url: Callable[[ExecutionFilter], str]
) -> tuple[ExecutionFilter, Page]:
    """The filter's page of executions, read from SQL. A page past the end (a saved link, Back after a bulk delete,
    a pruning) is clamped to the last page: the filter returned names that page, the address bar shows its ``url``,
    and a notification says why the page moved."""
    records, total = await application.history.page(**flt.history_query(datetime.now(UTC), page_size))
    if records or flt.page <= 1:
        return flt, (records, total)
    wanted = flt.page
    flt = flt.with_(page=last_page(total, page_size))
    records, total = await application.history.page(**flt.history_query(datetime.now(UTC), page_size))
    ui.navigate.history.replace(url(flt))
    pages = last_page(total, page_size)
    span = f'{executions_word(total)}, {count(pages)} page{"s" if pages != 1 else ""}'
    ui.notify(f'Page {count(wanted)} is past the end: {span}; showing page {count(flt.page)}', type='info')
    return flt, (records, total)


def selectable_rows(
    application: Application,
    flt: ExecutionFilter,
    page: tuple[Sequence[ExecutionRecord], int],
    *,
    page_size: int,
    table: Callable[[Callable[[], object]], ExecutionTable],
    on_page: Callable[[int], None],
) -> LiveRows:
    """A live page of executions with checkboxes, the bulk bar over it and the pager under it: ``page`` is the first
    SQL page (rows, total), ``table`` builds the table given its selection callback, ``on_page`` goes to another
    page. After an action the rows and the pager are read again from SQL; the pager counts the executions that join
    the list live as the list's heading does."""
    bar_slot = ui.element('div').classes('w-full')  # the bar goes over the rows it acts on
    bar: BulkBar | None = None
    shown = table(lambda: bar.update() if bar is not None else None)
    stored = functools.partial(application.history.records, flush=False)
    rows = LiveRows(application.live, shown, *page, flt, limit=page_size, reread=stored)
    pager_slot = ui.element('div').classes('w-full')

    def show_pager() -> None:
        pager_slot.clear()
        with pager_slot:
            Pager(page=flt.page, page_size=page_size, total=rows.total, on_page=on_page)

    async def reload() -> None:
        records, total = await application.history.page(**flt.history_query(datetime.now(UTC), page_size))
        if not records and flt.page > 1:  # the action emptied this page: go to the list's last page
            on_page(last_page(total, page_size))
            return
        rows.reload(records, total)

    with bar_slot:
        bar = BulkBar(application, rows, on_done=reload)
    show_pager()
    rows.listen(lambda _: show_pager())  # new executions joined: the count under the rows says so too
    return rows
