"""Replay: state at any position, the timeline helpers, Gantt spans, and comparing two executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import pairwise
from typing import Any

import pytest
from event_history import History as BaseHistory
from hypothesis import given, settings
from hypothesis import strategies as st

from flowmon.engine import Event, EventType, apply, fold
from flowmon.engine.core.graph import definition_order as graph_order
from flowmon.engine.core.replay_index import ReplayIndex, live_spans
from flowmon.engine.core.state import ExecutionState
from flowmon.web.comparison import Alignment, compare, first_divergence, row_summary, same_json, verdict
from flowmon.web.timeline_marks import tick_marks, ticks
from flowmon.web.widgets.timeline_scrubber import thumb_step

T0 = datetime(2025, 4, 5, 6, 7, 8, tzinfo=UTC)
E = EventType


class History(BaseHistory):
    """One execution's events with consecutive seq numbers; ``after`` seconds between events."""

    def __init__(self, execution_id: str = 'x1') -> None:
        super().__init__(execution_id=execution_id, start=T0)

    def queued(self, *nodes: str, edges: list[tuple[str, str]] = ()) -> History:  # type: ignore[assignment]
        workflow = {
            'id': 'wf',
            'name': 'wf',
            'nodes': [{'id': n, 'type': 'log'} for n in nodes],
            'edges': [{'source': s, 'target': t} for s, t in edges],
        }
        return self.add(E.EXECUTION_QUEUED, after=0, workflow_id='wf', nodes=list(nodes), workflow=workflow)


def sequential(events: list[Event]) -> ExecutionState | None:
    """The reference: the reducer applied one event at a time."""
    return reduce(apply, events, None)  # type: ignore[arg-type]


# --- hypothesis: random valid executions ------------------------------------------------------------

NODE_OUTCOMES = ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped', 'reused')
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def node_script(draw: st.DrawFn, node_id: str, others: list[str]) -> tuple[str, list[tuple[EventType, dict[str, Any]]]]:
    """One node's events in their only valid order, and how the node ended."""
    outcome = draw(st.sampled_from(NODE_OUTCOMES))
    script: list[tuple[EventType, dict[str, Any]]] = []
    if outcome == 'skipped':
        return outcome, [(E.NODE_SKIPPED, {'reason': 'branch not taken'})]
    if outcome == 'reused':
        script.append((E.NODE_COMPLETED, {'attempt': 0, 'output': draw(json_values), 'reused': True}))
    elif outcome == 'pending':
        if draw(st.booleans()):
            script.append((E.NODE_CANCELLED, {'reason': 'cancelled by user'}))
            outcome = 'cancelled'
        return outcome, script
    else:
        retries = draw(st.integers(0, 3))
        for attempt in range(1, retries + 2):
            started: dict[str, Any] = {'attempt': attempt}
            if attempt == 1:
                started['input'] = draw(json_values)
            script.append((E.NODE_STARTED, started))
            if attempt <= retries:
                error = {'attempt': attempt, 'error': f'boom {attempt}', 'traceback': None, 'delay_seconds': 0.5}
                script.append((E.NODE_RETRYING, error))
        last = retries + 1
        if outcome == 'succeeded':
            script.append((E.NODE_COMPLETED, {'attempt': last, 'output': draw(json_values)}))
        elif outcome == 'failed':
            script.append((E.NODE_FAILED, {'attempt': last, 'error': 'gave up', 'traceback': 'Traceback ...'}))
        elif outcome == 'cancelled':
            script.append((E.NODE_CANCELLED, {'reason': 'cancelled by user'}))
    if outcome in ('succeeded', 'reused') and others:
        target = draw(st.sampled_from(others))
        script.append((E.DATA_FLOW, {'target': target, 'bytes': draw(st.integers(0, 500))}))
    if outcome != 'running':
        script.append((E.EXECUTION_PROGRESS, {}))
    return outcome, script


