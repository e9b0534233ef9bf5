"""The delivery policy: schedule and jitter, Retry-After, and what each outcome leads to."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from flowmon.delivery.policy import (
    RETRY_AFTER_CAP_S,
    DeliveryStatus,
    ErrorClass,
    RetrySchedule,
    Verdict,
    classify,
    decide,
    parse_retry_after,
)
from flowmon.settings import DEFAULT_WEBHOOK_RETRY_SCHEDULE, parse_retry_schedule

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_default_schedule_is_svix_like_eight_attempts() -> None:
    schedule = RetrySchedule.of(parse_retry_schedule(DEFAULT_WEBHOOK_RETRY_SCHEDULE))
    assert schedule.max_attempts == 8
    assert schedule.delays == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def test_entry_i_is_the_delay_before_attempt_i_plus_1_and_the_first_never_jitters() -> None:
    schedule = RetrySchedule.of([0, 0.5, 0.5], jitter=0)
    assert [schedule.delay_before(n, random.random) for n in (1, 2, 3, 4)] == [0, 0.5, 0.5, None]
    jittery = RetrySchedule.of([3, 10], jitter=0.2)
    assert jittery.delay_before(1, lambda: 0.0) == 3  # attempt 1 is never jittered


def test_jitter_stays_within_plus_minus_twenty_percent() -> None:
    schedule = RetrySchedule.of([0, 100], jitter=0.2)
    rng = random.Random(7)
    delays = [schedule.delay_before(2, rng.random) for _ in range(2000)]
    assert all(d is not None and 80 <= d <= 120 for d in delays)
    assert min(d for d in delays if d) < 82 and max(d for d in delays if d) > 118  # the whole band is used
    assert schedule.delay_before(2, lambda: 0.0) == 80 and schedule.delay_before(2, lambda: 1.0) == 120


@pytest.mark.parametrize(
    ('status', 'error', 'verdict'),
    [
        (200, None, Verdict.SUCCESS),
        (204, None, Verdict.SUCCESS),
        (299, None, Verdict.SUCCESS),
        (301, None, Verdict.PERMANENT),
        (302, None, Verdict.PERMANENT),
        (400, None, Verdict.PERMANENT),
        (401, None, Verdict.PERMANENT),
        (404, None, Verdict.PERMANENT),
        (410, None, Verdict.PERMANENT),
        (408, None, Verdict.RETRYABLE),
        (425, None, Verdict.RETRYABLE),
        (429, None, Verdict.RETRYABLE),
        (500, None, Verdict.RETRYABLE),
        (503, None, Verdict.RETRYABLE),
        (599, None, Verdict.RETRYABLE),
        (None, ErrorClass.TIMEOUT, Verdict.RETRYABLE),
        (None, ErrorClass.CONNECT, Verdict.RETRYABLE),
        (None, ErrorClass.DNS, Verdict.RETRYABLE),
        (None, ErrorClass.TLS, Verdict.RETRYABLE),
        (None, ErrorClass.SSRF_BLOCKED, Verdict.PERMANENT),
        (None, ErrorClass.TOO_LARGE, Verdict.PERMANENT),
    ],
)
def test_classification(status: int | None, error: ErrorClass | None, verdict: Verdict) -> None:
    assert classify(status, error) is verdict


def test_retry_after_forms() -> None:
    assert parse_retry_after('2', NOW) == 2
    assert parse_retry_after(' 120 ', NOW) == 120
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=90), usegmt=True), NOW) == 90
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=90), usegmt=True), NOW) == 0
    assert parse_retry_after('999999', NOW) == RETRY_AFTER_CAP_S  # capped at 24 h
    for invalid in (None, '', 'soon', '-5', '1.5', 'Mon, 99 Foo 2026'):
        assert parse_retry_after(invalid, NOW) is None


def _decide(n: int, status: int | None, retry_after: float | None = None, schedule: tuple[float, ...] = (0, 5, 10)):
    return decide(
        RetrySchedule.of(schedule, jitter=0),
        attempt_in_round=n,
        verdict=classify(status, ErrorClass.TIMEOUT if status is None else None),
        status_code=status,
        retry_after_s=retry_after,
        now=NOW,
        rand=random.random,
    )


def test_decisions() -> None:
    assert _decide(1, 200).status is DeliveryStatus.SUCCEEDED
    failed = _decide(1, 400)
    assert failed.status is DeliveryStatus.FAILED and not failed.disable_endpoint
    gone = _decide(1, 410)
    assert gone.status is DeliveryStatus.FAILED and gone.disable_endpoint
    retry = _decide(1, 503)
    assert retry.status is DeliveryStatus.RETRYING and retry.next_attempt_at == NOW + timedelta(seconds=5)
    assert _decide(2, None).next_attempt_at == NOW + timedelta(seconds=10)
    assert _decide(3, 503).status is DeliveryStatus.EXHAUSTED
    assert _decide(1, 429, retry_after=60).next_attempt_at == NOW + timedelta(seconds=60)  # lengthens
    assert _decide(1, 429, retry_after=1).next_attempt_at == NOW + timedelta(seconds=5)  # never shortens
    capped = _decide(1, 503, retry_after=10 * 86_400)
    assert capped.next_attempt_at == NOW + timedelta(seconds=RETRY_AFTER_CAP_S)
