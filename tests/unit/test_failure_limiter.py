"""The failed-token-check limiter on a fake clock: 20 failures a minute per address, then a Retry-After until the
oldest failure leaves the window; bounded memory; and the gate that every way in shares."""

from __future__ import annotations

import logging

import pytest

from flowmon.perimeter.failure_limiter import FailureLimiter
from flowmon.perimeter.token_gate import Outcome, TokenGate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_twenty_failures_in_a_minute_lock_the_address_until_the_first_one_ages_out() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=20, window=60.0, clock=clock)
    for _ in range(19):
        limiter.failed('10.0.0.1')
        clock.now += 0.1
    assert limiter.retry_after('10.0.0.1') == 0
    limiter.failed('10.0.0.1')
    assert limiter.retry_after('10.0.0.1') == 59  # the first failure, 1.9 s ago, leaves the window in 58.1 s
    assert limiter.retry_after('10.0.0.2') == 0  # per address
    clock.now = 1000.0 + 60.05
    assert limiter.retry_after('10.0.0.1') == 0


def test_failures_spread_over_more_than_a_minute_never_lock() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=20, window=60.0, clock=clock)
    for _ in range(200):
        limiter.failed('10.0.0.1')
        assert limiter.retry_after('10.0.0.1') == 0
        clock.now += 3.2  # 20 failures span 60.8 s: never 20 within one minute


def test_memory_is_bounded_by_forgetting_the_oldest_address() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=2, window=60.0, max_keys=3, clock=clock)
    for address in ('a', 'a', 'b', 'c', 'd'):
        limiter.failed(address)
    assert len(limiter) == 3
    assert limiter.retry_after('a') == 0  # forgotten
    limiter.failed('d')
    assert limiter.retry_after('d') == 60


def test_the_gate_counts_only_wrong_tokens_and_logs_the_address_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    gate = TokenGate('the-right-token-0123', clock=clock)
    scope = {'client': ('192.0.2.5', 50000), 'path': '/api/workflows'}
    caplog.set_level(logging.WARNING, logger='flowmon.auth')
    assert gate.check('the-right-token-0123', scope).accepted
    for attempt in range(20):
        assert gate.check(f'guess-{attempt}', scope).outcome is Outcome.REFUSED
    limited = gate.check('the-right-token-0123', scope)  # locked out: not even checked
    assert (limited.outcome, limited.retry_after) == (Outcome.LIMITED, 60)
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count('failed token check from 192.0.2.5 on /api/workflows') == 20
    assert not any('guess-' in message or 'the-right-token' in message for message in messages)
    clock.now += 60.5
    assert gate.check('the-right-token-0123', scope).accepted


def test_a_path_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    gate = TokenGate('the-right-token-0123')
    caplog.set_level(logging.WARNING, logger='flowmon.auth')
    gate.check('guess', {'client': ('192.0.2.5', 1), 'path': '/api/x\n2026-01-01 INFO all is well' + 'y' * 500})
    (message,) = [record.getMessage() for record in caplog.records]
    assert '\n' not in message and '\\n2026' in message and len(message) < 300
