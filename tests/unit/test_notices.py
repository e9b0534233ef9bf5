"""The notifications a recorder's write sends to the other processes: every execution it wrote is announced, in as
many notifications as it takes (PostgreSQL refuses a payload of 8000 bytes or more)."""

from __future__ import annotations

from flowmon.store.dialect import MAX_NOTIFY_BYTES, notify_payloads
from flowmon.store.event_tail import parse_events_notice


def test_a_large_write_is_announced_in_several_notifications_that_each_fit() -> None:
    written = {f'{n:021x}': n * 7 for n in range(1, 1001)}  # ids as long as flowmon's, 1000 executions in one write
    payloads = notify_payloads({'p': 'writer-process'}, 'e', written)
    assert len(payloads) > 1
    assert all(len(payload.encode()) <= MAX_NOTIFY_BYTES for payload in payloads)
    announced: dict[str, int] = {}
    for payload in payloads:
        latest = parse_events_notice(payload, 'reader-process')
        assert latest  # each lists its executions (an empty one would mean "poll")
        assert not set(latest) & set(announced)
        announced.update(latest)
    assert announced == written
    assert parse_events_notice(payloads[0], 'writer-process') is None  # a process ignores its own


def test_a_small_write_is_one_notification() -> None:
    assert notify_payloads({'p': 'w'}, 'e', {'x': 3}) == ['{"p":"w","e":{"x":3}}']
    assert notify_payloads({'p': 'w'}, 'e', {}) == ['{"p":"w","e":{}}']


def test_notifications_fill_up_to_the_limit() -> None:
    written = {f'{n:021x}': 10**6 + n for n in range(2000)}
    payloads = notify_payloads({'p': 'writer-process'}, 'e', written)
    assert all(len(payload.encode()) > MAX_NOTIFY_BYTES - 40 for payload in payloads[:-1])  # no half-empty ones
