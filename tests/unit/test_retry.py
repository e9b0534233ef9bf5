"""RetryPolicy: exponential backoff, cap, jitter bounds and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowmon.engine import RetryPolicy


def mid() -> float:
    return 0.5


def low() -> float:
    return 0.0


def high() -> float:
    return 1.0


def test_exponential_growth_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_seconds=0.5, jitter=0)
    assert [policy.delay_after(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_rand_half_means_no_spread() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_seconds=1, jitter=0.5)
    assert [policy.delay_after(n, mid) for n in range(1, 5)] == [1.0, 2.0, 4.0, 8.0]


def test_attempt_zero_or_below_uses_the_base() -> None:
    policy = RetryPolicy(backoff_seconds=2, jitter=0)
    assert policy.delay_after(0) == 2.0
    assert policy.delay_after(-3) == 2.0


def test_capped_by_max_backoff() -> None:
    policy = RetryPolicy(max_attempts=20, backoff_seconds=1, max_backoff_seconds=5, jitter=0)
    assert [policy.delay_after(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_cap_is_applied_before_jitter() -> None:
    policy = RetryPolicy(max_attempts=20, backoff_seconds=1, max_backoff_seconds=4, jitter=0.25)
    assert policy.delay_after(10, high) == pytest.approx(5.0)
    assert policy.delay_after(10, low) == pytest.approx(3.0)


@pytest.mark.parametrize('jitter', [0.0, 0.1, 0.2, 0.5, 1.0])
@pytest.mark.parametrize('attempt', [1, 2, 3])
def test_jitter_bounds(jitter: float, attempt: int) -> None:
    policy = RetryPolicy(max_attempts=5, backoff_seconds=2, jitter=jitter)
    base = 2 * 2 ** (attempt - 1)
    assert policy.delay_after(attempt, low) == pytest.approx(base * (1 - jitter))
    assert policy.delay_after(attempt, high) == pytest.approx(base * (1 + jitter))
    assert policy.delay_after(attempt, mid) == pytest.approx(base)


def test_default_random_stays_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_seconds=1, jitter=0.2)
    for _ in range(200):
        assert 0.8 <= policy.delay_after(1) <= 1.2


def test_delay_is_never_negative() -> None:
    policy = RetryPolicy(backoff_seconds=1, jitter=1.0)
    assert policy.delay_after(1, low) == 0.0
    assert RetryPolicy(backoff_seconds=0).delay_after(5, high) == 0.0


def test_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.allows_another(n) for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert RetryPolicy().max_attempts == 1
    assert not RetryPolicy().allows_another(1)


@pytest.mark.parametrize(
    'kwargs',
    [
        {'backoff_seconds': 5, 'max_backoff_seconds': 1},
        {'max_attempts': 0},
        {'max_attempts': 101},
        {'backoff_seconds': -1},
        {'jitter': 1.5},
        {'jitter': -0.1},
        {'retries': 3},
    ],
)
def test_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_cap_below_base_message() -> None:
    with pytest.raises(ValidationError, match='max_backoff_seconds must be at least backoff_seconds'):
        RetryPolicy(backoff_seconds=2, max_backoff_seconds=1)


def test_cap_equal_to_base_is_fine() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_seconds=2, max_backoff_seconds=2, jitter=0)
    assert [policy.delay_after(n) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
