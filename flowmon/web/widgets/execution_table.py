"""A list of executions: status, id, how it was started (or Imported), workflow, start, duration, progress; each row
opens the execution. A selectable table has a checkbox in front of each row and one in the head for the whole page; the
selection is a set of ids that outlives redraws (rows that leave the page leave it).

:meth:`ExecutionTable.show` takes the rows to display: when the same executions are shown in the same
order it only updates texts and colours in place (cheap at 10 Hz); otherwise it rebuilds the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from nicegui import ui

from flowmon.web import format as fmt
from flowmon.web.execution_rows import ENDED_SHORT, ExecutionSummary
from flowmon.web.widgets.empty_state import empty_state

from .row_table import RowTable
from .status_badge import StatusBadge
from .trigger_label import TriggerLabel


@dataclass(slots=True)
class _Row:
    summary: ExecutionSummary
    badge: StatusBadge
    trigger: TriggerLabel
    started: ui.label
    duration: ui.label
    progress: ui.label
    message: ui.label
    check: ui.checkbox | None = None


class ExecutionTable(RowTable[ExecutionSummary, _Row]):
    """Rows of executions with an intentional empty state."""

    def __init__(
        self,
        *,
        workflow_names: Mapping[str, str],
        show_workflow: bool = True,
        empty_title: str = 'No executions yet',
        empty_hint: str = 'Run a workflow and it shows up here.',
        on_select: Callable[[], object] | None = None,
    ) -> None:
        """With ``on_select`` the rows can be selected; it is called after every change of :attr:`selected`."""
        super().__init__()
        self._names = workflow_names
        self._on_select = on_select
        self.selected: set[str] = set()
        self._show_workflow = show_workflow
        self._empty_title = empty_title
        self._empty_hint = empty_hint
        modifier = ' fm-table-reorder' + (' fm-table-select' if on_select else '')
        self._page_check: ui.checkbox | None = None
        with ui.element('div').classes('fm-table w-full' + modifier).mark('execution-table') as self.element:
            with ui.element('div').classes('fm-table-head') as self._head:
                if on_select is not None:
                    self._page_check = (
                        ui.checkbox(on_change=lambda e: self.select_page(bool(e.value)))
                        .props('dense data-testid=select-page aria-label="Select this page"')
                        .classes('fm-cell fm-col-lead')
                        .mark('select-page')
                    )
                for title in ('Status', 'Execution', 'Trigger', 'Workflow' if show_workflow else 'Message', 'Started',
                              'Duration', 'Nodes'):  # fmt: skip
                    ui.label(title).classes(_head_classes(title))
            self._body = ui.element('div').classes('fm-table-body')

    def imported_selected(self) -> int:
        """How many of the selected rows are imported executions."""
        return sum(
            1 for execution_id in self.selected if (row := self._rows.get(execution_id)) and row.summary.imported
        )

    def select_page(self, selected: bool) -> None:
        """Select every row shown, or none."""
        self.selected = set(self._rows) if selected else set()
        self._sync_checks()

    def _toggle(self, execution_id: str, selected: bool) -> None:
        if selected == (execution_id in self.selected):
            return  # the echo of a value set by :meth:`_sync_checks`
        if selected:
            self.selected.add(execution_id)
        else:
            self.selected.discard(execution_id)
        self._sync_checks()

    def _sync_checks(self) -> None:
        for execution_id, row in self._rows.items():
            if row.check is not None and row.check.value != (execution_id in self.selected):
                row.check.set_value(execution_id in self.selected)
        if self._page_check is not None:
            whole = bool(self._rows) and self.selected >= set(self._rows)
            if self._page_check.value != whole:
                self._page_check.set_value(whole)
        if self._on_select is not None:
            self._on_select()

    def show(self, rows: Sequence[ExecutionSummary], now: datetime) -> None:
        rebuilt = self._show(
            rows, lambda summary: self._build(summary, now), lambda row, summary: self._update(row, summary, now)
        )
        if rebuilt and self._on_select is not None:
            self.selected &= set(self.ids)  # rows that left the page leave the selection
            self._sync_checks()

    def tick(self, now: datetime) -> None:
        """Advance the durations of executions still running."""
        for row in self._rows.values():
            if row.summary.finished_at is None and row.summary.started_at is not None:
                row.duration.set_text(fmt.duration(row.summary.elapsed_ms(now)))

    def _build(self, summary: ExecutionSummary, now: datetime) -> _Row:
        with (
            ui.link(target=f'/executions/{summary.id}')
            .classes('fm-table-row no-underline')
            .props(f'data-testid=execution-row data-execution-id={summary.id}')
            .mark(f'execution-row-{summary.id}')
        ):
            check = None
            if self._on_select is not None:
                execution_id = summary.id
                check = (
                    ui.checkbox(value=summary.id in self.selected)
                    .on_value_change(lambda e: self._toggle(execution_id, bool(e.value)))
                    .props(f'dense data-testid=select-execution aria-label="Select {fmt.short_id(summary.id)}"')
                    .classes('fm-cell fm-col-lead')
                    .mark(f'select-{summary.id}')
                )
            with ui.element('div').classes('fm-cell fm-col-lead'):
                badge = StatusBadge(summary.status)
            ui.label(fmt.short_id(summary.id)).classes('fm-cell fm-mono').tooltip(summary.id)
            with ui.element('div').classes('fm-cell'):
                trigger = TriggerLabel(summary.trigger_type, imported=summary.imported)
            with ui.element('div').classes('fm-cell fm-what fm-col-what'):
                if self._show_workflow:
                    name = self._names.get(summary.workflow_id, summary.workflow_id)
                    ui.label(name).classes('fm-ellipsis fm-name').tooltip(summary.workflow_id)
                message = ui.label(_message(summary)).classes('fm-ellipsis fm-message')
                if summary.error:
                    message.tooltip(summary.error)
            started = ui.label(fmt.timestamp(summary.started_at or summary.created_at, now=now)).classes(
                'fm-cell fm-num'
            )
            started.tooltip(fmt.full_timestamp(summary.started_at or summary.created_at))
            duration = ui.label(fmt.duration(summary.elapsed_ms(now))).classes('fm-cell fm-right fm-num')
            progress = ui.label(progress_text(summary)).classes('fm-cell fm-right fm-num text-grey-7')
            progress.props['title'] = _progress_hint(summary)
        return _Row(
            summary=summary,
            badge=badge,
            trigger=trigger,
            started=started,
            duration=duration,
            progress=progress,
            message=message,
            check=check,
        )

    def _update(self, row: _Row, summary: ExecutionSummary, now: datetime) -> None:
        if summary != row.summary:
            row.summary = summary
            row.badge.set_status(summary.status)
            row.trigger.set_type(summary.trigger_type, imported=summary.imported)
            row.started.set_text(fmt.timestamp(summary.started_at or summary.created_at, now=now))
            row.progress.set_text(progress_text(summary))
            row.progress.props['title'] = _progress_hint(summary)
            row.progress.update()
            row.message.set_text(_message(summary))
        row.duration.set_text(fmt.duration(summary.elapsed_ms(now)))

    def _empty(self) -> None:
        empty_state('empty-state', 'inbox', self._empty_title, self._empty_hint)


def _message(summary: ExecutionSummary) -> str:
    return summary.error.splitlines()[0] if summary.error else ''


def _counted(summary: ExecutionSummary) -> tuple[int, str]:
    """The nodes the progress counts: done; for a run that ended short, succeeded (its cancelled nodes are done)."""
    if summary.status in ENDED_SHORT and summary.succeeded is not None:
        return summary.succeeded, 'succeeded'
    return summary.done, 'done'


def progress_text(summary: ExecutionSummary) -> str:
    return f'{_counted(summary)[0]}/{summary.total}' if summary.total else fmt.DASH


def _progress_hint(summary: ExecutionSummary) -> str:
    count, word = _counted(summary)
    return f'{count} of {summary.total} nodes {word}'


def _head_classes(title: str) -> str:
    """The head cell's classes: figures align right; on a phone the status leads and the name follows it."""
    if title in {'Duration', 'Nodes'}:
        return 'fm-cell fm-right'
    if title == 'Status':
        return 'fm-cell fm-col-lead'
    if title in {'Workflow', 'Message'}:
        return 'fm-cell fm-col-what'
    return 'fm-cell'
