"""Starting, listing, reading, cancelling, rerunning and deleting executions."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import TypeAdapter

from flowmon.application.bulk import MAX_BULK, BulkFilter
from flowmon.application.history import EventPage, encoded_page
from flowmon.application.origins import ACCEPTED as ORIGINS_ACCEPTED
from flowmon.application.views import event_view, execution_summary, page_view
from flowmon.engine.core.events import Event
from flowmon.engine.core.provenance import TRIGGER_TYPES, api_trigger

from .dependencies import Bulk, Executions, History, Live, Stats
from .errors import MeasuredBodyRoute
from .params import Listing, Sequence
from .schemas import BulkRequest, ExecutionRequest, RerunRequest
from .written import WrittenAsReadResponse

router = APIRouter(prefix='/api', tags=['executions'], route_class=MeasuredBodyRoute)
log = logging.getLogger(__name__)

SEARCH_DESCRIPTION = (
    'executions whose input, node outputs or error messages contain this text (case-insensitive substring of one '
    'key or value; 3-200 characters)'
)

QUEUE_FULL = {'description': 'too many executions queued (FLOWMON_MAX_QUEUED_EXECUTIONS), or flowmon stopping'}


@router.post(
    '/workflows/{workflow_id}/executions',
    status_code=status.HTTP_202_ACCEPTED,
    responses={503: QUEUE_FULL},
)
async def start_execution(
    workflow_id: str,
    executions: Executions,
    live: Live,
    request: Annotated[ExecutionRequest | None, Body()] = None,
) -> dict[str, Any]:
    request = request or ExecutionRequest()
    execution_id = await executions.start(workflow_id, request.input, priority=request.priority, trigger=api_trigger())
    state = live.get(execution_id)
    return {'id': execution_id, 'status': state.status if state else 'queued'}


@router.get('/executions')
async def list_executions(
    history: History,
    window: Listing,
    workflow_id: str | None = None,
    status_filter: Annotated[str | None, Query(alias='status')] = None,
    trigger: Annotated[str | None, Query(description=f'how they were started: {", ".join(TRIGGER_TYPES)}')] = None,
    origin: Annotated[str | None, Query(description=f'where they come from: {ORIGINS_ACCEPTED}')] = None,
    q: Annotated[str | None, Query(description=SEARCH_DESCRIPTION)] = None,
) -> dict[str, Any]:
    records, total = await history.page(
        workflow_id=workflow_id, status=status_filter, trigger=trigger, origin=origin, q=q, **window.query()
    )
    return page_view([record.to_json() for record in records], total, window.limit, window.offset)


@router.post(
    '/executions/bulk',
    responses={422: {'description': f'an unknown action, both or neither of ids and filter, more than {MAX_BULK}'}},
)
async def bulk_action(request: BulkRequest, bulk: Bulk) -> dict[str, Any]:
    """Cancel, rerun or delete the executions named by ``ids`` or matched by ``filter`` (at most 500): counts per
    outcome (``done``, ``skipped`` when the action does not apply, ``failed``), the new ``ids`` of a rerun, and an
    outcome per execution in ``items``."""
    where = cast(BulkFilter, request.filter.model_dump()) if request.filter is not None else None  # (the same keys)
    return (await bulk.apply(request.action, ids=request.ids, where=where)).to_json()


@router.get('/executions/{execution_id}')
async def get_execution(execution_id: str, history: History, stats: Stats) -> dict[str, Any]:
    """The execution summary; each node's ``slow`` says whether it took (or, running, has taken so far) longer
    than the p95 of its last 50 successful runs in other executions (at least 5 of them)."""
    state = await history.state(execution_id)
    return execution_summary(state, await stats.slow_nodes(state))


@router.delete(
    '/executions/{execution_id}',
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {'description': 'unknown (or already deleted)'}, 409: {'description': 'queued or running'}},
)
async def delete_execution(execution_id: str, executions: Executions) -> Response:
    """Delete a finished execution with its events and node runs."""
    await executions.delete(execution_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


EventList = list[dict[str, Any]]
# FastAPI's own encoding of the route's list (pydantic's, as for any route returning a value): the streamed body is
# byte for byte the body it wrote for the whole list at once.
_EVENT_LIST = TypeAdapter(EventList)


def _page_json(events: list[Event]) -> bytes:
    """The page's events as members of the route's JSON array (the array's text without its brackets)."""
    return _EVENT_LIST.dump_json([event_view(event) for event in events])[1:-1]


class EventListResponse(WrittenAsReadResponse):
    """An execution's whole event list, written page by page as it is read (see ``ExecutionHistory.event_pages``):
    a failing read of a later page ends it with the array unclosed."""

    def __init__(self, execution_id: str, pages: AsyncGenerator[EventPage, None]) -> None:
        failure = f'reading the events of execution {execution_id!r} failed; its event list ends unclosed'
        super().__init__(_event_list(pages), close=pages.aclose, log=log, failure=failure)


async def _event_list(pages: AsyncGenerator[EventPage, None]) -> AsyncGenerator[bytes, None]:
    separator = b'['
    async for page in pages:
        yield separator + await encoded_page(page, _page_json)
        separator = b','
    yield b'[]' if separator == b'[' else b']'


@router.get('/executions/{execution_id}/events', response_model=EventList)
async def get_events(
    execution_id: str,
    history: History,
    after_seq: Sequence = 0,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> EventList | Response:
    """The execution's events in ``seq`` order after ``after_seq``: at most ``limit`` of them, or every one; written
    as they are read, page by page."""
    return EventListResponse(execution_id, await history.event_pages(execution_id, after_seq=after_seq, limit=limit))


@router.post(
    '/executions/{execution_id}/cancel',
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {'description': 'already ended (succeeded, failed, cancelled, interrupted) or imported'}},
)
async def cancel_execution(execution_id: str, executions: Executions) -> dict[str, Any]:
    await executions.cancel(execution_id)
    return {'id': execution_id, 'status': 'cancelling'}


@router.post(
    '/executions/{execution_id}/rerun',
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: {'description': 'still queued or running (cancel it or wait), or imported'},
        503: QUEUE_FULL,
    },
)
async def rerun_execution(
    execution_id: str, executions: Executions, request: Annotated[RerunRequest | None, Body()] = None
) -> dict[str, Any]:
    request = request or RerunRequest()
    new_id = await executions.rerun(execution_id, from_node=request.from_node, input=request.input)
    return {'id': new_id, 'status': 'queued', 'retry_of': execution_id}
