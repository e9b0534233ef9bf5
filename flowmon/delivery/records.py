"""The read models of deliveries: list rows, the attempt log, details and the dashboard figures (no secrets)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from flowmon.store.codec import from_db_time, loads

R = TypeVar('R')
_TIME_TYPES = frozenset({'datetime', 'datetime | None'})  # record fields' annotations (as text)


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
        item = _json(self, attempts='attempt_count')
        item['max_attempts'] = self.round_base + self.max_attempts  # this round's attempts count from round_base
        del item['round_base']
        return item


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
    attempts: list[AttemptRecord]  # the latest MAX_ATTEMPTS_LISTED, oldest first
    attempts_total: int  # how many the log holds (redelivering again and again adds rounds without end)

    def to_json(self) -> dict[str, Any]:
        body_text = self.body.decode('utf-8', 'replace')
        return {
            **self.delivery.to_json(),
            'headers': self.headers,
            'body': body_text,
            'body_size': len(self.body),
            'attempts': [attempt.to_json() for attempt in self.attempts],
            'attempts_total': self.attempts_total,
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
        item = {'success_rate_24h': self.success_rate_24h, **_json(self)}
        item['pending'] = self.outstanding  # what is still to do, the deliveries being sent included
        del item['sending']
        return item


def delivery_record(row: Any) -> DeliveryRecord:
    return _from_row(DeliveryRecord, row)


def attempt_record(row: Any) -> AttemptRecord:
    return _from_row(AttemptRecord, row, request_headers=_headers, response_headers=_headers, retryable=bool)


def _from_row(cls: type[R], row: Any, **converted: Callable[[Any], Any]) -> R:
    """The record of ``cls`` made of the same-named columns of ``row``: times through :func:`from_db_time`, each
    ``converted`` column through its function."""
    values = {}
    for item in fields(cls):  # type: ignore[arg-type]
        value = getattr(row, item.name)
        convert = converted.get(item.name, from_db_time if item.type in _TIME_TYPES else None)
        values[item.name] = value if convert is None else convert(value)
    return cls(**values)


def _json(record: Any, **renamed: str) -> dict[str, Any]:
    """The fields of ``record`` by name (``renamed`` ones by their new name), in order, times in ISO 8601."""
    return {renamed.get(item.name, item.name): _jsonable(getattr(record, item.name)) for item in fields(record)}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _headers(text: str | None) -> dict[str, str]:
    return loads(text) or {}
