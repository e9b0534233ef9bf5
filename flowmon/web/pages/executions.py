"""``/executions``: every execution, filtered by workflow, status and time, one SQL page at a time.

The filters and the page live in the URL (``?workflow_id=&status=&since=&until=&page=``), so metric cards
link straight to a filtered list and the browser's back button walks through filter changes. The visible
page stays live: the shared projector updates its rows, and on the first page new executions that match
the filters join at the top.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from flowmon.application import Application
from flowmon.web.filters import ExecutionFilter
from flowmon.web.format import count
from flowmon.web.live_rows import LiveRows
from flowmon.web.widgets.execution_table import ExecutionTable
from flowmon.web.widgets.filter_bar import FilterBar
from flowmon.web.widgets.import_button import ImportButton
from flowmon.web.widgets.pager import Pager

PAGE_SIZE = 25
PATH = '/executions'


async def create(
    application: Application, workflow_id: str = '', status: str = '', since: str = '', until: str = '', page: str = ''
) -> None:
    """Build the list for the filters in the URL."""
    flt, problems = ExecutionFilter.from_query(
        {'workflow_id': workflow_id, 'status': status, 'since': since, 'until': until, 'page': page}
    )
    for problem in problems:
        ui.notify(f'Filter: {problem}', type='warning')
    now = datetime.now(UTC)
    workflows = await application.workflows.all()
    names = {workflow.id: workflow.name for workflow in workflows}
    records, total = await application.history.page(**flt.history_query(now, PAGE_SIZE))

    def go(new: ExecutionFilter) -> None:
        ui.navigate.to(new.url(PATH))

    with ui.column().classes('w-full gap-6 fm-page').mark('executions-page'):
        with ui.row().classes('w-full items-end no-wrap'):
            with ui.column().classes('gap-0 grow'):
                ui.label('Executions').classes('fm-title')
                summary = ui.label('').classes('text-sm text-grey-7').mark('executions-total')
            ImportButton(application)
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            FilterBar(flt, on_change=go, workflows=names)
            table = ExecutionTable(
                workflow_names=names,
                empty_title='No executions match these filters' if not flt.is_empty or flt.workflow_id else
                'No executions yet',
                empty_hint='Widen the time window or clear the filters.' if not flt.is_empty or flt.workflow_id else
                'Run a workflow from the dashboard or its page; it appears here, live.',
            )  # fmt: skip
            rows = LiveRows(application.live, table, records, total, flt, limit=PAGE_SIZE)
            Pager(page=flt.page, page_size=PAGE_SIZE, total=rows.total, on_page=lambda p: go(flt.with_(page=p)))
    summary.set_text(_summary(rows.total, flt, names))
    rows.follow(lambda total: summary.set_text(_summary(total, flt, names)))


def _summary(total: int, flt: ExecutionFilter, names: dict[str, str]) -> str:
    parts = [f'{count(total)} execution{"s" if total != 1 else ""}']
    if flt.workflow_id:
        parts.append(f'of {names.get(flt.workflow_id, flt.workflow_id)}')
    if flt.status:
        parts.append(f'· {flt.status}')
    parts.append(f'· {flt.describe_window().lower()}')
    return ' '.join(parts)