@st.composite
def executions(draw: st.DrawFn) -> list[Event]:
    """``execution.queued``, then the nodes' lifecycles interleaved at random, then a fitting terminal event."""
    nodes = draw(st.lists(st.from_regex(r'[a-z]{1,3}', fullmatch=True), min_size=1, max_size=6, unique=True))
    history = History(execution_id=draw(st.sampled_from(['e1', 'e2'])))
    history.queued(*nodes)
    history.add(E.EXECUTION_STARTED, after=draw(st.floats(0, 2)))
    outcomes: dict[str, str] = {}
    scripts: dict[str, list[tuple[EventType, dict[str, Any]]]] = {}
    for node_id in nodes:
        outcomes[node_id], scripts[node_id] = draw(node_script(node_id, [n for n in nodes if n != node_id]))
    tokens = [node_id for node_id in nodes for _ in scripts[node_id]]
    for node_id in draw(st.permutations(tokens)):
        event_type, data = scripts[node_id].pop(0)
        owner = None if event_type == E.EXECUTION_PROGRESS else node_id
        history.add(event_type, owner, after=draw(st.sampled_from([0.0, 0.001, 0.25, 3.0])), **data)
    ended = set(outcomes.values())
    if ended <= {'succeeded', 'reused', 'skipped'}:
        history.add(E.EXECUTION_COMPLETED, output={'done': True})
    elif 'failed' in ended:
        history.add(E.EXECUTION_FAILED, error='node failed')
    else:
        history.add(draw(st.sampled_from([E.EXECUTION_CANCELLED, E.EXECUTION_INTERRUPTED])), reason='stopped')
    return history.events


@settings(max_examples=100, deadline=None)
@given(events=executions(), every=st.integers(1, 7), data=st.data())
def test_state_at_k_equals_folding_the_first_k_events(events: list[Event], every: int, data: st.DataObject) -> None:
    index = ReplayIndex(events, keyframe_every=every)
    expected = [sequential(events[:k]) for k in range(len(events) + 1)]
    # Random seek order: the index's cursor and keyframes must never change the answer.
    for k in data.draw(st.permutations(range(len(events) + 1))):
        assert index.state_at(k) == expected[k]
        assert fold(events[:k]) == expected[k]
    assert index.final == expected[-1]
    assert index.final is not None and index.final.is_terminal


@settings(max_examples=40, deadline=None)
@given(events=executions())
def test_snapshot_plus_fold_equals_full_fold_at_every_k(events: list[Event]) -> None:
    states = [sequential(events[:j]) for j in range(len(events) + 1)]
    for k in range(len(events) + 1):
        for j in range(k + 1):  # a snapshot at j (made by applying one event at a time), then fold the rest
            assert fold(events[j:k], states[j]) == states[k]


@settings(max_examples=60, deadline=None)
@given(events=executions(), data=st.data())
def test_fold_ignores_events_it_has_seen_like_apply_does(events: list[Event], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(events)))
    j = data.draw(st.integers(0, k))
    overlapping = events[:k] + events[j:]  # a reconnect that fetched some events twice
    assert fold(overlapping) == sequential(overlapping) == sequential(events)


@settings(max_examples=60, deadline=None)
@given(events=executions())
def test_gantt_spans_agree_with_the_reducers_attempt_log(events: list[Event]) -> None:
    index = ReplayIndex(events, keyframe_every=5)
    final = index.final
    assert final is not None
    spans = index.spans()
    assert list(spans) == list(final.nodes)
    for node_id, node in final.nodes.items():
        attempts = [span for span in spans[node_id] if span.outcome not in ('reused', 'skipped')]
        assert [s.attempt for s in attempts] == [a.n for a in node.attempt_log]
        assert [s.outcome for s in attempts] == [a.outcome for a in node.attempt_log]
        for span, attempt in zip(attempts, node.attempt_log, strict=True):
            assert events[span.start - 1].ts == attempt.started_at
            assert (events[span.end - 1].ts if span.end else None) == attempt.finished_at
            # Seeking to a span's start shows that attempt running; to its end shows it closed.
            at_start = index.state_at(span.start)
            assert at_start is not None and at_start.nodes[node_id].attempt_log[-1].outcome == 'running'
        assert any(s.outcome == 'skipped' for s in spans[node_id]) == (node.status == 'skipped')
        assert any(s.outcome == 'reused' for s in spans[node_id]) == node.reused


