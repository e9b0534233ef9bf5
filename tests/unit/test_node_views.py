"""The per-node view model (flowmon/web/node_views.py): one view per node, made again only for nodes that changed."""

from __future__ import annotations

from datetime import timedelta

from event_history import History

from flowmon.application.stats import NodeStats
from flowmon.engine import EventType
from flowmon.web.node_views import PENDING, NodeViews, node_view


def test_only_nodes_whose_view_changed_are_reported() -> None:
    run = History.started('a', 'b', 'c', step_ms=0)
    views = NodeViews(['a', 'b', 'c'])
    assert views.update(run.then(EventType.NODE_STARTED, 'a', attempt=1)) == ['a']
    started = views['a']
    assert views.update(run.then(EventType.NODE_STARTED, 'b', attempt=1)) == ['b']
    assert views['a'] is started  # untouched nodes keep their view object
    state = run.then(EventType.NODE_COMPLETED, 'a', after_ms=1500, output={'ok': True})
    assert views.update(state) == ['a']
    assert views.update(state) == []  # the same state again: nothing looked at, nothing changed
    assert views['c'] is PENDING


def test_a_node_outside_the_definition_is_ignored() -> None:
    run = History.started('a', 'ghost', step_ms=0)
    views = NodeViews(['a'])
    assert views.update(run.then(EventType.NODE_STARTED, 'ghost', attempt=1)) == []
    assert 'ghost' not in views


def test_going_back_to_no_state_makes_every_changed_node_pending_again() -> None:
    run = History.started('a', 'b', step_ms=0)
    views = NodeViews(['a', 'b'])
    views.update(run.then(EventType.NODE_STARTED, 'a', attempt=1))
    assert views.update(None) == ['a']
    assert views['a'] is PENDING


def test_the_card_and_the_list_detail_say_what_the_node_did() -> None:
    run = History.started('a', step_ms=0)
    run.then(EventType.NODE_STARTED, 'a', attempt=1)
    view = node_view(run.then(EventType.NODE_RETRYING, 'a', after_ms=100, error='timeout', delay_seconds=1).nodes['a'])
    assert (view.status, view.card, view.detail) == ('retrying', 'retrying after try 1', '1 attempt')
    view = node_view(run.then(EventType.NODE_STARTED, 'a', after_ms=1000, attempt=2).nodes['a'])
    assert (view.card, view.detail) == ('running · try 2', '2 attempts')
    view = node_view(run.then(EventType.NODE_COMPLETED, 'a', after_ms=250, output=1).nodes['a'])
    took = '350 ms'  # the tries' 100 ms and 250 ms: the 1 s wait between them is not counted
    assert (view.status, view.card, view.detail) == ('succeeded', f'{took} · 2 tries', f'2 attempts · {took}')
    assert view.logged == 2  # the retried try and the successful one
    assert view.duration_ms == 350.0


def test_a_pending_and_a_skipped_node() -> None:
    assert (PENDING.card, PENDING.detail) == ('pending', '')
    run = History.started('a', step_ms=0)
    view = node_view(run.then(EventType.NODE_SKIPPED, 'a', reason='branch not taken').nodes['a'])
    assert (view.status, view.card, view.detail) == ('skipped', 'skipped', 'branch not taken')


def test_a_reused_node_says_so_and_no_duration() -> None:
    """A partial rerun's reused node settles in no time of its own: "reused", never "<1 ms"."""
    run = History.started('a', step_ms=0)
    view = node_view(run.then(EventType.NODE_COMPLETED, 'a', after_ms=5, attempt=0, output=1, reused=True).nodes['a'])
    assert (view.status, view.reused, view.duration_ms) == ('succeeded', True, 0)
    assert (view.card, view.detail) == ('reused', 'reused')


def test_a_node_tried_again_is_slower_than_usual_by_the_time_its_tries_ran_not_the_waits() -> None:
    """Two tries of under 1 ms, 480 ms apart, read "<1 ms · 2 tries" on the card: compared with a p95 of 5 ms, the
    node is not slow (it was flagged "slower than usual: 481 ms, p95 5 ms"); waiting to try again does not count
    while it waits either, and a try that runs past the p95 does."""
    usual = NodeStats.of([0.005] * 5)
    run = History.started('a', step_ms=0)
    run.then(EventType.NODE_STARTED, 'a', attempt=1)
    waiting = run.then(EventType.NODE_RETRYING, 'a', after_ms=0.4, error='flaky', delay_seconds=0.48)
    assert node_view(waiting.nodes['a'], usual, run.events[-1].ts + timedelta(milliseconds=479)).slow == ''
    run.then(EventType.NODE_STARTED, 'a', after_ms=480, attempt=2)
    state = run.then(EventType.NODE_COMPLETED, 'a', after_ms=0.4, output=1)
    view = node_view(state.nodes['a'], usual, state.last_ts)
    assert (view.card, view.slow) == ('<1 ms · 2 tries', '')

    again = History.started('a', step_ms=0)
    again.then(EventType.NODE_STARTED, 'a', attempt=1)
    again.then(EventType.NODE_RETRYING, 'a', after_ms=0.4, error='flaky', delay_seconds=0.48)
    running = again.then(EventType.NODE_STARTED, 'a', after_ms=480, attempt=2)
    now = running.last_ts
    assert node_view(running.nodes['a'], usual, now + timedelta(milliseconds=4)).slow == ''
    slow = node_view(running.nodes['a'], usual, now + timedelta(milliseconds=9.6)).slow
    assert slow == 'slower than usual: 10 ms, p95 5 ms'
