"""Reading the delivery ledger: lists, details with the attempt log, due work and the dashboard figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, case, func, select

from flowmon.store.codec import from_db_time, loads
from flowmon.store.database import Database

from .ledger import WAITING
from .policy import TERMINAL_STATUSES, DeliveryStatus
from .tables import attempts, deliveries

MAX_PAGE = 500
_LIST_COLUMNS = [column for column in deliveries.c if column.name not in ('body', 'secret', 'auth')]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryRecord:
    """A delivery as lists show it (no body, no secrets)."""

    id: str
    webhook_id: str
    source: str
    endpoint_id: str | None
    event_type: str | None
    execution_id: str | None
    url: str
    method: str
    status: str
    status_reason: str | None
    attempts: int
    max_attempts: int
    round_base: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: float | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'webhook_id': self.webhook_id,
            'source': self.source,
            'endpoint_id': self.endpoint_id,
            'event_type': self.event_type,
            'execution_id': self.execution_id,
            'url': self.url,
            'method': self.method,
            'status': self.status,
            'status_reason': self.status_reason,
            'attempt_count': self.attempts,
            'max_attempts': self.round_base + self.max_attempts,
            'next_attempt_at': _iso(self.next_attempt_at),
            'last_status_code': self.last_status_code,
            'last_error': self.last_error,
            'last_duration_ms': self.last_duration_ms,
            'created_at': _iso(self.created_at),
            'updated_at': _iso(self.updated_at),
            'finished_at': _iso(self.finished_at),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class AttemptRecord:
    """One row of a delivery's attempt log (request headers already redacted)."""

    n: int
    trigger: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    url: str
    resolved_ip: str | None
    request_headers: dict[str, str]
    body_sha256: str
    body_size: int
    status_code: int | None
    response_headers: dict[str, str]
    response_body_prefix: str | None
    error_class: str | None
    error_message: str | None
    retryable: bool
    retry_after_s: float | None
    next_attempt_at: datetime | None
    planned_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            'n': self.n,
            'trigger': self.trigger,
            'started_at': _iso(self.started_at),
            'ended_at': _iso(self.ended_at),
            'duration_ms': self.duration_ms,
            'url': self.url,
            'resolved_ip': self.resolved_ip,
            'request_headers': self.request_headers,
            'body_sha256': self.body_sha256,
            'body_size': self.body_size,
            'status_code': self.status_code,
            'response_headers': self.response_headers,
            'response_body_prefix': self.response_body_prefix,
            'error': None if self.error_class is None else f'{self.error_class}: {self.error_message or ""}'.strip(),
            'error_class': self.error_class,
            'error_message': self.error_message,
            'retryable': self.retryable,
            'retry_after_s': self.retry_after_s,
            'next_attempt_at': _iso(self.next_attempt_at),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryDetail:
    delivery: DeliveryRecord
    body: bytes
    headers: dict[str, str]
    attempts: list[AttemptRecord]

    def to_json(self) -> dict[str, Any]:
        body_text = self.body.decode('utf-8', 'replace')
        return {
            **self.delivery.to_json(),
            'headers': self.headers,
            'body': body_text,
            'body_size': len(self.body),
            'attempts': [attempt.to_json() for attempt in self.attempts],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookStats:
    """Dashboard figures: the last 24 h success rate (None when nothing finished) and the work still to do."""

    succeeded_24h: int
    failed_24h: int
    exhausted_24h: int
    cancelled_24h: int
    pending: int
    retrying: int
    sending: int

    @property
    def success_rate_24h(self) -> float | None:
        finished = self.succeeded_24h + self.failed_24h + self.exhausted_24h
        return None if finished == 0 else self.succeeded_24h / finished

    @property
    def outstanding(self) -> int:
        """Deliveries not yet settled (pending, retrying or being sent)."""
        return self.pending + self.retrying + self.sending

    def to_json(self) -> dict[str, Any]:
        return {
            'success_rate_24h': self.success_rate_24h,
            'succeeded_24h': self.succeeded_24h,
            'failed_24h': self.failed_24h,
            'exhausted_24h': self.exhausted_24h,
            'cancelled_24h': self.cancelled_24h,
            'pending': self.outstanding,
            'retrying': self.retrying,
        }


class DeliveryQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

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
        return [_record(row) for row in rows], int(total)

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
            logged = (
                await conn.execute(
                    select(attempts).where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.n, attempts.c.id)
                )
            ).all()
        return DeliveryDetail(
            delivery=_record(row),
            body=bytes(row.body),
            headers=loads(row.headers) or {},
            attempts=[_attempt(item) for item in logged],
        )

    async def record(self, delivery_id: str) -> DeliveryRecord | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(*_LIST_COLUMNS).where(deliveries.c.id == delivery_id))).first()
        return _record(row) if row is not None else None

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
        """Per endpoint over the last 24 h: finished deliveries, success rate and mean attempt latency."""
        since = now - timedelta(hours=24)
        query = (
            select(
                deliveries.c.endpoint_id,
                func.count(),
                func.sum(case((deliveries.c.status == 'succeeded', 1), else_=0)),
                func.avg(deliveries.c.last_duration_ms),
            )
            .where(
                deliveries.c.endpoint_id.is_not(None),
                deliveries.c.finished_at >= since,
                deliveries.c.status.in_(['succeeded', 'failed', 'exhausted']),
            )
            .group_by(deliveries.c.endpoint_id)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            row[0]: {
                'finished_24h': int(row[1]),
                'success_rate_24h': (int(row[2] or 0) / int(row[1])) if row[1] else None,
                'mean_latency_ms': float(row[3]) if row[3] is not None else None,
            }
            for row in rows
        }


def concurrency_key(endpoint_id: str | None, url: str) -> str:
    """Deliveries sharing a key share the per-destination concurrency limit: the endpoint, else the URL's host."""
    if endpoint_id:
        return endpoint_id
    try:
        return 'host:' + httpx.URL(url).netloc.decode('ascii', 'replace')
    except httpx.InvalidURL:
        return 'host:?'


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


def _record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        webhook_id=row.webhook_id,
        source=row.source,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        execution_id=row.execution_id,
        url=row.url,
        method=row.method,
        status=row.status,
        status_reason=row.status_reason,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        round_base=row.round_base,
        next_attempt_at=from_db_time(row.next_attempt_at),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_duration_ms=row.last_duration_ms,
        created_at=from_db_time(row.created_at),  # type: ignore[arg-type]
        updated_at=from_db_time(row.updated_at),  # type: ignore[arg-type]
        finished_at=from_db_time(row.finished_at),
    )


def _attempt(row: Any) -> AttemptRecord:
    return AttemptRecord(
        n=row.n,
        trigger=row.trigger,
        started_at=from_db_time(row.started_at),  # type: ignore[arg-type]
        ended_at=from_db_time(row.ended_at),
        duration_ms=row.duration_ms,
        url=row.url,
        resolved_ip=row.resolved_ip,
        request_headers=loads(row.request_headers) or {},
        body_sha256=row.body_sha256,
        body_size=row.body_size,
        status_code=row.status_code,
        response_headers=loads(row.response_headers) or {},
        response_body_prefix=row.response_body_prefix,
        error_class=row.error_class,
        error_message=row.error_message,
        retryable=bool(row.retryable),
        retry_after_s=row.retry_after_s,
        next_attempt_at=from_db_time(row.next_attempt_at),
        planned_at=from_db_time(row.planned_at),
    )


__all__ = ['TERMINAL_STATUSES', 'AttemptRecord', 'DeliveryDetail', 'DeliveryQueries', 'DeliveryRecord', 'WebhookStats']