@settings(max_examples=60, deadline=None)
@given(events=executions(), data=st.data())
def test_live_spans_from_a_state_agree_with_the_replays_spans(events: list[Event], data: st.DataObject) -> None:
    """The live page's Gantt (from the state it pulls) draws what replay draws from the events, at any point of the
    run: the same segments, positions and times (skip markers, which the state keeps no time for, at its last
    event)."""
    k = data.draw(st.integers(min_value=1, max_value=len(events)), label='events so far')
    index = ReplayIndex(events[:k])
    state = index.final
    assert state is not None
    live = live_spans(state, index.node_order)
    replayed = index.spans()
    assert list(live) == list(replayed)
    for node_id, row in replayed.items():
        for span, drawn in zip(row, live[node_id], strict=True):
            if span.outcome == 'skipped':
                assert drawn.start == span.start and drawn.start_s == index.duration_s
                continue
            assert drawn == span


# --- positions and time ------------------------------------------------------------------------------


def small() -> History:
    return (
        History()
        .queued('a', 'b', edges=[('a', 'b')])
        .add(E.EXECUTION_STARTED, after=1)  # t=1
        .add(E.NODE_STARTED, 'a', after=1, attempt=1)  # t=2
        .add(E.NODE_RETRYING, 'a', after=1, attempt=1, error='503', delay_seconds=1)  # t=3
        .add(E.NODE_STARTED, 'a', after=1, attempt=2)  # t=4
        .add(E.NODE_COMPLETED, 'a', after=1, attempt=2, output={'v': 1})  # t=5
        .add(E.DATA_FLOW, 'a', after=0, target='b', bytes=7)  # t=5
        .add(E.NODE_STARTED, 'b', after=2, attempt=1)  # t=7
        .add(E.NODE_FAILED, 'b', after=1, attempt=1, error='bad row')  # t=8
        .add(E.EXECUTION_FAILED, after=0, error='node b failed')  # t=8
    )


def test_positions_and_elapsed_time() -> None:
    index = ReplayIndex(small().events, keyframe_every=3)
    assert index.n == 10
    assert index.duration_s == 8
    assert [index.elapsed_at(k) for k in range(11)] == [0, 0, 1, 2, 3, 4, 5, 5, 7, 8, 8]
    assert index.position_at(-1) == 0
    assert index.position_at(0) == 1  # the queued event happened at 0 s
    assert index.position_at(4.5) == 5
    assert index.position_at(5) == 7  # both events at t=5
    assert index.position_at(6.99) == 7
    assert index.position_at(100) == 10
    with pytest.raises(IndexError, match=r'outside 0\.\.10'):
        index.state_at(11)
    with pytest.raises(IndexError):
        index.elapsed_at(-1)
    assert index.state_at(0) is None
    assert index.node_order == ('a', 'b')
    assert index.workflow is not None and index.workflow['id'] == 'wf'


def test_a_clock_that_steps_back_does_not_make_time_run_backwards() -> None:
    history = History().queued('a').add(E.EXECUTION_STARTED, after=5).add(E.NODE_STARTED, 'a', after=-3)
    index = ReplayIndex(history.add(E.EXECUTION_COMPLETED, after=1).events)
    assert [index.elapsed_at(k) for k in range(5)] == [0, 0, 5, 5, 5]
    assert index.position_at(4) == 1


