"""The "slower than usual" text tells the two durations apart: the same rounding of both would read as no difference."""

from __future__ import annotations

from flowmon.application.stats import NodeStats
from flowmon.web.format import durations_apart
from flowmon.web.node_views import slow_text


def test_durations_apart_are_worded_as_ever_unless_they_would_read_alike() -> None:
    assert durations_apart(340, 120) == ('340 ms', '120 ms')
    assert durations_apart(1900, 1200) == ('1.9 s', '1.2 s')
    assert durations_apart(1200, 5) == ('1.2 s', '5 ms')  # (not '0.0 s')
    assert durations_apart(1500, 40) == ('1.5 s', '40 ms')
    assert durations_apart(900, 0.004) == ('900 ms', '<1 ms')
    assert durations_apart(185_000, 60_000) == ('3m 05s', '1m 00s')
    # alike: one unit, the decimals that differ
    assert durations_apart(0.42, 0.31) == ('0.42 ms', '0.31 ms')
    assert durations_apart(0.042, 0.031) == ('0.04 ms', '0.03 ms')
    assert durations_apart(340.4, 340.1) == ('340.4 ms', '340.1 ms')
    assert durations_apart(1240, 1210) == ('1.24 s', '1.21 s')
    assert durations_apart(5.0, 5.0) == ('5.000 ms', '5.000 ms')  # (three decimals at the most)
    assert durations_apart(185_000, 185_200) == ('3m 05s', '3m 05s')  # (from a minute up, as worded)


def test_a_node_of_microseconds_flagged_slow_says_by_how_much() -> None:
    usual = NodeStats.of([0.0002, 0.0003, 0.0003, 0.0003, 0.0004])
    assert slow_text(0.0009, usual) == 'slower than usual: 0.90 ms, p95 0.38 ms'  # was '<1 ms, p95 <1 ms'
    assert slow_text(1.9, NodeStats.of([1.0, 1.1, 1.2, 1.2, 1.2])) == 'slower than usual: 1.9 s, p95 1.2 s'
    assert slow_text(0.0001, usual) == ''
    assert slow_text(1.2, NodeStats.of([0.005] * 5)) == 'slower than usual: 1.2 s, p95 5 ms'
