"""Outbound webhook deliveries: queue one, list and inspect them, redeliver, cancel, and their statistics.

The delivery service (:mod:`flowmon.delivery`) does the work; this is what the API and the pages may ask of it,
with its refusals as application errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict, Field

from flowmon.delivery.endpoints import Endpoint, EndpointNotFound
from flowmon.delivery.intake import PayloadTooLarge, encode_json
from flowmon.delivery.policy import DELIVERY_STATUSES
from flowmon.delivery.records import AttemptRecord, DeliveryDetail, DeliveryRecord, WebhookStats
from flowmon.delivery.sender import redact
from flowmon.delivery.service import REDELIVERABLE, DeliveryConflict, DeliveryNotFound, DeliveryService, Queued
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.nodes.webhook import WebhookAuth, WebhookReceipt, WebhookRejected

from .errors import PAYLOAD_REFUSALS, Conflict, Invalid, NotFound, OversizedPayload, refusing, translated

__all__ = [
    'DELIVERY_STATUSES',
    'REDELIVERABLE',
    'AttemptRecord',
    'Deliveries',
    'DeliveryDetail',
    'DeliveryQuery',
    'DeliveryRecord',
    'DeliveryRequest',
    'Endpoint',
    'Queued',
    'WebhookAuth',
    'WebhookStats',
    'redact',
]

# The delivery service's refusals, as every delivery and endpoint use case reports them.
DELIVERY_REFUSALS = {
    DeliveryNotFound: NotFound,
    EndpointNotFound: NotFound,
    DeliveryConflict: Conflict,
    PayloadTooLarge: OversizedPayload,
    WebhookRejected: Invalid,
    ValueError: Invalid,
}


class DeliveryRequest(BaseModel):
    """An ad-hoc delivery (the body of ``POST /api/webhooks/deliveries``): ``body`` is sent as JSON."""

    model_config = ConfigDict(extra='forbid')

    url: str = Field(min_length=1, max_length=2000)
    method: str = 'POST'
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any
    secret: str | None = None
    auth: WebhookAuth | None = None


class Selection(TypedDict, total=False):
    """Which deliveries: of one endpoint, created in ``[since, until)``."""

    endpoint_id: str | None
    since: datetime | None
    until: datetime | None


class DeliveryQuery(Selection, total=False):
    """Filters and page of a delivery list."""

    status: str | Sequence[str] | None
    execution_id: str | None
    limit: int
    offset: int


@refusing(DELIVERY_REFUSALS)
class Deliveries:
    """Every action on deliveries that routes and pages take."""

    def __init__(self, *, service: DeliveryService, budget: PayloadBudget) -> None:
        self._service = service
        self._budget = budget

    @property
    def version(self) -> int:
        """Moves on every change to a delivery: a page re-reads only when it moved."""
        return self._service.version

    def now(self) -> datetime:
        """The delivery service's clock (retry times and countdowns are on it)."""
        return self._service.now()

    async def enqueue(self, request: DeliveryRequest) -> Queued:
        """Queue an ad-hoc delivery, signed with its secret or a generated one (returned then)."""
        with translated(PAYLOAD_REFUSALS, at='body'):  # depth, 64-bit numbers and size, before the body is encoded
            self._budget.check(request.body, 'body', lenient=True)
        fields = request.model_dump(exclude={'body', 'auth'})
        return await self._service.enqueue(body=encode_json(request.body), auth=request.auth, **fields)

    async def page(self, **query: Unpack[DeliveryQuery]) -> tuple[list[DeliveryRecord], int]:
        """A page of deliveries, newest first, and how many match; raises Invalid for an unknown status."""
        status = query.get('status')
        check_statuses([status] if isinstance(status, str) else status or ())
        return await self._service.queries.page(**query)

    async def get(self, delivery_id: str) -> DeliveryDetail:
        """The delivery with every attempt; raises NotFound."""
        detail = await self._service.queries.get(delivery_id)
        if detail is None:
            raise NotFound(f'webhook delivery {delivery_id!r} not found')
        return detail

    async def redeliver(self, delivery_id: str) -> DeliveryRecord:
        """Send it again now (same ``webhook-id`` and body); raises NotFound or Conflict."""
        return await self._service.redeliver(delivery_id)

    async def redeliver_many(self, statuses: Sequence[str], **where: Unpack[Selection]) -> list[str]:
        """Requeue every delivery in one of ``statuses`` that matches ``where``; returns their ids. Raises Invalid
        for an endpoint that does not exist, Conflict for a disabled one."""
        check_statuses(statuses)
        endpoint_id = where.get('endpoint_id')
        if endpoint_id is not None and await self._service.endpoints.get(endpoint_id) is None:
            raise Invalid(f'endpoint {endpoint_id!r} does not exist', at='endpoint')
        return await self._service.redeliver_many(statuses=statuses, **where)

    async def matching(self, statuses: Sequence[str], **where: Unpack[Selection]) -> int:
        """How many deliveries :meth:`redeliver_many` with these filters would requeue now."""
        wanted = [status for status in statuses if status in REDELIVERABLE]
        if not wanted:
            return 0
        return len(await self._service.queries.ids(status=wanted, **where))

    async def cancel(self, delivery_id: str) -> None:
        """Cancel a delivery waiting for its next attempt; raises NotFound or Conflict."""
        await self._service.cancel(delivery_id)

    async def stats(self) -> WebhookStats:
        """Success rate (24 h) and outstanding deliveries: cached and shared, re-read when a delivery changed."""
        return await self._service.stats()

    async def wait_settled(self, delivery_id: str) -> WebhookReceipt:
        """Wait until the delivery succeeded, failed for good or was cancelled."""
        return await self._service.wait_settled(delivery_id)


def check_statuses(statuses: Sequence[str | None]) -> None:
    unknown = [value for value in statuses if value not in DELIVERY_STATUSES]
    if unknown:
        raise Invalid(f'status must be one of {", ".join(DELIVERY_STATUSES)}, got {unknown[0]!r}', at='status')
