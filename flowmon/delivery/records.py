"""The read models of deliveries: list rows, the attempt log, details and the dashboard figures (no secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowmon.store.codec import from_db_time, loads


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


def delivery_record(row: Any) -> DeliveryRecord:
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


def attempt_record(row: Any) -> AttemptRecord:
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
