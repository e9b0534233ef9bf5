"""Starting, listing, reading, cancelling and rerunning executions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, status

from flowmon.application.views import execution_summary
from flowmon.engine.core.payload import PayloadError
from flowmon.engine.core.state import EXECUTION_STATUSES
from flowmon.engine.model import WorkflowError
from flowmon.engine.runtime.scheduler import RerunError
from flowmon.services import Conflict, NotFound, Services

from .errors import MeasuredBodyRoute, payload_refused
from .params import Offset, Sequence, UtcTime
from .schemas import ExecutionRequest, RerunRequest


def execution_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api', tags=['executions'], route_class=MeasuredBodyRoute)

    @router.post('/workflows/{workflow_id}/executions', status_code=status.HTTP_202_ACCEPTED)
    async def start_execution(
        workflow_id: str, request: Annotated[ExecutionRequest | None, Body()] = None
    ) -> dict[str, Any]:
        request = request or ExecutionRequest()
        try:
            execution_id = await services.start_execution(workflow_id, request.input, priority=request.priority)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except WorkflowError as exc:
            raise HTTPException(422, f'stored workflow is no longer valid: {exc}') from None
        except PayloadError as exc:
            raise payload_refused(exc) from None
        state = services.projector.get(execution_id)
        return {'id': execution_id, 'status': state.status if state else 'queued'}

    @router.get('/executions')
    async def list_executions(
        workflow_id: str | None = None,
        status_filter: Annotated[str | None, Query(alias='status')] = None,
        since: UtcTime | None = None,
        until: UtcTime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        if status_filter is not None and status_filter not in EXECUTION_STATUSES:
            raise HTTPException(422, f'status must be one of {", ".join(EXECUTION_STATUSES)}, got {status_filter!r}')
        await services.recorder.flush()
        records, total = await services.history.list_executions(
            workflow_id=workflow_id, status=status_filter, since=since, until=until, limit=limit, offset=offset
        )
        return {'items': [record.to_json() for record in records], 'total': total, 'limit': limit, 'offset': offset}

    @router.get('/executions/{execution_id}')
    async def get_execution(execution_id: str) -> dict[str, Any]:
        state = await services.execution_state(execution_id)
        if state is None:
            raise HTTPException(404, f'execution {execution_id!r} not found')
        return execution_summary(state)

    @router.get('/executions/{execution_id}/events')
    async def get_events(
        execution_id: str,
        after_seq: Sequence = 0,
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> list[dict[str, Any]]:
        events = await services.execution_events(execution_id, after_seq=after_seq, limit=limit)
        if not events and await services.execution_state(execution_id) is None:
            raise HTTPException(404, f'execution {execution_id!r} not found')
        return [
            {'seq': e.seq, 'ts': e.ts.isoformat(), 'type': str(e.type), 'node_id': e.node_id, 'data': dict(e.data)}
            for e in events
        ]

    @router.post('/executions/{execution_id}/cancel', status_code=status.HTTP_202_ACCEPTED)
    async def cancel_execution(execution_id: str) -> dict[str, Any]:
        try:
            await services.cancel_execution(execution_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {'id': execution_id, 'status': 'cancelling'}

    @router.post('/executions/{execution_id}/rerun', status_code=status.HTTP_202_ACCEPTED)
    async def rerun_execution(
        execution_id: str, request: Annotated[RerunRequest | None, Body()] = None
    ) -> dict[str, Any]:
        request = request or RerunRequest()
        try:
            new_id = await services.rerun_execution(execution_id, from_node=request.from_node, input=request.input)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except PayloadError as exc:
            raise payload_refused(exc) from None
        except (RerunError, WorkflowError) as exc:
            raise HTTPException(422, str(exc)) from None
        return {'id': new_id, 'status': 'queued', 'retry_of': execution_id}

    return router
