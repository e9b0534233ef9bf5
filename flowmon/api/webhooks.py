"""``/api/webhooks``: queue, list, inspect, redeliver and cancel deliveries; manage endpoints and their secrets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from flowmon.application.deliveries import DeliveryRequest
from flowmon.application.endpoints import EndpointPatch, EndpointSpec
from flowmon.application.views import page_view, queued_view

from .dependencies import Deliveries, Endpoints
from .errors import MeasuredBodyRoute
from .params import GraceSeconds, Listing, Since, Until

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], route_class=MeasuredBodyRoute)


class BulkRedeliverRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    endpoint: str | None = None
    status: list[str] = Field(default_factory=lambda: ['failed', 'exhausted'], min_length=1)
    since: Since | None = None
    until: Until | None = None


@router.post('/deliveries', status_code=status.HTTP_202_ACCEPTED)
async def queue_delivery(request: DeliveryRequest, deliveries: Deliveries) -> dict[str, Any]:
    return queued_view(await deliveries.enqueue(request))


@router.get('/deliveries')
async def list_deliveries(
    deliveries: Deliveries,
    window: Listing,
    status_filter: Annotated[str | None, Query(alias='status')] = None,
    endpoint: str | None = None,
    execution_id: str | None = None,
) -> dict[str, Any]:
    records, total = await deliveries.page(
        status=status_filter, endpoint_id=endpoint, execution_id=execution_id, **window.query()
    )
    return page_view([record.to_json() for record in records], total, window.limit, window.offset)


@router.get('/deliveries/{delivery_id}')
async def get_delivery(delivery_id: str, deliveries: Deliveries) -> dict[str, Any]:
    return (await deliveries.get(delivery_id)).to_json()


@router.post(
    '/deliveries/redeliver',
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: {'description': "the filter's endpoint is disabled (enable it first)"},
        422: {'description': 'an endpoint in the filter that does not exist, or a bad status or time'},
    },
)
async def redeliver_many(request: BulkRedeliverRequest, deliveries: Deliveries) -> dict[str, Any]:
    ids = await deliveries.redeliver_many(
        request.status, endpoint_id=request.endpoint, since=request.since, until=request.until
    )
    return {'count': len(ids), 'ids': ids}


@router.post(
    '/deliveries/{delivery_id}/redeliver',
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {'description': 'being sent, or its endpoint is disabled or was deleted'}},
)
async def redeliver(delivery_id: str, deliveries: Deliveries) -> dict[str, Any]:
    return (await deliveries.redeliver(delivery_id)).to_json()


@router.post(
    '/deliveries/{delivery_id}/cancel',
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {'description': 'not waiting for its next attempt (being sent, or settled)'}},
)
async def cancel(delivery_id: str, deliveries: Deliveries) -> dict[str, Any]:
    await deliveries.cancel(delivery_id)
    return {'id': delivery_id, 'status': 'cancelled'}


@router.get('/stats')
async def stats(deliveries: Deliveries) -> dict[str, Any]:
    return (await deliveries.stats()).to_json()


# --- endpoints ------------------------------------------------------------------------------------------


@router.get('/endpoints')
async def list_endpoints(endpoints: Endpoints) -> list[dict[str, Any]]:
    return await endpoints.listed()


@router.post(
    '/endpoints', status_code=status.HTTP_201_CREATED, responses={409: {'description': 'at most 100 endpoints'}}
)
async def create_endpoint(spec: EndpointSpec, endpoints: Endpoints) -> dict[str, Any]:
    endpoint, secret = await endpoints.create(spec)
    return {**endpoint.to_json(), 'secret': secret}


@router.get('/endpoints/{endpoint_id}')
async def get_endpoint(endpoint_id: str, endpoints: Endpoints) -> dict[str, Any]:
    return await endpoints.get(endpoint_id)


@router.patch('/endpoints/{endpoint_id}')
async def update_endpoint(endpoint_id: str, patch: EndpointPatch, endpoints: Endpoints) -> dict[str, Any]:
    return (await endpoints.update(endpoint_id, patch)).to_json()


@router.delete(
    '/endpoints/{endpoint_id}',
    status_code=204,
    responses={409: {'description': "a stored workflow's webhook node delivers to it (the detail lists them)"}},
)
async def delete_endpoint(endpoint_id: str, endpoints: Endpoints) -> Response:
    await endpoints.delete(endpoint_id)
    return Response(status_code=204)


@router.post('/endpoints/{endpoint_id}/enable')
async def enable_endpoint(endpoint_id: str, endpoints: Endpoints) -> dict[str, Any]:
    return (await endpoints.set_enabled(endpoint_id, True)).to_json()


@router.post('/endpoints/{endpoint_id}/disable')
async def disable_endpoint(endpoint_id: str, endpoints: Endpoints) -> dict[str, Any]:
    return (await endpoints.set_enabled(endpoint_id, False)).to_json()


@router.get('/endpoints/{endpoint_id}/secret')
async def reveal_secret(endpoint_id: str, endpoints: Endpoints) -> dict[str, Any]:
    return await endpoints.reveal_secret(endpoint_id)


@router.post('/endpoints/{endpoint_id}/secret/rotate')
async def rotate_secret(endpoint_id: str, endpoints: Endpoints, grace_seconds: GraceSeconds = None) -> dict[str, Any]:
    """A new signing secret: ``{secret, previous_secret, previous_secret_expires_at}``. The old secret keeps signing
    alongside it until ``previous_secret_expires_at`` (24 h by default); with ``grace_seconds=0`` it stops at once
    (both previous fields null)."""
    return await endpoints.rotate_secret(endpoint_id, grace_seconds)
