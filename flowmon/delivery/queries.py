"""Reading the delivery ledger: lists, details with the attempt log, due work and the dashboard figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from flowmon.delivery.ledger import WAITING
from flowmon.delivery.policy import TERMINAL_STATUSES, DeliveryStatus
from flowmon.delivery.records import (
    AttemptRecord,
    DeliveryDetail,
    DeliveryRecord,
    WebhookStats,
    attempt_record,
    delivery_record,
)
from flowmon.delivery.sender import redact
from flowmon.infra.secretbox import SecretBox
from flowmon.store.codec import from_db_time, loads
from flowmon.store.database import Database
from flowmon.store.webhook_tables import attempts, deliveries

MAX_PAGE = 500
MAX_ATTEMPTS_LISTED = 500  # a delivery's detail lists its latest attempts, up to this many
_LIST_COLUMNS = [
    column for column in deliveries.c if column.name not in ('body', 'secret', 'auth', 'headers', 'secret_url')
]


class DeliveryQueries:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

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
        """A page of deliveries, newest first, and the total matching the filters."""
        conditions = _filters(status=status, endpoint_id=endpoint_id, since=since, until=until)
        if execution_id:
            conditions.append(deliveries.c.execution_id == execution_id)
        query = (
            select(*_LIST_COLUMNS)
            .where(*conditions)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(max(1, min(limit, MAX_PAGE)))
            .offset(max(offset, 0))
        )
        count = select(func.count()).select_from(deliveries).where(*conditions)
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            total = (await conn.execute(count)).scalar_one()
        return [delivery_record(row) for row in rows], int(total)

    async def ids(
        self,
        *,
        status: Sequence[str],
        endpoint_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10_000,
    ) -> list[str]:
        conditions = _filters(status=status, endpoint_id=endpoint_id, since=since, until=until)
        query = select(deliveries.c.id).where(*conditions).order_by(deliveries.c.created_at).limit(limit)
        async with self._db.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]

    async def get(self, delivery_id: str) -> DeliveryDetail | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).first()
            if row is None:
                return None
            latest = (
                select(attempts)
                .where(attempts.c.delivery_id == delivery_id)
                .order_by(attempts.c.n.desc(), attempts.c.id.desc())
                .limit(MAX_ATTEMPTS_LISTED)
            )
            logged = (await conn.execute(latest)).all()
            total = len(logged)
            if total == MAX_ATTEMPTS_LISTED:
                counted = select(func.count()).select_from(attempts).where(attempts.c.delivery_id == delivery_id)
                total = int((await conn.execute(counted)).scalar_one())
        headers = loads(self._box.open_field(deliveries.name, delivery_id, 'headers', row.headers)) or {}
        return DeliveryDetail(
            delivery=delivery_record(row),
            body=bytes(row.body),
            headers=redact(headers, loads(row.secret_headers) or ()),  # values from named secrets: ***
            attempts=[attempt_record(item) for item in reversed(logged)],
            attempts_total=total,
        )

    async def record(self, delivery_id: str) -> DeliveryRecord | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(*_LIST_COLUMNS).where(deliveries.c.id == delivery_id))).first()
        return delivery_record(row) if row is not None else None

    async def waiting(self, *, before: datetime, limit: int) -> list[tuple[str, datetime, str]]:
        """Waiting deliveries due before ``before``, soonest first: id, due time and concurrency key."""
        query = (
            select(deliveries.c.id, deliveries.c.next_attempt_at, deliveries.c.endpoint_id, deliveries.c.url)
            .where(deliveries.c.status.in_(WAITING), deliveries.c.next_attempt_at <= before)
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (row.id, from_db_time(row.next_attempt_at) or before, concurrency_key(row.endpoint_id, row.url))
            for row in rows
        ]

    async def stats(self, now: datetime) -> WebhookStats:
        since = now - timedelta(hours=24)
        finished = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.finished_at >= since)
            .group_by(deliveries.c.status)
        )
        open_ = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.status.in_([*WAITING, DeliveryStatus.SENDING.value]))
            .group_by(deliveries.c.status)
        )
        async with self._db.engine.connect() as conn:
            done = {row[0]: int(row[1]) for row in (await conn.execute(finished)).all()}
            waiting = {row[0]: int(row[1]) for row in (await conn.execute(open_)).all()}
        return WebhookStats(
            succeeded_24h=done.get('succeeded', 0),
            failed_24h=done.get('failed', 0),
            exhausted_24h=done.get('exhausted', 0),
            cancelled_24h=done.get('cancelled', 0),
            pending=waiting.get('pending', 0),
            retrying=waiting.get('retrying', 0),
            sending=waiting.get('sending', 0),
        )

    async def endpoint_health(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per endpoint, over the deliveries that finished in the last 24 h (in a terminal state: succeeded, failed,
        exhausted or cancelled): how many, the share of those that were not cancelled that succeeded (as the ledger's
        rate, :attr:`WebhookStats.success_rate_24h`: a delivery cancelled unsent says nothing of the endpoint), and
        the mean duration of their attempts (every attempt: a delivery retried three times before its last attempt
        timed out counts four)."""
        since = now - timedelta(hours=24)
        finished = and_(
            deliveries.c.endpoint_id.is_not(None),
            deliveries.c.finished_at >= since,
            deliveries.c.status.in_(sorted(status.value for status in TERMINAL_STATUSES)),
        )
        counts = (
            select(
                deliveries.c.endpoint_id,
                func.count(),
                func.sum(case((deliveries.c.status == DeliveryStatus.SUCCEEDED.value, 1), else_=0)),
                func.sum(case((deliveries.c.status == DeliveryStatus.CANCELLED.value, 1), else_=0)),
            )
            .where(finished)
            .group_by(deliveries.c.endpoint_id)
        )
        latencies = (
            select(deliveries.c.endpoint_id, func.avg(attempts.c.duration_ms))
            .select_from(deliveries.join(attempts, attempts.c.delivery_id == deliveries.c.id))
            .where(finished, attempts.c.duration_ms.is_not(None))
            .group_by(deliveries.c.endpoint_id)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(counts)).all()
            mean_ms = {row[0]: float(row[1]) for row in (await conn.execute(latencies)).all() if row[1] is not None}
        return {
            endpoint_id: {
                'finished_24h': int(count),
                'success_rate_24h': _share(int(succeeded or 0), int(count) - int(cancelled or 0)),
                'mean_latency_ms': mean_ms.get(endpoint_id),
            }
            for endpoint_id, count, succeeded, cancelled in rows
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def concurrency_key(endpoint_id: str | None, url: str) -> str:
    """Deliveries sharing a key share the per-destination concurrency limit: the endpoint, else the URL's host."""
    if endpoint_id:
        return endpoint_id
    rest = url.partition('://')[2]
    return f'host:{rest.split("/", 1)[0].rsplit("@", 1)[-1].lower()}'


def _filters(
    *,
    status: str | Sequence[str] | None,
    endpoint_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Any]:
    conditions: list[Any] = []
    if isinstance(status, str):
        conditions.append(deliveries.c.status == status)
    elif status:
        conditions.append(deliveries.c.status.in_(list(status)))
    if endpoint_id:
        conditions.append(deliveries.c.endpoint_id == endpoint_id)
    if since is not None:
        conditions.append(deliveries.c.created_at >= since)
    if until is not None:
        conditions.append(deliveries.c.created_at < until)
    return [and_(*conditions)] if conditions else []


__all__ = ['AttemptRecord', 'DeliveryDetail', 'DeliveryQueries', 'DeliveryRecord', 'WebhookStats', 'concurrency_key']
