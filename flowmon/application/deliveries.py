"""Outbound webhook deliveries: queue one, list and inspect them, redeliver, cancel, and their statistics.

The delivery service (:mod:`flowmon.delivery`) does the work; this is what the API and the pages may ask of it,
with its refusals as application errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flowmon.delivery.endpoints import Endpoint, EndpointNotFound
from flowmon.delivery.intake import PayloadTooLarge, encode_json
from flowmon.delivery.policy import DELIVERY_STATUSES
from flowmon.delivery.records import AttemptRecord, DeliveryDetail, DeliveryRecord, WebhookStats
from flowmon.delivery.sender import redact
from flowmon.delivery.service import REDELIVERABLE, DeliveryConflict, DeliveryNotFound, DeliveryService, Queued
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.nodes.webhook import WebhookAuth, WebhookReceipt, WebhookRejected

from .errors import PAYLOAD_REFUSALS, Conflict, Invalid, NotFound, OversizedPayload, translated

__all__ = [
    'DELIVERY_STATUSES',
    'REDELIVERABLE',
    'AttemptRecord',
    'Deliveries',
    'DeliveryDetail',
    'DeliveryRecord',
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

    async def enqueue(
        self,
        *,
        url: str,
        body: Any,
        method: str = 'POST',
        headers: Mapping[str, str] | None = None,
        auth: WebhookAuth | None = None,
        secret: str | None = None,
    ) -> Queued:
        """Queue an ad-hoc delivery of ``body`` (JSON), signed with ``secret`` or a generated one."""
        with translated(PAYLOAD_REFUSALS):  # depth, 64-bit numbers and size, before the body is encoded
            self._budget.check(body, 'body', lenient=True)
        with translated(DELIVERY_REFUSALS):
            return await self._service.enqueue(
                url=url, body=encode_json(body), method=method, headers=headers, auth=auth, secret=secret
            )

    async def page(
        self,
        *,
        status: str | Sequence[str] | None = None,
        endpoint_id: str | None = None,
        execution_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[DeliveryRecord], int]:
        """A page of deliveries, newest first, and how many match; raises Invalid for an unknown status."""
        check_statuses([status] if isinstance(status, str) else status or ())
        return await self._service.queries.page(
            status=status, endpoint_id=endpoint_id, execution_id=execution_id, since=since, until=until,
            limit=limit, offset=offset,
        )  # fmt: skip

    async def get(self, delivery_id: str) -> DeliveryDetail:
        """The delivery with every attempt; raises NotFound."""
        detail = await self._service.queries.get(delivery_id)
        if detail is None:
            raise NotFound(f'webhook delivery {delivery_id!r} not found')
        return detail

    async def redeliver(self, delivery_id: str) -> DeliveryRecord:
        """Send it again now (same ``webhook-id`` and body); raises NotFound or Conflict."""
        with translated(DELIVERY_REFUSALS):
            return await self._service.redeliver(delivery_id)

    async def redeliver_many(
        self,
        *,
        statuses: Sequence[str],
        endpoint_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[str]:
        """Requeue every delivery matching the filters; returns their ids."""
        check_statuses(statuses)
        with translated(DELIVERY_REFUSALS):
            return await self._service.redeliver_many(
                statuses=statuses, endpoint_id=endpoint_id, since=since, until=until
            )

    async def matching(self, *, statuses: Sequence[str], endpoint_id: str | None, since: datetime | None) -> int:
        """How many deliveries :meth:`redeliver_many` with these filters would requeue now."""
        wanted = [status for status in statuses if status in REDELIVERABLE]
        if not wanted:
            return 0
        return len(await self._service.queries.ids(status=wanted, endpoint_id=endpoint_id, since=since))

    async def cancel(self, delivery_id: str) -> None:
        """Cancel a delivery waiting for its next attempt; raises NotFound or Conflict."""
        with translated(DELIVERY_REFUSALS):
            await self._service.cancel(delivery_id)

    async def stats(self) -> WebhookStats:
        """Success rate (24 h) and outstanding deliveries: cached and shared, re-read when a delivery changed."""
        return await self._service.stats()

    async def wait_settled(self, delivery_id: str) -> WebhookReceipt:
        """Wait until the delivery succeeded, failed for good or was cancelled."""
        with translated(DELIVERY_REFUSALS):
            return await self._service.wait_settled(delivery_id)


def check_statuses(statuses: Sequence[str | None]) -> None:
    unknown = [value for value in statuses if value not in DELIVERY_STATUSES]
    if unknown:
        raise Invalid(f'status must be one of {", ".join(DELIVERY_STATUSES)}, got {unknown[0]!r}')
