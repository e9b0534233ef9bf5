"""``/api/webhooks``: queue, list, inspect, redeliver and cancel deliveries; manage endpoints and their secrets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from flowmon.delivery.endpoints import EndpointNotFound, EndpointPatch, EndpointSpec
from flowmon.delivery.intake import PayloadTooLarge, encode_json
from flowmon.delivery.policy import DELIVERY_STATUSES
from flowmon.delivery.service import DeliveryConflict, DeliveryNotFound
from flowmon.engine.core.payload import PayloadError
from flowmon.engine.nodes.webhook import WebhookAuth, WebhookRejected
from flowmon.services import Services

from .errors import MeasuredBodyRoute, payload_refused
from .params import Offset, UtcTime


class DeliveryRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    url: str = Field(min_length=1, max_length=2000)
    method: str = 'POST'
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any
    secret: str | None = None
    auth: WebhookAuth | None = None


class BulkRedeliverRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    endpoint: str | None = None
    status: list[str] = Field(default_factory=lambda: ['failed', 'exhausted'], min_length=1)
    since: UtcTime | None = None
    until: UtcTime | None = None


def _check_statuses(statuses: list[str]) -> None:
    unknown = [value for value in statuses if value not in DELIVERY_STATUSES]
    if unknown:
        raise HTTPException(422, f'status must be one of {", ".join(DELIVERY_STATUSES)}, got {unknown[0]!r}')


def webhook_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], route_class=MeasuredBodyRoute)
    webhooks = services.webhooks
    endpoints = webhooks.endpoints

    @router.post('/deliveries', status_code=status.HTTP_202_ACCEPTED)
    async def queue_delivery(request: DeliveryRequest) -> dict[str, Any]:
        try:  # the body is a payload like any other: depth, 64-bit numbers and size before it is encoded
            services.budget.check(request.body, 'body', lenient=True)
        except PayloadError as exc:
            raise payload_refused(exc) from None
        try:
            queued = await webhooks.enqueue(
                url=request.url,
                body=encode_json(request.body),
                method=request.method,
                headers=request.headers,
                auth=request.auth,
                secret=request.secret,
            )
        except PayloadTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except WebhookRejected as exc:
            raise HTTPException(422, str(exc)) from None
        answer: dict[str, Any] = {'id': queued.id, 'webhook_id': queued.webhook_id, 'status': queued.status}
        if queued.secret is not None:
            answer['secret'] = queued.secret  # generated for this delivery: the receiver needs it to verify
        return answer

    @router.get('/deliveries')
    async def list_deliveries(
        status_filter: Annotated[str | None, Query(alias='status')] = None,
        endpoint: str | None = None,
        execution_id: str | None = None,
        since: UtcTime | None = None,
        until: UtcTime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        if status_filter is not None:
            _check_statuses([status_filter])
        records, total = await webhooks.queries.page(
            status=status_filter,
            endpoint_id=endpoint,
            execution_id=execution_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return {'items': [record.to_json() for record in records], 'total': total, 'limit': limit, 'offset': offset}

    @router.get('/deliveries/{delivery_id}')
    async def get_delivery(delivery_id: str) -> dict[str, Any]:
        detail = await webhooks.queries.get(delivery_id)
        if detail is None:
            raise HTTPException(404, f'webhook delivery {delivery_id!r} not found')
        return detail.to_json()

    @router.post('/deliveries/redeliver', status_code=status.HTTP_202_ACCEPTED)
    async def redeliver_many(request: BulkRedeliverRequest) -> dict[str, Any]:
        _check_statuses(request.status)
        try:
            ids = await webhooks.redeliver_many(
                statuses=request.status,
                endpoint_id=request.endpoint,
                since=request.since,
                until=request.until,
            )
        except DeliveryConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {'count': len(ids), 'ids': ids}

    @router.post('/deliveries/{delivery_id}/redeliver', status_code=status.HTTP_202_ACCEPTED)
    async def redeliver(delivery_id: str) -> dict[str, Any]:
        try:
            record = await webhooks.redeliver(delivery_id)
        except DeliveryNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except DeliveryConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return record.to_json()

    @router.post('/deliveries/{delivery_id}/cancel', status_code=status.HTTP_202_ACCEPTED)
    async def cancel(delivery_id: str) -> dict[str, Any]:
        try:
            await webhooks.cancel(delivery_id)
        except DeliveryNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except DeliveryConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {'id': delivery_id, 'status': 'cancelled'}

    @router.get('/stats')
    async def stats() -> dict[str, Any]:
        return (await webhooks.stats()).to_json()

    # --- endpoints ------------------------------------------------------------------------------------

    async def _with_health(items: list[Any]) -> list[dict[str, Any]]:
        health = await webhooks.queries.endpoint_health(webhooks.now())
        empty = {'finished_24h': 0, 'success_rate_24h': None, 'mean_latency_ms': None}
        return [{**item.to_json(), 'health': health.get(item.id, empty)} for item in items]

    @router.get('/endpoints')
    async def list_endpoints() -> list[dict[str, Any]]:
        return await _with_health(endpoints.cached_all())

    @router.post('/endpoints', status_code=status.HTTP_201_CREATED)
    async def create_endpoint(spec: EndpointSpec) -> dict[str, Any]:
        try:
            endpoint, secret = await endpoints.create(spec)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {**endpoint.to_json(), 'secret': secret}

    @router.get('/endpoints/{endpoint_id}')
    async def get_endpoint(endpoint_id: str) -> dict[str, Any]:
        endpoint = await endpoints.get(endpoint_id)
        if endpoint is None:
            raise HTTPException(404, f'webhook endpoint {endpoint_id!r} not found')
        return (await _with_health([endpoint]))[0]

    @router.patch('/endpoints/{endpoint_id}')
    async def update_endpoint(endpoint_id: str, patch: EndpointPatch) -> dict[str, Any]:
        try:
            return (await endpoints.update(endpoint_id, patch)).to_json()
        except EndpointNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @router.delete('/endpoints/{endpoint_id}', status_code=204)
    async def delete_endpoint(endpoint_id: str) -> Response:
        if not await endpoints.delete(endpoint_id):
            raise HTTPException(404, f'webhook endpoint {endpoint_id!r} not found')
        return Response(status_code=204)

    @router.post('/endpoints/{endpoint_id}/enable')
    async def enable_endpoint(endpoint_id: str) -> dict[str, Any]:
        try:
            return (await endpoints.set_enabled(endpoint_id, True)).to_json()
        except EndpointNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post('/endpoints/{endpoint_id}/disable')
    async def disable_endpoint(endpoint_id: str) -> dict[str, Any]:
        try:
            return (await endpoints.set_enabled(endpoint_id, False)).to_json()
        except EndpointNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get('/endpoints/{endpoint_id}/secret')
    async def reveal_secret(endpoint_id: str) -> dict[str, Any]:
        try:
            return await endpoints.reveal_secret(endpoint_id)
        except EndpointNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post('/endpoints/{endpoint_id}/secret/rotate')
    async def rotate_secret(endpoint_id: str) -> dict[str, Any]:
        try:
            return await endpoints.rotate_secret(endpoint_id)
        except EndpointNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    return router
