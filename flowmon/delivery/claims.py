"""What an attempt works with: the claimed delivery, the claim that missed, and the attempt's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowmon.delivery.policy import DeliveryStatus, ErrorClass
from flowmon.store.codec import from_db_time, loads


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """A delivery claimed for one attempt (now ``sending``), with everything the attempt needs to send it."""

    delivery_id: str
    webhook_id: str
    n: int
    attempt_in_round: int
    trigger: str
    started_at: datetime
    url: str  # where the attempt goes
    shown_url: str  # what the ledger shows: ``url`` with a named secret's value as ***
    method: str
    headers: Mapping[str, str]
    secret_headers: frozenset[str]  # header names (lower case) whose values come from named secrets
    body: bytes
    signing_secrets: tuple[str, ...]
    auth: Mapping[str, Any] | None
    endpoint_id: str | None
    execution_id: str | None
    event_type: str | None
    planned_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimMiss:
    """The claim did not happen; the row's current state says why (``status`` is None when the row is gone)."""

    status: str | None
    next_attempt_at: datetime | None = None
    cancelled_now: bool = False
    row: Mapping[str, Any] | None = None  # the delivery row and why, when the claim cancelled it (cancelled_now)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AttemptOutcome:
    """What one attempt did, as logged in ``webhook_attempts``."""

    ended_at: datetime
    duration_ms: float
    url: str
    request_headers: Mapping[str, str]
    resolved_ip: str | None = None
    status_code: int | None = None
    response_headers: Mapping[str, str] | None = None
    response_body_prefix: str | None = None
    error_class: ErrorClass | None = None
    error_message: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointHealthChange:
    """An attempt changed its endpoint's health row (failure clock set or cleared, or the endpoint disabled)."""

    disabled_reason: str | None = None


def preclaim(row: dict[str, Any], *, now: datetime, lease_s: float, claimer: str | None = None) -> Claim:
    """Make a new ad-hoc delivery row (not yet inserted) one that is stored already claimed for its first attempt.

    Used when the attempt can start at once (its concurrency slot is reserved): nothing else can see the row before
    it is committed, so storing it ``sending`` is the same claim as the conditional UPDATE, one statement cheaper.
    """
    if row['endpoint_id'] is not None or row['status'] != DeliveryStatus.PENDING.value:
        raise ValueError('only a new, pending ad-hoc delivery can be stored claimed')
    row.update(
        status=DeliveryStatus.SENDING.value,
        attempts=1,
        lease_until=now + timedelta(seconds=lease_s),
        attempt_trigger='first',
        claimed_by=claimer,
    )
    signing = (row['secret'],) if row['secret'] else ()
    headers, auth = loads(row['headers']) or {}, loads(row['auth'])
    url = row['secret_url'] or row['url']
    return claim_from_row(row, 'first', now, url=url, headers=headers, auth=auth, signing=signing)


def claim_from_row(
    row: Mapping[str, Any],
    trigger: str,
    now: datetime,
    *,
    url: str,
    headers: Mapping[str, str],
    auth: Mapping[str, Any] | None,
    signing: tuple[str, ...],
) -> Claim:
    return Claim(
        delivery_id=row['id'],
        webhook_id=row['webhook_id'],
        n=row['attempts'],
        attempt_in_round=row['attempts'] - row['round_base'],
        trigger=trigger,
        started_at=now,
        url=url,
        shown_url=row['url'] if row['secret_url'] else url,
        method=row['method'],
        headers=headers,
        secret_headers=frozenset(loads(row['secret_headers']) or ()),
        body=bytes(row['body']),
        signing_secrets=signing,
        auth=auth,
        endpoint_id=row['endpoint_id'],
        execution_id=row['execution_id'],
        event_type=row['event_type'],
        planned_at=from_db_time(row['next_attempt_at']),
    )
