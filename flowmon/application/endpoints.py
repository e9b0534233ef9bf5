"""Webhook endpoints: subscribers to flowmon's events, with their secrets and their 24-hour health."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from flowmon.delivery.endpoints import (
    SUBSCRIBABLE_EVENT_TYPES,
    Endpoint,
    EndpointPatch,
    EndpointSpec,
    EndpointStore,
    TooManyEndpoints,
)
from flowmon.delivery.service import DeliveryService, Queued
from flowmon.engine.nodes.webhook import endpoints_named
from flowmon.store.catalog import WorkflowCatalog

from .deliveries import DELIVERY_REFUSALS
from .errors import Conflict, NotFound, refusing
from .rotation import rotation_grace

__all__ = ['SUBSCRIBABLE_EVENT_TYPES', 'Endpoint', 'EndpointPatch', 'EndpointSpec', 'Endpoints']

NO_HEALTH = {'finished_24h': 0, 'success_rate_24h': None, 'mean_latency_ms': None}


@refusing({**DELIVERY_REFUSALS, TooManyEndpoints: Conflict})
class Endpoints:
    """Create, change, enable, disable and delete endpoints; reveal and rotate their signing secrets."""

    def __init__(self, *, service: DeliveryService, catalog: WorkflowCatalog | None = None) -> None:
        self._service = service
        self._catalog = catalog  # the workflows whose webhook nodes may deliver to an endpoint
        self._store: EndpointStore = service.endpoints

    @property
    def version(self) -> int:
        """Moves on every change to an endpoint."""
        return self._store.version

    def cached(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint as held in memory (no query: for pages drawing many rows)."""
        return self._store.cached(endpoint_id)

    def cached_all(self) -> list[Endpoint]:
        return self._store.cached_all()

    async def health(self, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Per endpoint id: deliveries finished in 24 h, success rate and mean latency."""
        return await self._service.queries.endpoint_health(now or self._service.now())

    async def listed(self) -> list[dict[str, Any]]:
        """Every endpoint as JSON, with its health."""
        return await self._with_health(self._store.cached_all())

    async def get(self, endpoint_id: str) -> dict[str, Any]:
        """One endpoint as JSON, with its health; raises NotFound."""
        endpoint = await self._store.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f'webhook endpoint {endpoint_id!r} not found')
        return (await self._with_health([endpoint]))[0]

    async def create(self, spec: EndpointSpec) -> tuple[Endpoint, str]:
        """A new endpoint and its generated secret; raises Invalid (a refused URL, for example), or Conflict (nothing
        stored) when as many endpoints are stored as flowmon keeps."""
        return await self._store.create(spec)

    async def update(self, endpoint_id: str, patch: EndpointPatch) -> Endpoint:
        return await self._store.update(endpoint_id, patch)

    async def delete(self, endpoint_id: str) -> None:
        """Delete an endpoint; refused (Conflict, naming them) while stored workflows deliver to it."""
        if self._store.cached(endpoint_id) is None and await self._store.get(endpoint_id) is None:
            raise NotFound(f'webhook endpoint {endpoint_id!r} not found')
        catalog = self._catalog
        # no workflow delivering to it saved between the look and the deletion
        async with catalog.unchanged() if catalog is not None else contextlib.nullcontext():
            stored = await catalog.all() if catalog is not None else []
            users = sorted(one.id for one in stored if endpoint_id in endpoints_named(one.definition))
            if users:
                listed = ', '.join(repr(workflow_id) for workflow_id in users[:10]) + (
                    ' ...' if len(users) > 10 else ''
                )
                raise Conflict(f'webhook endpoint {endpoint_id!r} is used by workflow(s) {listed}; change them first')
            if not await self._store.delete(endpoint_id):
                raise NotFound(f'webhook endpoint {endpoint_id!r} not found')

    async def set_enabled(self, endpoint_id: str, enabled: bool) -> Endpoint:
        return await self._store.set_enabled(endpoint_id, enabled)

    async def reveal_secret(self, endpoint_id: str) -> dict[str, Any]:
        return await self._store.reveal_secret(endpoint_id)

    async def rotate_secret(self, endpoint_id: str, grace_seconds: int | None = None) -> dict[str, Any]:
        """A new secret; the previous one keeps signing alongside it for ``grace_seconds`` (None: 24 h; 0: it stops
        at once, after a leak). Answers as :meth:`reveal_secret` does; raises Invalid out of 0-86400."""
        grace = rotation_grace(grace_seconds)
        return await self._store.rotate_secret(endpoint_id, grace=grace)

    async def send_test(self, endpoint_id: str) -> Queued:
        """Send the endpoint a test event (one attempt, signed like its subscriptions); the delivery's outcome
        (``Deliveries.wait_settled``) says whether the receiver accepts it. Raises NotFound, or Conflict while the
        endpoint is disabled."""
        return await self._service.send_test(endpoint_id)

    async def _with_health(self, items: list[Endpoint]) -> list[dict[str, Any]]:
        health = await self.health()
        return [{**item.to_json(), 'health': health.get(item.id, NO_HEALTH)} for item in items]
