"""The use cases, as FastAPI dependencies: a route names the one it needs as a parameter of its type.

:func:`~flowmon.api.install_api` puts the :class:`~flowmon.application.Application` in the app's state; each
alias below reads one use case from it per request, so routes are declared once, at import, and hold nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from flowmon.application import (
    Application,
    automation,
    bulk,
    deliveries,
    endpoints,
    exchange,
    executions,
    history,
    live,
    saved_views,
    secrets,
    stats,
    status,
    streams,
)
from flowmon.application import workflows as workflow_use_cases
from flowmon.application.errors import NotFound
from flowmon.application.ids import no_trigger, unknown_execution, unknown_workflow

STATE_KEY = 'flowmon_application'


def application(request: Request) -> Application:
    """The application that :func:`~flowmon.api.install_api` installed on this app."""
    found: Application = getattr(request.app.state, STATE_KEY)
    return found


def _use_case(name: str) -> Callable[[Request], Any]:
    def dependency(request: Request) -> Any:
        return getattr(application(request), name)

    dependency.__name__ = f'{name}_use_cases'
    return dependency


App = Annotated[Application, Depends(application)]
Automation = Annotated[automation.Automation, Depends(_use_case('automation'))]
Bulk = Annotated[bulk.BulkActions, Depends(_use_case('bulk'))]
Deliveries = Annotated[deliveries.Deliveries, Depends(_use_case('deliveries'))]
Endpoints = Annotated[endpoints.Endpoints, Depends(_use_case('endpoints'))]
Exchange = Annotated[exchange.Exchange, Depends(_use_case('exchange'))]
Executions = Annotated[executions.Executions, Depends(_use_case('executions'))]
History = Annotated[history.ExecutionHistory, Depends(_use_case('history'))]
Live = Annotated[live.LiveView, Depends(_use_case('live'))]
Secrets = Annotated[secrets.Secrets, Depends(_use_case('secrets'))]
Stats = Annotated[stats.NodeStatistics, Depends(_use_case('stats'))]
Status = Annotated[status.Status, Depends(_use_case('status'))]
Streams = Annotated[streams.EventStreams, Depends(_use_case('streams'))]
Views = Annotated[saved_views.SavedViews, Depends(_use_case('saved_views'))]
Workflows = Annotated[workflow_use_cases.Workflows, Depends(_use_case('workflows'))]


# The ids a path names, and what answers one that no stored workflow or execution can have
PATH_IDS: dict[str, Callable[[str], NotFound | None]] = {
    'workflow_id': unknown_workflow,
    'execution_id': unknown_execution,
}


def known_ids(request: Request) -> None:
    """404 for a workflow or execution id in the path that no stored one can have, before any query (see
    :mod:`flowmon.application.ids`). A PUT creates what it names: the definition's check refuses a bad id (422)."""
    if request.method == 'PUT':
        return
    for name, unknown in PATH_IDS.items():
        value = request.path_params.get(name)
        refusal = None if value is None else unknown(value)
        if refusal is not None:
            raise refusal


def trigger_address(request: Request) -> None:
    """``POST /hooks/{workflow_id}`` with an id no workflow can have: the one 404 of every address without a
    trigger, before any query."""
    refusal = no_trigger(request.path_params.get('workflow_id', ''))
    if refusal is not None:
        raise refusal
