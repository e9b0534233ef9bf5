"""What an attempt works with: the claimed delivery, the claim that missed, and the attempt's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .policy import ErrorClass


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """A delivery claimed for one attempt (now ``sending``), with everything the attempt needs to send it."""

    delivery_id: str
    webhook_id: str
    n: int
    attempt_in_round: int
    trigger: str
    started_at: datetime
    url: str
    method: str
    headers: Mapping[str, str]
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
