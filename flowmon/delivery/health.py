"""Endpoint health, updated in the transaction that records an attempt's outcome.

The Svix rule: the first ``exhausted`` delivery starts the endpoint's failure clock (``first_exhausted_at``); a later
exhaustion at least ``span_s`` after it disables the endpoint; any success stops the clock; a 410 disables at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.delivery.claims import EndpointHealthChange
from flowmon.delivery.policy import Decision, DeliveryStatus
from flowmon.store.codec import from_db_time
from flowmon.store.webhook_tables import endpoints


async def record_health(
    conn: AsyncConnection, endpoint_id: str, decision: Decision, status_code: int | None, now: datetime, span_s: float
) -> EndpointHealthChange | None:
    """Apply the outcome to the endpoint's health; None when nothing changed."""
    if decision.status is DeliveryStatus.SUCCEEDED:
        cleared = await conn.execute(
            endpoints.update()
            .where(endpoints.c.id == endpoint_id, endpoints.c.first_exhausted_at.is_not(None))
            .values(first_exhausted_at=None)
        )
        return EndpointHealthChange() if cleared.rowcount else None
    reason: str | None = None
    change: EndpointHealthChange | None = None
    if decision.disable_endpoint:
        reason = f'the endpoint answered {status_code} Gone'
    elif decision.status is DeliveryStatus.EXHAUSTED:
        row = (await conn.execute(select(endpoints.c.first_exhausted_at).where(endpoints.c.id == endpoint_id))).first()
        if row is None:
            return None
        first = from_db_time(row.first_exhausted_at)
        if first is None:
            first = now
            await conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(first_exhausted_at=now))
            change = EndpointHealthChange()
        if (now - first).total_seconds() >= span_s:
            reason = f'deliveries kept ending exhausted since {first.isoformat(timespec="seconds")}'
    if reason is None:
        return change
    result = await conn.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id, endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
    return EndpointHealthChange(disabled_reason=reason if result.rowcount == 1 else None)
