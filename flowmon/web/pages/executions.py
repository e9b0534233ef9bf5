"""``/executions``: every execution, searched and filtered by workflow, status, trigger, origin (run here or
imported) and time, one SQL page at a time, with bulk actions on a selection.

The search, the filters and the page live in the URL (``?workflow_id=&status=&trigger=&origin=&q=&since=&until=``
and ``&page=``), so metric cards and saved views link straight to a filtered list and the browser's back button walks
through filter changes. The visible page stays live: the shared projector updates its rows, and on the first page new
executions that match the filters join at the top.
"""

from nicegui import PageArguments, ui

from flowmon.application import Application
from flowmon.web.filters import ExecutionFilter
from flowmon.web.format import count
from flowmon.web.widgets.bulk_bar import list_page, selectable_rows
from flowmon.web.widgets.execution_table import ExecutionTable
from flowmon.web.widgets.filter_bar import FilterBar, url_filter
from flowmon.web.widgets.import_button import ImportButton
from flowmon.web.widgets.saved_views import save_view_button

PAGE_SIZE = 25
PATH = '/executions'


async def create(application: Application, args: PageArguments) -> None:
    """Build the list for the filters in the URL."""
    flt = url_filter(args.query_parameters)
    workflows = await application.workflows.all()
    names = {workflow.id: workflow.name for workflow in workflows}
    flt, (records, total) = await list_page(application, flt, PAGE_SIZE, url=lambda page: page.url(PATH))

    def go(new: ExecutionFilter) -> None:
        ui.navigate.to(new.url(PATH))

    with ui.column().classes('w-full gap-6 fm-page').mark('executions-page'):
        with ui.row().classes('w-full items-end no-wrap fm-head-wrap'):
            with ui.column().classes('gap-0 grow fm-head-title'):
                ui.label('Executions').classes('fm-title')
                summary = ui.label('').classes('text-sm text-grey-7').mark('executions-total')
            save_view_button(application, flt)
            ImportButton(application)
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            FilterBar(flt, on_change=go, workflows=names)
            rows = selectable_rows(
                application, flt, (records, total), page_size=PAGE_SIZE, on_page=lambda p: go(flt.with_(page=p)),
                table=lambda on_select: ExecutionTable(
                    workflow_names=names, on_select=on_select,
                    empty_title='No executions match these filters' if not flt.is_empty or flt.workflow_id else
                    'No executions yet',
                    empty_hint=_empty_hint(flt) if not flt.is_empty or flt.workflow_id
                    else 'Run a workflow from the dashboard or its page; it appears here, live.',
                ),
            )  # fmt: skip
    summary.set_text(_summary(rows.total, flt, names))
    rows.follow(lambda total: summary.set_text(_summary(total, flt, names)))


def _empty_hint(flt: ExecutionFilter) -> str:
    """What may find executions when none match: only what the filter holds (no time window to widen when it has
    none, other words when it searches)."""
    ways = ['widen the time window'] if flt.since or flt.until else []
    if flt.q:
        ways.append('search for other text (inputs, node outputs, errors)')
    ways.append('clear the filters')
    text = f'{", ".join(ways[:-1])} or {ways[-1]}' if len(ways) > 1 else ways[0]
    return f'{text[0].upper()}{text[1:]}.'


def _summary(total: int, flt: ExecutionFilter, names: dict[str, str]) -> str:
    parts = [f'{count(total)} execution{"s" if total != 1 else ""}']
    if flt.workflow_id:
        parts.append(f'of {names.get(flt.workflow_id, flt.workflow_id)}')
    if flt.status:
        parts.append(f'· {flt.status}')
    if flt.trigger:
        parts.append(f'· started by {flt.trigger}')
    if flt.origin:
        parts.append('· imported' if flt.origin == 'imported' else '· run here')
    if flt.q:
        parts.append(f'· containing \N{LEFT DOUBLE QUOTATION MARK}{flt.q}\N{RIGHT DOUBLE QUOTATION MARK}')
    window = flt.describe_window()
    parts.append(f'· {window[:1].lower()}{window[1:]}')  # (a date-time's T and UTC stay as they are)
    return ' '.join(parts)