def test_ticks_flag_failures_and_retries() -> None:
    marks = ticks(ReplayIndex(small().events))
    assert [t.position for t in marks] == list(range(1, 11))
    flagged = {t.position: t.flag for t in marks if t.flag}
    assert flagged == {4: 'retry', 9: 'failure', 10: 'failure'}
    assert marks[3].node_id == 'a' and marks[3].type == E.NODE_RETRYING and marks[3].elapsed_s == 3


def test_tick_marks_thin_a_long_timeline_but_keep_what_matters() -> None:
    history = History().queued('a')
    for _ in range(300):
        history.add(E.EXECUTION_PROGRESS, after=0.1)
    history.add(E.NODE_RETRYING, 'a', after=0.01, error='x')
    history.add(E.NODE_FAILED, 'a', after=0.01, error='x')
    index = ReplayIndex(history.add(E.EXECUTION_FAILED, after=0.1).events)
    marks = tick_marks(index, buckets=50)
    assert len(marks) <= 50
    assert [m.position for m in marks] == sorted(m.position for m in marks)
    assert any(m.flag == 'failure' for m in marks)
    assert tick_marks(ReplayIndex(small().events), buckets=50) == ticks(ReplayIndex(small().events))


def test_gantt_spans_one_segment_per_attempt() -> None:
    history = small().events[:-1]  # drop the terminal event: keep it simple
    history.append(
        Event(execution_id='x1', seq=10, type=E.NODE_SKIPPED, ts=T0 + timedelta(seconds=9), node_id='c', data={})
    )
    spans = ReplayIndex(history).spans()
    assert [(s.attempt, s.outcome, s.start, s.end, s.start_s, s.end_s, s.error) for s in spans['a']] == [
        (1, 'retried', 3, 4, 2, 3, '503'),
        (2, 'succeeded', 5, 6, 4, 5, None),
    ]
    assert [(s.outcome, s.start, s.end, s.error) for s in spans['b']] == [('failed', 8, 9, 'bad row')]
    assert [(s.outcome, s.start, s.end) for s in spans['c']] == [('skipped', 10, 10)]


def test_an_attempt_still_running_at_the_end_has_no_end() -> None:
    events = History().queued('a').add(E.NODE_STARTED, 'a', attempt=1).events
    (span,) = ReplayIndex(events).spans()['a']
    assert (span.outcome, span.start, span.end, span.end_s) == ('running', 2, None, None)


def test_node_positions_list_every_event_about_a_node() -> None:
    index = ReplayIndex(small().events)
    assert index.node_positions('a') == [3, 4, 5, 6, 7]
    assert index.node_positions('b') == [8, 9]
    assert index.node_positions('nope') == []


def test_an_empty_history() -> None:
    index = ReplayIndex([])
    assert (index.n, index.final, index.duration_s, index.state_at(0), ticks(index)) == (0, None, 0.0, None, [])
    assert index.spans() == {} and index.workflow is None and index.execution_id is None


def test_graph_order_is_topological_and_stable_and_tolerant() -> None:
    definition = {
        'nodes': [{'id': 'report'}, {'id': 'load'}, {'id': 'parse'}, {'id': 'side'}, 'junk', {'id': 7}],
        'edges': [
            {'source': 'load', 'target': 'parse'},
            {'source': 'parse', 'target': 'report'},
            {'source': 'ghost', 'target': 'report'},
            'junk',
        ],
    }
    assert graph_order(definition) == ('load', 'side', 'parse', 'report')
    cyclic = {
        'nodes': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}],
        'edges': [{'source': 'a', 'target': 'b'}] * 1 + [{'source': 'b', 'target': 'a'}],
    }
    assert graph_order(cyclic) == ('c', 'a', 'b')
    assert graph_order({'nodes': 'nonsense'}) == ()


# --- comparing two executions -----------------------------------------------------------------------


