"""The execution page's header: a breadcrumb to the executions and the workflow, the workflow's name, the execution's
short id (the full one in its tooltip) with a button that copies it, and how the execution was started (its trigger,
and the execution a rerun reran).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowmon.engine.core.provenance import trigger_type
from flowmon.engine.core.state import ExecutionState
from flowmon.web.format import short_id
from flowmon.web.widgets.trigger_label import TriggerLabel


def execution_header(state: ExecutionState, definition: dict[str, Any]) -> None:
    """The header: where the execution sits (Executions, its workflow), its name and id (copied with a click), and
    how it was started."""
    name = str(definition.get('name') or state.workflow_id or 'Execution')
    with ui.row().classes('w-full items-end gap-3 no-wrap fm-wrap-narrow'):
        with ui.column().classes('gap-0 min-w-0'):
            with ui.row().classes('items-center gap-1 text-sm text-gray-500'):
                ui.link('Executions', '/executions').classes('text-gray-500 no-underline hover:underline')
                ui.icon('chevron_right', size='16px')
                if state.workflow_id:
                    ui.link(name, f'/workflows/{state.workflow_id}').classes(
                        'text-gray-500 no-underline hover:underline'
                    )
            with ui.row().classes('items-baseline gap-3'):
                ui.label(name).classes('fm-title')
                # the id and its copy button wrap as one: the button never sits alone on a line of its own
                with ui.row().classes('items-baseline gap-1 no-wrap').props('data-testid=execution-id-group'):
                    ui.label(short_id(state.id)).classes('font-mono text-sm text-gray-500').tooltip(state.id).props(
                        'data-testid=execution-id'
                    )
                    ui.button(icon='content_copy', on_click=lambda: _copy_id(state.id)).props(
                        'flat round dense size=sm aria-label="Copy execution id" data-testid=copy-execution-id'
                    ).mark('copy-execution-id')
            _started_by(state)


def _started_by(state: ExecutionState) -> None:
    """The trigger: its word and icon, and what identifies the source (the cron expression, the webhook-id, the
    execution it reran)."""
    trigger = state.trigger or {}
    kind = trigger_type(state.trigger)
    if kind is None and not state.retry_of:
        return  # recorded before flowmon recorded triggers: nothing to say
    with (
        ui.row()
        .classes('items-center gap-2 text-sm text-gray-500')
        .props('data-testid=execution-trigger')
        .mark('execution-trigger')
    ):
        ui.label('Started by')
        TriggerLabel(kind)
        if kind == 'schedule':
            ui.label(f'{trigger.get("cron", "")} ({trigger.get("timezone", "UTC")})').classes('font-mono')
        elif kind == 'hook':
            ui.label(f'webhook-id {trigger.get("webhook-id", "")}').classes('font-mono fm-ellipsis')
        if state.retry_of:
            ui.label('of')
            ui.link(short_id(state.retry_of), f'/executions/{state.retry_of}').classes('font-mono')
            if state.from_node:
                ui.label(f'from node {state.from_node}')


def _copy_id(execution_id: str) -> None:
    ui.clipboard.write(execution_id)
    ui.notify('Execution id copied', type='positive')
