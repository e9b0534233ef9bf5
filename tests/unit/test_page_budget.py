"""The budget of page loads without sign-in on a fake clock: a minute's loads at once, then one as each refills, a
Retry-After until the next; per address; bounded memory; refusals logged once a minute per address; the refusal a
browser gets."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from flowmon.perimeter.page_budget import PageBudget, accepts_html, refusal


def fake_clock() -> tuple[list[float], Callable[[], float]]:
    """A clock whose reading is ``now[0]``, moved by the test."""
    now = [1000.0]
    return now, lambda: now[0]


def test_a_minutes_loads_come_at_once_then_one_each_time_one_refills() -> None:
    now, clock = fake_clock()
    budget = PageBudget(60, clock=clock)
    assert [budget.take('10.0.0.1') for _ in range(60)] == [0] * 60
    assert budget.take('10.0.0.1') == 1  # one load refills in a second
    assert budget.take('10.0.0.2') == 0  # per address
    now[0] += 1.0
    assert budget.take('10.0.0.1') == 0
    assert budget.take('10.0.0.1') == 1


def test_retry_after_is_the_whole_seconds_until_one_load_has_refilled() -> None:
    now, clock = fake_clock()
    budget = PageBudget(3, clock=clock)  # one every 20 s
    assert [budget.take('a') for _ in range(3)] == [0, 0, 0]
    assert budget.take('a') == 20
    now[0] += 5.5
    assert budget.take('a') == 15  # 14.5 s to go, rounded up
    now[0] += 14.5
    assert budget.take('a') == 0


def test_a_person_reloading_every_second_never_meets_it() -> None:
    now, clock = fake_clock()
    budget = PageBudget(60, clock=clock)
    for _ in range(600):
        assert budget.take('10.0.0.1') == 0
        now[0] += 1.0


def test_the_loads_refilled_while_away_are_capped_at_a_minutes() -> None:
    now, clock = fake_clock()
    budget = PageBudget(10, clock=clock)
    budget.take('a')
    now[0] += 3600.0
    assert [budget.take('a') for _ in range(11)] == [0] * 10 + [6]


def test_memory_is_bounded_by_forgetting_the_least_recently_loading_address() -> None:
    _, clock = fake_clock()
    budget = PageBudget(1, max_keys=100, clock=clock)
    for n in range(1000):
        budget.take(f'10.0.{n // 256}.{n % 256}')
    assert len(budget) == 100
    assert budget.take('10.0.3.231') != 0  # the most recent is remembered (spent)


def test_refusals_are_logged_once_a_minute_per_address(caplog: pytest.LogCaptureFixture) -> None:
    now, clock = fake_clock()
    budget = PageBudget(60, clock=clock)
    with caplog.at_level(logging.WARNING, logger='flowmon.auth'):
        for _ in range(60 * 120):  # two minutes of a script loading 60 pages a second
            budget.take('10.0.0.9')
            now[0] += 1 / 60
        budget.take('10.0.0.8')
        for _ in range(61):
            budget.take('10.0.0.8')
    line = 'refused page loads without sign-in from {}: over 60 a minute (logged once a minute at most)'
    assert [r.getMessage() for r in caplog.records] == [line.format('10.0.0.9')] * 2 + [line.format('10.0.0.8')]


def test_a_budget_of_nothing_is_no_budget() -> None:
    with pytest.raises(ValueError):
        PageBudget(0)


@pytest.mark.parametrize(
    ('accept', 'html'),
    [
        ('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', True),  # a browser loading a page
        ('Text/HTML; q=0.5', True),
        ('application/json, text/html;level=1', True),
        ('text/html;q=0, */*', False),
        ('text/html; q=0.000', False),
        ('*/*', False),
        ('text/*', False),
        ('application/json', False),
        ('', False),
        (None, False),
    ],
)
def test_the_refusal_is_a_page_when_the_request_accepts_html(accept: str | None, html: bool) -> None:
    headers = [] if accept is None else [(b'accept', accept.encode())]
    assert accepts_html({'type': 'http', 'headers': headers}) is html


def test_the_refusal_page_counts_the_seconds_in_words() -> None:
    assert b'Wait <strong>1 second</strong>' in refusal(1, html=True).body
    assert b'Wait <strong>20 seconds</strong>' in refusal(20, html=True).body
    text = b'too many page loads without signing in from your address; try again in 20 s'
    assert refusal(20, html=False).body == text
