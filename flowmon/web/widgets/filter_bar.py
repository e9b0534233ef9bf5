"""Filters for an execution list: a search box, workflow (a select with a filter box, for many workflows), status,
origin (run here or imported), time window (presets or a custom day range).

The custom range picker picks whole UTC days. It opens on the days of the list's window, whatever form that window
came in (a saved view's or a URL's ``since`` may be an ISO date-time, Unix seconds or any relative window), and says
the window exactly above it; Apply without picking other days keeps that window as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from flowmon.application.origins import LABELS as ORIGIN_LABELS
from flowmon.application.workflows import name_order
from flowmon.engine.core.search_text import MAX_QUERY_CHARS
from flowmon.engine.core.state import EXECUTION_STATUSES
from flowmon.web.filters import RELATIVE_WINDOWS, ExecutionFilter, parse_search

ALL = ''
CUSTOM = 'custom'  # the option that opens the range picker
CURRENT = 'current'  # the list's window when no preset is it (a range, a day, a date-time, another relative window)


def url_filter(query: Mapping[str, str]) -> ExecutionFilter:
    """The filter in a list page's URL query; each value it ignores is said in a notification."""
    flt, problems = ExecutionFilter.from_query(query)
    for problem in problems:
        ui.notify(f'Filter: {problem}', type='warning')
    return flt


class FilterBar:
    """Each change calls ``on_change`` with the new filter (the page navigates to its URL)."""

    def __init__(
        self,
        flt: ExecutionFilter,
        *,
        on_change: Callable[[ExecutionFilter], None],
        workflows: Mapping[str, str] | None = None,
    ) -> None:
        self._flt = flt
        self._on_change = on_change
        with ui.row().classes('w-full items-center gap-3 fm-filters').mark('filters'):
            # Enter searches, clearing the box shows everything; data-fm-search is where the `/` shortcut goes
            self._search = (
                ui.input(value=flt.q or '', placeholder='Search inputs, outputs, errors')
                .props(
                    f'outlined dense clearable type=search maxlength={MAX_QUERY_CHARS} data-fm-search '
                    'aria-label="Search executions: inputs, outputs and errors"'
                )
                .classes('w-72')
                .mark('filter-search')
            )
            with self._search.add_slot('prepend'):
                ui.icon('search')
            self._search.on('keydown.enter', lambda: self._search_for(self._search.value or ''))
            self._search.on('clear', lambda: self._search_for(''))
            if workflows is not None:
                options = {
                    ALL: 'All workflows',
                    **dict(sorted(workflows.items(), key=lambda kv: name_order(kv[1], kv[0]))),
                }
                if flt.workflow_id and flt.workflow_id not in options:
                    options[flt.workflow_id] = flt.workflow_id
                # typing in it keeps the workflows whose name holds the text, ignoring case: filtered in the browser,
                # nothing is sent per key; the names are options' text (no options-html)
                workflow = (
                    ui.select(
                        options,
                        value=flt.workflow_id or ALL,
                        label='Workflow',
                        with_input=True,
                        on_change=lambda e: self._set(workflow_id=e.value or None),
                    )
                    .props('outlined dense options-dense')
                    .classes('w-56')
                    .mark('filter-workflow')
                )
                with workflow.add_slot('no-option'):
                    ui.label('No workflow matches').classes('text-sm text-grey-7 px-3 py-2')
            statuses = {ALL: 'Any status', **{status: status for status in EXECUTION_STATUSES}}
            ui.select(
                statuses, value=flt.status or ALL, label='Status', on_change=lambda e: self._set(status=e.value or None)
            ).props('outlined dense options-dense').classes('w-40').mark('filter-status')
            origins: dict[str, str] = {ALL: 'Any origin', **ORIGIN_LABELS}
            ui.select(
                origins, value=flt.origin or ALL, label='Origin', on_change=lambda e: self._set(origin=e.value or None)
            ).props('outlined dense options-dense').classes('w-36').mark('filter-origin')
            windows: dict[str, str] = {ALL: 'Any time', **{key: label for key, (label, _) in RELATIVE_WINDOWS.items()}}
            current = flt.since if flt.since in RELATIVE_WINDOWS and not flt.until else ALL
            if flt.until or (flt.since and flt.since not in RELATIVE_WINDOWS):
                windows[CURRENT] = flt.describe_window()
                current = CURRENT
            windows[CUSTOM] = 'Custom range…'  # (also to change a custom range: picking the one shown does nothing)
            self._current_window = current
            self._window = (
                ui.select(windows, value=current, label='When', on_change=self._window_changed)
                .props('outlined dense options-dense')
                .classes('w-52')
                .mark('filter-window')
            )
            self._range_dialog = self._build_range_dialog()
            if not flt.is_empty or (flt.workflow_id and workflows is not None):
                ui.button('Clear', icon='filter_alt_off', on_click=self._clear).props('flat no-caps dense').mark(
                    'filter-clear'
                )

    def _set(self, **changes: Any) -> None:
        new = self._flt.with_(**changes)
        if new != self._flt:
            self._on_change(new)

    def _search_for(self, text: str) -> None:
        q, problem = parse_search(text)
        if problem:
            # the list stays as it is: the box goes back to the search it shows, and the message says which
            shown = f'still showing \N{LEFT DOUBLE QUOTATION MARK}{self._flt.q}\N{RIGHT DOUBLE QUOTATION MARK}'
            ui.notify(f'{problem.capitalize()}; {shown if self._flt.q else "the list is not searched"}', type='warning')
            self._search.set_value(self._flt.q or '')
            return
        self._set(q=q)

    def _clear(self) -> None:
        self._on_change(ExecutionFilter(workflow_id=None))

    def _window_changed(self, event: Any) -> None:
        value = event.value
        if value == CUSTOM:
            self._range_dialog.open()
            return
        if value == CURRENT:
            return  # (what the list shows already: the select goes back to it when the picker closes)
        self._set(since=value or None, until=None)

    def _build_range_dialog(self) -> ui.dialog:
        shown = self._flt.range_days(datetime.now(UTC))
        with ui.dialog().on('hide', self._restore_window) as dialog, ui.card().classes('gap-2'):
            ui.label('Created between').classes('text-base font-medium')
            if shown is not None:  # the exact window: the picker shows its days only
                ui.label(f'Now: {self._flt.describe_window()}').classes('text-sm text-grey-7').mark('filter-range-now')
            picker = ui.date(value=shown, mask='YYYY-MM-DD').props('range minimal').mark('filter-range')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=dialog.close).props('flat no-caps')
                ui.button('Apply', on_click=lambda: self._apply_range(picker.value, dialog, shown)).props(
                    'unelevated no-caps'
                )
        return dialog

    def _restore_window(self) -> None:
        # closing the dialog without applying leaves the select showing what the list is filtered by
        self._window.set_value(self._current_window)

    def _apply_range(self, value: Any, dialog: ui.dialog, shown: dict[str, str] | None) -> None:
        dialog.close()
        if shown is not None and value == shown:  # the days it opened on: the window stays exactly as it is
            self._restore_window()  # (its times, a relative one), and the select says it again
            return
        if isinstance(value, dict) and value.get('from') and value.get('to'):
            self._set(since=value['from'], until=value['to'])
        elif isinstance(value, str) and value:
            self._set(since=value, until=value)
        else:
            ui.notify('Pick a first and a last day.', type='warning')
