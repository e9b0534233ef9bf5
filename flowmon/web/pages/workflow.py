"""``/workflows/{workflow_id}``: the workflow drawn on the canvas (each node's type on its card), Run (with optional
JSON input), Edit, Delete (of the version shown, after a dialog that says what goes and what stays), each node's
duration over its last runs, and its history. A workflow loaded from a file of the
workflows directory says so: the file replaces it again at the next start.

The history is one page of executions from SQL (filters and page in the URL, like ``/executions``), kept
live from the shared projector: new runs of this workflow join the first page as they are queued.
"""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from nicegui import PageArguments, ui

from flowmon.application import Application
from flowmon.application.errors import NotFound
from flowmon.application.stats import SAMPLE
from flowmon.application.workflows import StoredWorkflow
from flowmon.web.actions import NotDone, found, one_at_a_time, run_workflow
from flowmon.web.filters import ExecutionFilter
from flowmon.web.format import count, duration, plural
from flowmon.web.widgets.automation_panel import automation_panel
from flowmon.web.widgets.bulk_bar import list_page, selectable_rows
from flowmon.web.widgets.dag_view import DagView
from flowmon.web.widgets.deletion_watch import DeletionWatch
from flowmon.web.widgets.duration_trend import DurationTrend, chart_note
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.execution_table import ExecutionTable
from flowmon.web.widgets.filter_bar import FilterBar, url_filter
from flowmon.web.widgets.json_input_dialog import JsonInputDialog
from flowmon.web.widgets.panel_title import panel_title
from flowmon.web.widgets.provisioned_note import provisioned_note
from flowmon.web.widgets.text_block import TextBlock
from flowmon.web.workflow_actions import delete_workflow

PAGE_SIZE = 20


async def create(application: Application, workflow_id: str, args: PageArguments) -> None:
    """Build the workflow page; the URL's query holds the history's filters and search."""
    stored = await found(application.workflows.get(workflow_id))
    with ui.column().classes('w-full gap-6 fm-page').mark('workflow-page'):
        if stored is None:
            _not_found(workflow_id)
            return
        flt = url_filter(args.query_parameters)
        flt = flt.with_(workflow_id=workflow_id, page=flt.page)
        gone = ui.element('div').classes('w-full')  # says the workflow was deleted, when it is
        actions = _header(application, stored)
        provisioned_note(application.workflows.provisioning_file(workflow_id))
        withdraw = await automation_panel(application, workflow_id)  # trigger URL and schedule, when it has them
        _watch_deletion(application, workflow_id, gone, actions, withdraw)
        with ui.card().classes('fm-panel w-full p-0 overflow-hidden').props('flat bordered').mark('workflow-canvas'):
            DagView(stored.definition, on_select=_node_details(stored), height='auto', definition_only=True)
        with ui.card().classes('fm-panel w-full').props('flat bordered').mark('node-durations'):
            await _durations(application, workflow_id)
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            await _history(application, stored, flt)


def _watch_deletion(
    application: Application, workflow_id: str, gone: ui.element, actions: ui.element, withdraw: Callable[[], None]
) -> None:
    """Once the workflow is deleted (here in another tab, through the API, in another process) the page says so and
    its actions go, the automation panel's too (``withdraw``: a revealed trigger secret is cleared); what it shows
    stays readable. A look in memory every second, no query."""

    def withdraw_all() -> None:
        for button in actions.default_slot.children:  # (disabled too: a keyboard shortcut clicks hidden ones)
            if isinstance(button, ui.button):
                button.disable()
        actions.set_visibility(False)
        withdraw()

    with gone:
        DeletionWatch(
            f'workflow {workflow_id}',
            'This workflow was deleted. Its executions stay in the history.',
            'workflow-deleted',
            deleted=lambda: application.workflows.deleted(workflow_id),
            withdraw=withdraw_all,
            link=('Its executions', _executions_url(workflow_id)),
            seconds=1.0,
        )


def _executions_url(workflow_id: str) -> str:
    return f'/executions?{urlencode({"workflow_id": workflow_id})}'


def _header(application: Application, stored: StoredWorkflow) -> ui.element:
    definition = stored.definition
    nodes = len(definition.get('nodes') or [])
    edges = len(definition.get('edges') or [])
    dialog = JsonInputDialog(
        title=f'Run “{stored.name}” with input',
        hint='The input is a JSON object; nodes read it as input.* (empty means {}).',
        on_submit=lambda value: _run(application, stored.id, value),
        budget=application.executions.budget,
    )
    with ui.row().classes('w-full items-start justify-between gap-4 fm-page-head'):
        with ui.column().classes('gap-1 min-w-0'):
            with ui.row().classes('items-center gap-2 text-sm text-grey-7'):
                ui.link('Dashboard', '/').classes('fm-link')
                ui.label('/')
                ui.label('Workflows')
            ui.label(stored.name).classes('fm-title').mark('workflow-name')
            with ui.row().classes('items-center gap-3 text-sm text-grey-7'):
                ui.label(stored.id).classes('fm-mono')
                ui.label(f'{plural(nodes, "node")} · {plural(edges, "edge")}')
                ui.label(f'updated {stored.updated_at.strftime("%Y-%m-%d %H:%M")} UTC')
            description = str(definition.get('description') or '')
            if description:
                ui.label(description).classes('text-sm fm-description').mark('workflow-description')
        with ui.row().classes('gap-2 shrink-0 fm-actions').mark('workflow-actions') as actions:
            ui.button('Delete…', icon='delete', on_click=lambda: delete_workflow(application, stored)).props(
                'flat no-caps color=negative data-testid=delete-workflow'
            ).mark('delete-workflow')
            ui.button('Edit', icon='edit', on_click=lambda: ui.navigate.to(f'/workflows/{stored.id}/edit')).props(
                'flat no-caps data-testid=edit-workflow'
            ).mark('edit-workflow')
            ui.button('Run with input…', icon='data_object', on_click=dialog.open).props(
                'outline no-caps data-testid=run-with-input'
            ).mark('run-with-input')
            ui.button('Run', icon='play_arrow', on_click=one_at_a_time(lambda: _run(application, stored.id, {}))).props(
                'unelevated no-caps data-fm-shortcut=run'
            ).mark('run')
    return actions


