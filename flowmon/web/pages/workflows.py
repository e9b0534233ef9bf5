"""``/workflows``: every workflow, in the order of :func:`~flowmon.application.workflows.name_order`, under a filter
box, each with its page and a Run button (the dashboard shows the same list beside its figures)."""

from __future__ import annotations

from nicegui import ui

from flowmon.application import Application
from flowmon.web.actions import run_workflow
from flowmon.web.format import plural
from flowmon.web.widgets.workflow_list import WorkflowList


async def create(application: Application) -> None:
    """Build the list."""
    workflows = await application.workflows.all()
    with ui.column().classes('w-full gap-6 fm-page').mark('workflows-page'):
        with ui.row().classes('w-full items-end justify-between'):
            with ui.column().classes('gap-0'):
                ui.label('Workflows').classes('fm-title')
                ui.label(plural(len(workflows), 'workflow')).classes('text-sm text-grey-7').mark('workflows-total')
            ui.link('New workflow →', '/workflows/new').classes('fm-link text-sm').mark('new-workflow')
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            WorkflowList(workflows, on_run=lambda workflow_id: run_workflow(application, workflow_id))
