"""The workflows, each with its size, a one-line description, a link to its page and a Run button, under a filter box
(:mod:`~flowmon.web.widgets.workflow_filter`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from nicegui import ui

from flowmon.application.workflows import StoredWorkflow
from flowmon.web.a11y import named
from flowmon.web.actions import one_at_a_time
from flowmon.web.format import plural
from flowmon.web.widgets.empty_state import empty_state
from flowmon.web.widgets.workflow_filter import WorkflowFilter


class WorkflowList:
    """``on_run(workflow_id)`` is called by the Run buttons."""

    def __init__(self, workflows: Sequence[StoredWorkflow], *, on_run: Callable[[str], Awaitable[object]]) -> None:
        with ui.column().classes('w-full gap-0 fm-workflows').mark('workflow-list'):
            if not workflows:
                hint = (
                    'Write one with New workflow, put JSON or YAML files in the workflows directory, '
                    'or PUT /api/workflows/{id}.'
                )
                empty_state('workflows-empty', 'account_tree', 'No workflows yet', hint)
                return
            shown = WorkflowFilter('workflow-filter')
            for workflow in workflows:
                shown.add(workflow, _row(workflow, on_run))


def _row(workflow: StoredWorkflow, on_run: Callable[[str], Awaitable[object]]) -> ui.row:
    nodes = len(workflow.definition.get('nodes') or [])
    description = str(workflow.definition.get('description') or '')
    with (
        ui.row()
        .classes('w-full items-center no-wrap gap-3 fm-workflow-row')
        .props(f'data-testid=workflow-{workflow.id}')
        .mark(f'workflow-{workflow.id}') as row
    ):
        with ui.column().classes('gap-0 min-w-0 grow'):
            with ui.row().classes('w-full items-baseline gap-2 no-wrap min-w-0'):
                ui.link(workflow.name, f'/workflows/{workflow.id}').classes('fm-link font-medium fm-ellipsis')
                ui.label(plural(nodes, 'node')).classes('text-xs text-grey-7 shrink-0')
            if description:
                ui.label(description).classes('text-xs text-grey-7 fm-ellipsis w-full').tooltip(description)
        run = ui.button('Run', icon='play_arrow', on_click=one_at_a_time(lambda: on_run(workflow.id)))
        named(run, f'Run workflow {workflow.name}').props('unelevated dense no-caps').classes('px-3 shrink-0').mark(
            f'run-{workflow.id}'
        )
    return row