def run(execution_id: str, *, b_output: Any, b_fails: bool = False, slow: float = 1.0) -> list[Event]:
    history = History(execution_id).queued('a', 'b', 'c', edges=[('a', 'b'), ('b', 'c')])
    history.add(E.EXECUTION_STARTED)
    history.add(E.NODE_STARTED, 'a', attempt=1).add(E.NODE_COMPLETED, 'a', after=slow, attempt=1, output={'n': 1})
    history.add(E.NODE_STARTED, 'b', attempt=1)
    if b_fails:
        history.add(E.NODE_RETRYING, 'b', attempt=1, error='503').add(E.NODE_STARTED, 'b', attempt=2)
        history.add(E.NODE_FAILED, 'b', attempt=2, error='503').add(E.NODE_SKIPPED, 'c', reason='upstream failed')
        return history.add(E.EXECUTION_FAILED, error='b failed').events
    history.add(E.NODE_COMPLETED, 'b', attempt=1, output=b_output)
    history.add(E.NODE_STARTED, 'c', attempt=1).add(E.NODE_COMPLETED, 'c', attempt=1, output=None)
    return history.add(E.EXECUTION_COMPLETED).events


def test_compare_rows_status_attempts_duration_and_output() -> None:
    a = fold(run('a1', b_output={'rows': 3}))
    b = fold(run('b1', b_output=None, b_fails=True, slow=3.0))
    rows = {row.node_id: row for row in compare(a, b, order=('a', 'b', 'c'))}
    assert list(rows) == ['a', 'b', 'c']
    assert (rows['a'].a_status, rows['a'].b_status, rows['a'].differs) == ('succeeded', 'succeeded', False)
    assert (rows['a'].a_duration_ms, rows['a'].b_duration_ms, rows['a'].delta_ms) == (1000, 3000, 2000)
    assert (rows['b'].a_status, rows['b'].b_status, rows['b'].a_attempts, rows['b'].b_attempts) == (
        'succeeded',
        'failed',
        1,
        2,
    )
    assert rows['b'].status_differs and rows['b'].output_differs
    assert (rows['b'].a_output, rows['b'].b_output) == ({'rows': 3}, None)
    assert (rows['c'].b_status, rows['c'].delta_ms) == ('skipped', None)


def test_first_divergence_follows_the_given_order() -> None:
    a = fold(run('a1', b_output={'rows': 3}))
    same = fold(run('b1', b_output={'rows': 3}, slow=5.0))  # slower, but the same statuses and outputs
    assert first_divergence(a, same, order=('a', 'b', 'c')) is None
    other = fold(run('b2', b_output={'rows': 4}))
    diverged = first_divergence(a, other, order=('a', 'b', 'c'))
    assert diverged is not None
    assert (diverged.node_id, diverged.status_differs, diverged.output_differs) == ('b', False, True)
    # "c" comes first in this order, but it does not differ; "b" still is the first that does.
    assert first_divergence(a, other, order=('c', 'b', 'a')).node_id == 'b'  # type: ignore[union-attr]


def rerun_from_b(execution_id: str, *, retry_of: str, input: Any) -> list[Event]:
    """A rerun from "b": "a" reused (no attempt, done in no time), "b" and "c" run again as in :func:`run`."""
    history = History(execution_id)
    workflow = {'id': 'wf', 'name': 'wf', 'nodes': [{'id': n, 'type': 'log'} for n in 'abc'], 'edges': []}
    history.add(
        E.EXECUTION_QUEUED,
        after=0,
        workflow_id='wf',
        nodes=['a', 'b', 'c'],
        workflow=workflow,
        input=input,
        retry_of=retry_of,
        from_node='b',
    )
    history.add(E.EXECUTION_STARTED).add(E.NODE_COMPLETED, 'a', attempt=0, output={'n': 1}, reused=True)
    history.add(E.NODE_STARTED, 'b', attempt=1).add(E.NODE_COMPLETED, 'b', attempt=1, output={'rows': 3})
    history.add(E.NODE_STARTED, 'c', attempt=1).add(E.NODE_COMPLETED, 'c', attempt=1, output=None)
    return history.add(E.EXECUTION_COMPLETED).events