async def _durations(application: Application, workflow_id: str) -> None:
    """Each node's duration over its last successful runs, and its usual figures."""
    panel_title(
        'Node durations', f"each node's last {SAMPLE} successful runs; a run above its p95 is flagged slower than usual"
    )
    try:
        trend = await application.stats.trend(workflow_id)
        usual = await application.stats.nodes(workflow_id)
    except NotFound:  # deleted while the page was being built (the deletion watch says so at once)
        ui.label('None: the workflow was deleted.').classes('text-sm text-grey-7').mark('durations-gone')
        return
    DurationTrend(trend)
    ran = [node_id for node_id, stats in usual.items() if stats.count]
    if not ran:
        return
    note = chart_note(trend, len(ran))
    if note is not None:
        ui.label(note).classes('text-xs text-grey-7').mark('duration-trend-note')
    with ui.element('div').classes('fm-scroll-x w-full'):
        with ui.element('div').classes('fm-stats-table').mark('node-stats'):
            for text in ('node', 'runs', 'p50', 'p95'):
                ui.label(text).classes('fm-stats-head')
            for node_id in ran:
                stats = usual[node_id]
                ui.label(node_id).classes('fm-mono fm-ellipsis')
                ui.label(str(stats.count)).classes('fm-num text-right')
                ui.label(_seconds(stats.p50_seconds)).classes('fm-num text-right')
                ui.label(_seconds(stats.p95_seconds)).classes('fm-num text-right')


def _seconds(value: float | None) -> str:
    return duration(None if value is None else value * 1000)


async def _run(application: Application, workflow_id: str, value: dict[str, Any]) -> bool:
    """Whether the run started (refused: the notification says why, and "Run with input…" stays open with the input)."""
    return not isinstance(await run_workflow(application, workflow_id, value), NotDone)


async def _history(application: Application, stored: StoredWorkflow, flt: ExecutionFilter) -> None:
    path = f'/workflows/{stored.id}'
    flt, (records, total) = await list_page(
        application, flt, PAGE_SIZE, url=lambda page: page.url(path, include_workflow=False)
    )

    def go(new: ExecutionFilter) -> None:
        ui.navigate.to(new.url(path, include_workflow=False))

    with ui.row().classes('w-full items-center justify-between'):
        total_label = panel_title('Execution history', f'{count(total)} matching').mark('history-total')
    FilterBar(flt, on_change=go)
    rows = selectable_rows(
        application, flt, (records, total), page_size=PAGE_SIZE, on_page=lambda p: go(flt.with_(page=p)),
        table=lambda on_select: ExecutionTable(
            workflow_names={stored.id: stored.name}, show_workflow=False, on_select=on_select,
            empty_title='No executions match' if not flt.is_empty else 'Not run yet',
            empty_hint='Try another filter.' if not flt.is_empty else 'Press Run: the execution appears here, live.',
        ),
    )  # fmt: skip
    rows.follow(lambda known: total_label.set_text(f'{count(known)} matching'))


def _node_details(stored: StoredWorkflow) -> Any:
    nodes = {str(node.get('id')): node for node in stored.definition.get('nodes') or [] if isinstance(node, dict)}

    def show(node_id: str) -> None:
        node = nodes.get(node_id)
        if node is None:
            return
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-lg gap-2').mark('node-details'):
            ui.label(str(node.get('name') or node_id)).classes('text-lg font-semibold')
            ui.label(f'{node_id} · {node.get("type")}').classes('text-sm text-grey-7 fm-mono')
            TextBlock(json.dumps(node.get('config') or {}, indent=2, ensure_ascii=False)).props(
                'data-testid=node-config'
            )
            if node.get('retry'):
                ui.label(f'Retry: {json.dumps(node["retry"])}').classes('text-xs text-grey-7 fm-mono')
            with ui.row().classes('w-full justify-end'):
                ui.button('Close', on_click=dialog.close).props('flat no-caps')
        dialog.on('hide', dialog.delete)
        dialog.open()

    return show


def _not_found(workflow_id: str) -> None:
    reason = f'There is no workflow with the id “{workflow_id}”.'
    stays = 'If it was deleted, its executions stay in the history.'
    executions = ('Its executions', _executions_url(workflow_id), 'workflow-executions-link')
    not_found(
        'workflow-not-found',
        'account_tree',
        'Workflow not found',
        [reason, stays],
        ('Back to the dashboard', '/'),
        executions,
    )
