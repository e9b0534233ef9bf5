"""The delivery policy: delivery states, the retry schedule with jitter, ``Retry-After`` and outcome rules.

Pure functions of their inputs (the clock and the random source are arguments), so every rule is unit-tested
without a network or a database.

* success is 2xx only; 408, 425, 429, 5xx, timeouts and connection errors are retried; any other status
  (3xx included: redirects are never followed) fails the delivery at once, and 410 also disables the endpoint;
* the schedule's entry *i* is the delay before attempt *i + 1*; its length is the maximum number of attempts;
* every delay but the first gets +/- ``jitter`` uniform; ``Retry-After`` (seconds or an HTTP date) can only
  lengthen a delay and is capped at 24 h.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

RETRY_AFTER_CAP_S = 24 * 3600.0
RETRYABLE_STATUS_CODES = frozenset({408, 425, 429})


class DeliveryStatus(StrEnum):
    PENDING = 'pending'
    SENDING = 'sending'
    RETRYING = 'retrying'
    SUCCEEDED = 'succeeded'
    FAILED = 'failed'
    EXHAUSTED = 'exhausted'
    CANCELLED = 'cancelled'


DELIVERY_STATUSES = tuple(str(status) for status in DeliveryStatus)
TERMINAL_STATUSES = frozenset(
    {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.EXHAUSTED, DeliveryStatus.CANCELLED}
)
WAITING_STATUSES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.RETRYING})


class Verdict(StrEnum):
    SUCCESS = 'success'
    RETRYABLE = 'retryable'
    PERMANENT = 'permanent'


class ErrorClass(StrEnum):
    """Why an attempt got no usable response (``webhook_attempts.error_class``)."""

    TIMEOUT = 'timeout'
    CONNECT = 'connect'
    DNS = 'dns'
    TLS = 'tls'
    PROTOCOL = 'protocol'
    SSRF_BLOCKED = 'ssrf_blocked'
    TOO_LARGE = 'too_large'
    INVALID = 'invalid'
    CANCELLED = 'cancelled'
    INTERRUPTED = 'interrupted'


PERMANENT_ERRORS = frozenset({ErrorClass.SSRF_BLOCKED, ErrorClass.TOO_LARGE, ErrorClass.INVALID})


def classify(status_code: int | None, error_class: ErrorClass | None = None) -> Verdict:
    """The verdict on one attempt, from its response status or (when there was none) its error class."""
    if status_code is None:
        return Verdict.PERMANENT if error_class in PERMANENT_ERRORS else Verdict.RETRYABLE
    if 200 <= status_code < 300:
        return Verdict.SUCCESS
    if status_code in RETRYABLE_STATUS_CODES or 500 <= status_code < 600:
        return Verdict.RETRYABLE
    return Verdict.PERMANENT


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Delays in seconds; ``delays[i]`` is the wait before attempt ``i + 1``."""

    delays: tuple[float, ...]
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError('a retry schedule needs at least one entry')
        if any(delay < 0 for delay in self.delays) or not 0 <= self.jitter <= 1:
            raise ValueError('retry delays must be >= 0 and jitter within 0..1')

    @classmethod
    def of(cls, delays: Sequence[float], jitter: float = 0.2) -> RetrySchedule:
        return cls(tuple(float(delay) for delay in delays), jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    def delay_before(self, attempt: int, rand: Callable[[], float]) -> float | None:
        """Seconds to wait before ``attempt`` (1-based) with jitter, or None past the last attempt."""
        if attempt < 1 or attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1]
        if attempt == 1 or base == 0 or self.jitter == 0:
            return base
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from ``now`` named by a ``Retry-After`` header (delta-seconds or HTTP-date), capped at 24 h.

    An absent or invalid header gives None; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), RETRY_AFTER_CAP_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), RETRY_AFTER_CAP_S)


@dataclass(frozen=True, slots=True)
class Decision:
    """What follows an attempt: the delivery's new status, when to try again, whether to disable the endpoint."""

    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    disable_endpoint: bool = False


TEST_EVENT_TYPE = 'webhook.test'  # a test event sent to an endpoint from its page
ONE_ATTEMPT = RetrySchedule((0.0,), 0.0)  # the schedule of a test event: its outcome is its first attempt's


def schedule_for(event_type: str | None, schedule: RetrySchedule) -> RetrySchedule:
    """The schedule each round of a delivery's attempts follows: a test event's is one attempt (when it is sent, and
    again at each redelivery), any other delivery's is ``schedule``."""
    return ONE_ATTEMPT if event_type == TEST_EVENT_TYPE else schedule


def decide(
    schedule: RetrySchedule,
    *,
    attempt_in_round: int,
    verdict: Verdict,
    status_code: int | None,
    retry_after_s: float | None,
    now: datetime,
    rand: Callable[[], float],
) -> Decision:
    """The next step after attempt number ``attempt_in_round`` (1-based within the current round of retries)."""
    if verdict is Verdict.SUCCESS:
        return Decision(DeliveryStatus.SUCCEEDED)
    if verdict is Verdict.PERMANENT:
        return Decision(DeliveryStatus.FAILED, disable_endpoint=status_code == 410)
    delay = schedule.delay_before(attempt_in_round + 1, rand)
    if delay is None:
        return Decision(DeliveryStatus.EXHAUSTED)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, RETRY_AFTER_CAP_S))
    return Decision(DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(seconds=delay))