def test_a_reused_node_is_compared_by_status_and_output_but_never_by_duration() -> None:
    a = fold(run('a1', b_output={'rows': 3}))
    b = fold(rerun_from_b('b1', retry_of='a1', input=None))
    rows = {row.node_id: row for row in compare(a, b, order=('a', 'b', 'c'))}
    reused = rows['a']
    assert (reused.a_reused, reused.b_reused, reused.reused) == (False, True, True)
    assert (reused.a_attempts, reused.b_attempts) == (1, 0)
    assert reused.a_duration_ms == 1000 and reused.b_duration_ms == 0  # what the reducer says: no time of its own
    assert reused.delta_ms is None  # so no delta: it was not 1 s faster, it did not run
    assert not reused.differs  # the same status and output
    assert row_summary(reused) == 'reused in B (not run again)'
    assert rows['b'].delta_ms is not None and not rows['b'].reused
    swapped = {row.node_id: row for row in compare(b, a)}['a']
    assert (swapped.a_reused, swapped.delta_ms, row_summary(swapped)) == (True, None, 'reused in A (not run again)')


def test_the_verdict_tells_a_change_of_input_from_no_divergence() -> None:
    a = fold(run('a1', b_output={'rows': 3}))
    rerun = fold(rerun_from_b('b1', retry_of='a1', input={'day': '2026-12-09'}))
    alike = verdict(a, fold(run('a2', b_output={'rows': 3})), ('a', 'b', 'c'))
    assert (alike.identical, alike.inputs_differ, alike.divergence) == (True, False, None)
    assert alike.headline.startswith('No divergence')
    assert alike.inputs_line == 'Same input in both runs'
    changed = verdict(a, rerun, ('a', 'b', 'c'))
    assert (changed.identical, changed.inputs_differ, changed.divergence) == (False, True, None)
    assert (changed.a_input, changed.b_input) == (None, {'day': '2026-12-09'})
    assert changed.headline == 'Same status and output for every node; the inputs differ.'
    assert changed.inputs_line == 'Inputs differ'
    diverged = verdict(a, fold(run('a3', b_output={'rows': 4})), ('a', 'b', 'c'))
    assert diverged.divergence is not None and diverged.headline == 'First divergence:'
    assert not diverged.identical
    assert verdict(None, None).identical


def test_inputs_are_the_same_by_value_not_by_python_equality() -> None:
    assert same_json({'a': 1, 'b': [1, 2]}, {'b': [1, 2], 'a': 1})  # key order is no difference
    assert not same_json({'x': True}, {'x': 1})  # Python has True == 1; JSON does not
    assert not same_json({'x': 1}, {'x': 1.0})
    assert not same_json(None, {})
    assert same_json({1: 'a', 'b': 2}, {1: 'a', 'b': 2})  # keys json.dumps cannot sort are still compared


def test_compare_nodes_only_in_one_run_and_against_nothing() -> None:
    a = fold(History('a1').queued('a', 'old').events)
    b = fold(History('b1').queued('a', 'new').events)
    rows = compare(a, b)
    assert [(r.node_id, r.a_status, r.b_status) for r in rows] == [
        ('a', 'pending', 'pending'),
        ('old', 'pending', None),
        ('new', None, 'pending'),
    ]
    assert first_divergence(a, b).node_id == 'old'  # type: ignore[union-attr]
    assert [r.node_id for r in compare(None, b)] == ['a', 'new']
    assert compare(None, None) == []


def test_alignment_by_time_and_by_index() -> None:
    fast = ReplayIndex(run('a1', b_output=1))
    slow = ReplayIndex(run('b1', b_output=2, slow=10.0))
    by_time = Alignment(fast, slow, by='time')
    assert by_time.length == slow.duration_s
    assert by_time.positions(0) == (1, 1)
    assert by_time.positions(3) == (fast.position_at(3), slow.position_at(3))
    assert by_time.positions(1000) == (fast.n, slow.n)
    by_index = Alignment(fast, slow, by='index')
    assert by_index.length == max(fast.n, slow.n)
    assert by_index.positions(4) == (4, 4)
    assert by_index.positions(10_000) == (fast.n, slow.n)
    assert by_index.positions(-5) == (0, 0)
    a_state, b_state = by_index.states(5)
    assert (a_state, b_state) == (fast.state_at(5), slow.state_at(5))
    with pytest.raises(ValueError, match="'time' or 'index'"):
        Alignment(fast, slow, by='seq')  # type: ignore[arg-type]


def test_a_step_moves_to_the_next_or_previous_event_of_either_run() -> None:
    fast = ReplayIndex(run('a1', b_output=1))
    slow = ReplayIndex(run('b1', b_output=2, slow=10.0))
    by_index = Alignment(fast, slow, by='index')
    assert (by_index.step(4, 1), by_index.step(4, -2), by_index.step(0, -1)) == (5.0, 2.0, 0.0)
    assert by_index.step(by_index.length, 1) == by_index.length
    by_time = Alignment(fast, slow, by='time')
    times = sorted({index.elapsed_at(k) for index in (fast, slow) for k in range(1, index.n + 1)})
    x, visited = 0.0, [0.0]
    while x < by_time.length:
        x = by_time.step(x, 1)
        visited.append(x)
    assert visited == times  # every moment at which either run has an event, once, in order
    for earlier, later in pairwise(times):
        assert by_time.step(later, -1) == earlier
    assert by_time.step(times[3], 2) == times[5] and by_time.step(times[3], -5) == 0.0
    assert by_time.step((times[1] + times[2]) / 2, -1) == times[1]  # between two events: back to the one before


def test_settled_at_is_where_a_divergence_is_visible_in_both_runs() -> None:
    a = ReplayIndex(run('a1', b_output={'rows': 3}))
    b = ReplayIndex(run('b1', b_output={'rows': 4}, slow=10.0))
    diverged = first_divergence(a.final, b.final, a.node_order)
    assert diverged is not None and diverged.node_id == 'b'
    for by in ('time', 'index'):
        alignment = Alignment(a, b, by=by)  # type: ignore[arg-type]
        x = alignment.settled_at('b')
        at_a, at_b = alignment.states(x)
        assert at_a is not None and at_b is not None
        assert at_a.nodes['b'].output == {'rows': 3} and at_b.nodes['b'].output == {'rows': 4}
    assert Alignment(a, b, by='index').settled_at('b') == max(a.node_positions('b')[-1], b.node_positions('b')[-1])


def failed_with_a_last_millisecond() -> list[Event]:
    """A run that fails at "b" 1.062 s in: "c" skipped and the run failed 50 and 100 µs later (the same millisecond)."""
    history = History('a1').queued('a', 'b', 'c', edges=[('a', 'b'), ('b', 'c')])
    history.add(E.EXECUTION_STARTED, after=0.001).add(E.NODE_STARTED, 'a', after=0.001, attempt=1)
    history.add(E.NODE_COMPLETED, 'a', after=0.5, attempt=1, output={'n': 1}).add(
        E.NODE_STARTED, 'b', attempt=1, after=0
    )
    history.add(E.NODE_FAILED, 'b', after=0.56, attempt=1, error="unexpected column 'amount_usd'")
    history.add(E.NODE_SKIPPED, 'c', after=0.00005, reason='upstream failed')
    return history.add(E.EXECUTION_FAILED, after=0.00005, error='b failed').events


def rerun_with_a_retry() -> list[Event]:
    """A rerun from "b" that reuses "a", retries "b" once and succeeds: more events than the run above, in less time."""
    history = History('b1').queued('a', 'b', 'c', edges=[('a', 'b'), ('b', 'c')])
    history.add(E.EXECUTION_STARTED, after=0.1).add(
        E.NODE_COMPLETED, 'a', after=0.1, attempt=0, output={'n': 1}, reused=True
    )
    history.add(E.NODE_STARTED, 'b', after=0.1, attempt=1).add(E.NODE_RETRYING, 'b', after=0.1, attempt=1, error='503')
    history.add(E.NODE_STARTED, 'b', after=0.1, attempt=2).add(E.NODE_COMPLETED, 'b', after=0.1, attempt=2, output={})
    history.add(E.NODE_STARTED, 'c', after=0.1, attempt=1).add(E.NODE_COMPLETED, 'c', after=0.1, attempt=1, output=None)
    return history.add(E.EXECUTION_COMPLETED, after=0.1).events


def test_the_end_of_the_scrubber_is_the_end_of_both_runs_when_events_share_the_last_millisecond() -> None:
    a, b = ReplayIndex(failed_with_a_last_millisecond()), ReplayIndex(rerun_with_a_retry())
    assert (a.n, b.n) == (8, 10) and a.duration_s > b.duration_s
    by_time = Alignment(a, b, by='time')
    assert by_time.positions(by_time.length) == (a.n, b.n)
    assert by_time.states(by_time.length) == (a.final, b.final)
    assert a.final is not None and a.final.nodes['c'].status == 'skipped'
    # Where "b" settled in both runs is less than a millisecond before the end, yet before A's last two events: a
    # millisecond slider must not draw it at its end, where the reader expects every event applied.
    settled = by_time.settled_at('b')
    assert 0 < by_time.length - settled < 0.001 and by_time.positions(settled) == (a.n - 2, b.n)
    steps = round(by_time.length * 1000)
    assert round(settled * 1000) == steps  # rounded to the millisecond it is the end...
    assert thumb_step(settled, by_time.length, 1000.0, steps) == steps - 1  # ...but drawn a step before it
    assert thumb_step(by_time.length, by_time.length, 1000.0, steps) == steps
    assert thumb_step(0.0006, by_time.length, 1000.0, steps) == 1
    # Switching the alignment at the end stays at the end of both runs (B has the more events, A the longer time).
    by_index, x = by_time.realigned('index', by_time.length)
    assert (by_index.by, x, by_index.positions(x)) == ('index', b.n, (a.n, b.n))
    back, x = by_index.realigned('time', x)
    assert (back.by, back.positions(x)) == ('time', (a.n, b.n))
    assert by_index.realigned('time', 0)[1] == 0.0
    # In between, the moment is where run A is.
    middle, x = by_time.realigned('index', by_time.value_of('a', 3))
    assert middle.positions(x) == (3, 3)


def test_compare_rows_compare_the_time_the_tries_ran_and_keep_the_span() -> None:
    """A node tried again after a wait is compared by the time its tries ran, as its card shows it: two tries of 1 s,
    10 s apart, against one try of 1 s is 1 s slower, not 11 s; the span stays beside it."""
    a = fold(run('a1', b_output={'rows': 3}))
    history = History('b1').queued('a', 'b', 'c', edges=[('a', 'b'), ('b', 'c')])
    history.add(E.EXECUTION_STARTED)
    history.add(E.NODE_STARTED, 'a', attempt=1).add(E.NODE_COMPLETED, 'a', attempt=1, output={'n': 1})
    history.add(E.NODE_STARTED, 'b', attempt=1).add(E.NODE_RETRYING, 'b', attempt=1, error='503', delay_seconds=10)
    history.add(E.NODE_STARTED, 'b', after=10, attempt=2).add(E.NODE_COMPLETED, 'b', attempt=2, output={'rows': 3})
    history.add(E.NODE_STARTED, 'c', attempt=1).add(E.NODE_COMPLETED, 'c', attempt=1, output=None)
    b = fold(history.add(E.EXECUTION_COMPLETED).events)
    row = {row.node_id: row for row in compare(a, b)}['b']
    assert (row.a_duration_ms, row.b_duration_ms, row.delta_ms) == (1000, 2000, 1000)
    assert (row.a_span_ms, row.b_span_ms) == (1000, 12_000)
