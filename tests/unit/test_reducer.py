"""The pure reducer over hand-built event sequences, and the event wire format."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from event_history import History

from flowmon.application.views import execution_summary
from flowmon.engine import Event, EventFormatError, EventType, apply, fold

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
EXEC = 'exec-1'


class Events(History):
    """One execution's events with consecutive seq numbers, one second apart unless told."""

    def __init__(self) -> None:
        super().__init__(execution_id=EXEC, start=T0)

    def started(self, *nodes: str, **data: Any) -> Events:
        """Queued (see :meth:`queued`) and started a second later."""
        return self.queued(*nodes, **data).add(EventType.EXECUTION_STARTED)

    def queued(self, *nodes: str, **data: Any) -> Events:
        return self.add(EventType.EXECUTION_QUEUED, after=0, nodes=list(nodes), workflow_id='wf', **data)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_fold_of_nothing_is_none() -> None:
    assert fold([]) is None


def test_queued_sets_up_the_execution() -> None:
    state = Events().queued('a', 'b', input={'x': 1}, priority=3, retry_of='old', from_node='b').state()
    assert state.id == EXEC
    assert state.workflow_id == 'wf'
    assert state.status == 'queued'
    assert state.input == {'x': 1}
    assert state.priority == 3
    assert state.retry_of == 'old'
    assert state.from_node == 'b'
    assert state.created_at == T0
    assert list(state.nodes) == ['a', 'b']
    assert all(node.status == 'pending' for node in state.nodes.values())
    assert (state.done, state.total) == (0, 2)
    assert state.last_seq == 1
    assert not state.is_terminal


def test_successful_run_statuses_timings_outputs_progress() -> None:
    events = (
        Events()
        .started('a', 'b')  # t=1
        .add(EventType.NODE_STARTED, 'a', attempt=1, input={'input': {}})  # t=2
        .add(EventType.NODE_COMPLETED, 'a', attempt=1, output={'v': 1})  # t=3
        .add(EventType.EXECUTION_PROGRESS, done=1, total=2)  # t=4
        .add(EventType.DATA_FLOW, 'a', target='b', bytes=7)  # t=5
        .add(EventType.NODE_STARTED, 'b', attempt=1, input={'a': {'v': 1}})  # t=6
    )
    mid = events.state()
    assert mid.status == 'running'
    assert mid.nodes['a'].status == 'succeeded'
    assert mid.nodes['b'].status == 'running'
    assert (mid.done, mid.total) == (1, 2)

    events.add(EventType.NODE_COMPLETED, 'b', attempt=1, output=[1, 2], after=0.25)  # t=6.25
    events.add(EventType.EXECUTION_COMPLETED, output={'b': [1, 2]})  # t=7.25
    state = events.state()
    assert state.status == 'succeeded'
    assert state.is_terminal
    assert state.output == {'b': [1, 2]}
    assert state.error is None
    assert state.started_at == at(1)
    assert state.finished_at == at(7.25)
    assert state.duration_ms == 6250.0
    assert (state.done, state.total) == (2, 2)

    a, b = state.nodes['a'], state.nodes['b']
    assert a.output == {'v': 1}
    assert a.input == {'input': {}}
    assert a.attempts == 1
    assert (a.started_at, a.finished_at, a.duration_ms) == (at(2), at(3), 1000.0)
    assert b.duration_ms == 250.0
    assert b.input == {'a': {'v': 1}}
    assert [(x.n, x.outcome) for x in a.attempt_log] == [(1, 'succeeded')]
    assert a.attempt_log[0].duration_ms == 1000.0
    assert not a.reused

    summary = execution_summary(state)
    assert summary['progress'] == {'done': 2, 'total': 2, 'succeeded': 2}
    assert execution_summary(mid)['progress'] == {'done': 1, 'total': 2, 'succeeded': None}  # known once ended
    assert summary['nodes']['b']['duration_ms'] == 250.0
    assert summary['started_at'] == at(1).isoformat()


def test_retries_attempts_and_attempt_log() -> None:
    state = (
        Events()
        .started('a')
        .add(EventType.NODE_STARTED, 'a', attempt=1, input={'k': 1})  # t=2
        .add(EventType.NODE_RETRYING, 'a', attempt=1, error='boom 1', traceback='tb', delay_seconds=0.5)  # t=3
        .state()
    )
    node = state.nodes['a']
    assert node.status == 'retrying'
    assert node.error == 'boom 1'
    assert node.traceback == 'tb'
    assert node.next_retry_in == 0.5
    assert not node.is_terminal
    assert state.done == 0

    events = (
        Events()
        .started('a')
        .add(EventType.NODE_STARTED, 'a', attempt=1, input={'k': 1})  # t=2
        .add(EventType.NODE_RETRYING, 'a', attempt=1, error='boom 1', delay_seconds=0.5)  # t=3
        .add(EventType.NODE_STARTED, 'a', attempt=2)  # t=4
        .add(EventType.NODE_RETRYING, 'a', attempt=2, error='boom 2', delay_seconds=1.0)  # t=5
        .add(EventType.NODE_STARTED, 'a', attempt=3)  # t=6
    )
    running = events.state().nodes['a']
    assert running.status == 'running'
    assert running.error is None
    assert running.next_retry_in is None
    assert running.input == {'k': 1}  # kept from the first attempt

    events.add(EventType.NODE_COMPLETED, 'a', attempt=3, output='ok')  # t=7
    node = events.state().nodes['a']
    assert node.status == 'succeeded'
    assert node.attempts == 3
    assert [(x.n, x.outcome, x.error, x.start_seq, x.end_seq) for x in node.attempt_log] == [
        (1, 'retried', 'boom 1', 3, 4),  # it failed, and another attempt followed
        (2, 'retried', 'boom 2', 5, 6),
        (3, 'succeeded', None, 7, 8),
    ]
    assert node.settled_seq == 8
    assert node.started_at == at(2)  # the first attempt's start
    assert node.finished_at == at(7)
    assert node.duration_ms == 5000.0


def test_a_node_tried_again_ran_for_its_attempts_alone() -> None:
    """Its duration spans the waits between tries (first start to end); ``ran_ms`` adds up the attempts, the time
    the pages show ("481 ms · 2 tries" for two tries of under 1 ms each was mostly backoff)."""
    events = (
        Events()
        .started('a', 'b')
        .add(EventType.NODE_STARTED, 'a', attempt=1)  # t=2
        .add(EventType.NODE_COMPLETED, 'a', attempt=1, output=1)  # t=3
        .add(EventType.NODE_STARTED, 'b', attempt=1)  # t=4
        .add(EventType.NODE_RETRYING, 'b', attempt=1, error='boom 1', delay_seconds=3)  # t=5
    )
    assert events.state().nodes['b'].ran_ms is None  # not finished: nothing added up yet, as duration_ms
    events.add(EventType.NODE_STARTED, 'b', attempt=2)  # t=6, after the wait
    assert events.state().nodes['b'].ran_ms is None
    events.add(EventType.NODE_FAILED, 'b', attempt=2, error='boom 2')  # t=7
    state = events.state()
    a, b = state.nodes['a'], state.nodes['b']
    assert (a.duration_ms, a.ran_ms) == (1000.0, 1000.0)  # tried once: the same
    assert (b.duration_ms, b.ran_ms) == (3000.0, 2000.0)  # two tries of 1 s; the wait between them left out
    summary = execution_summary(state)['nodes']['b']
    assert (summary['duration_ms'], summary['ran_ms']) == (3000.0, 2000.0)  # the API's duration keeps its meaning


def test_a_node_s_added_up_time_is_its_own_after_each_event() -> None:
    """``ran_ms`` is remembered once read, and the reducer makes a node's next state from a copy of its fields: each
    state, read after every event, still adds up its own attempts (read before the next event comes, as a live page
    reads them)."""
    events = (
        Events()
        .started('b')
        .add(EventType.NODE_STARTED, 'b', attempt=1)  # t=2
        .add(EventType.NODE_RETRYING, 'b', attempt=1, error='boom 1', delay_seconds=3)  # t=3
        .add(EventType.NODE_STARTED, 'b', attempt=2, after=2)  # t=5
        .add(EventType.NODE_RETRYING, 'b', attempt=2, error='boom 2', delay_seconds=1, after=2)  # t=7
        .add(EventType.NODE_STARTED, 'b', attempt=3)  # t=8
        .add(EventType.NODE_COMPLETED, 'b', attempt=3, output=1, after=4)  # t=12
    ).events
    state = None
    seen = []
    for event in events:
        state = apply(state, event)
        node = state.nodes['b']
        seen.append((node.ran_ms, node.ran_ms))  # (a second read: the remembered sum)
    assert seen[-1] == (7000.0, 7000.0)  # 1 s + 2 s + 4 s; the span is 10 s
    assert state is not None and state.nodes['b'].duration_ms == 10000.0
    assert all(first == second for first, second in seen)
    assert [first for first, _ in seen[:-1]] == [None] * (len(events) - 1)
    # a copy of the finished node's fields with a shorter log (as the reducer copies them) adds that log up
    node = state.nodes['b']
    shorter = copy.copy(node)
    object.__setattr__(shorter, 'attempt_log', node.attempt_log[1:])
    assert shorter.ran_ms == 6000.0
    # cancelled while it waits to retry: the same log (no attempt open) with a finish time now, its sum read before
    waiting = events[:6]  # ..., b's second attempt failed at t=7, to be retried
    state = None
    for event in waiting:
        state = apply(state, event)
    assert state is not None
    before = state.nodes['b']
    assert (before.status, before.ran_ms) == ('retrying', None)
    cancelled = Events()
    cancelled.events = list(waiting)
    cancelled.add(EventType.NODE_CANCELLED, 'b')  # t=8
    node = apply(state, cancelled.events[-1]).nodes['b']
    assert node.attempt_log is before.attempt_log  # (what the remembered sum was read from)
    assert (node.status, node.duration_ms, node.ran_ms) == ('cancelled', 6000.0, 3000.0)


def test_failure_errors_and_execution_error() -> None:
    state = (
        Events()
        .started('a', 'b')
        .add(EventType.NODE_STARTED, 'a', attempt=1)
        .add(EventType.NODE_FAILED, 'a', attempt=1, error='bad input', traceback='Traceback ...')
        .add(EventType.NODE_SKIPPED, 'b', reason="upstream 'a' failed")
        .add(EventType.EXECUTION_FAILED, error="node 'a' failed: bad input", failed_nodes=['a'])
        .state()
    )
    a, b = state.nodes['a'], state.nodes['b']
    assert a.status == 'failed'
    assert a.error == 'bad input'
    assert a.traceback == 'Traceback ...'
    assert [(x.n, x.outcome, x.error) for x in a.attempt_log] == [(1, 'failed', 'bad input')]
    assert b.status == 'skipped'
    assert b.skip_reason == "upstream 'a' failed"
    assert b.started_at is None
    assert b.duration_ms is None
    assert state.status == 'failed'
    assert state.error == "node 'a' failed: bad input"
    assert (state.done, state.total) == (2, 2)


def test_reused_node() -> None:
    state = (
        Events()
        .started('a', 'b', retry_of='old', from_node='b')
        .add(EventType.NODE_COMPLETED, 'a', attempt=0, output={'kept': True}, reused=True)  # t=2
        .state()
    )
    node = state.nodes['a']
    assert node.status == 'succeeded'
    assert node.reused
    assert node.output == {'kept': True}
    assert node.attempts == 0
    assert node.attempt_log == ()
    assert node.started_at == node.finished_at == at(2)
    assert state.done == 1
    assert state.retry_of == 'old'


def test_cancelled_nodes_and_execution() -> None:
    state = (
        Events()
        .started('a', 'b')
        .add(EventType.NODE_STARTED, 'a', attempt=1)  # t=2
        .add(EventType.NODE_CANCELLED, 'a', reason='cancelled')  # t=3
        .add(EventType.NODE_CANCELLED, 'b', reason='cancelled')  # t=4
        .add(EventType.EXECUTION_CANCELLED, reason='cancelled by user')  # t=5
        .state()
    )
    a, b = state.nodes['a'], state.nodes['b']
    assert a.status == b.status == 'cancelled'
    assert a.finished_at == at(3)
    assert [(x.n, x.outcome) for x in a.attempt_log] == [(1, 'cancelled')]
    assert b.finished_at is None  # never started
    assert state.status == 'cancelled'
    assert state.error is None
    assert state.finished_at == at(5)
    assert (state.done, state.total) == (2, 2)


def test_cancelled_while_queued_has_no_start() -> None:
    state = Events().queued('a').add(EventType.EXECUTION_CANCELLED, reason='cancelled while queued').state()
    assert state.status == 'cancelled'
    assert state.started_at is None
    assert state.duration_ms is None


def test_interrupted() -> None:
    state = (
        Events()
        .started('a')
        .add(EventType.NODE_STARTED, 'a', attempt=1)
        .add(EventType.NODE_CANCELLED, 'a', reason='interrupted')
        .add(EventType.EXECUTION_INTERRUPTED, reason='flowmon stopped')
        .state()
    )
    assert state.status == 'interrupted'
    assert state.is_terminal
    assert state.nodes['a'].status == 'cancelled'
    assert state.error == 'flowmon stopped'  # (the list and the API say why it ended)


def test_a_cancelled_or_succeeded_execution_has_no_error_from_its_reason() -> None:
    cancelled = Events().started('a').add(EventType.EXECUTION_CANCELLED, reason='cancelled by user').state()
    assert cancelled.error is None
    succeeded = Events().started('a').add(EventType.EXECUTION_COMPLETED, reason='x', output={}).state()
    assert succeeded.error is None


def test_data_flow_counts_and_bytes_per_edge() -> None:
    state = (
        Events()
        .queued('a', 'b', 'c')
        .add(EventType.DATA_FLOW, 'a', target='b', bytes=10)
        .add(EventType.DATA_FLOW, 'a', target='b', bytes=5)
        .add(EventType.DATA_FLOW, 'a', target='c', bytes=3)
        .add(EventType.DATA_FLOW, 'b', target='c')
        .state()
    )
    ab, ac, bc = state.edges[('a', 'b')], state.edges[('a', 'c')], state.edges[('b', 'c')]
    assert (ab.count, ab.bytes, ab.last_seq) == (2, 15, 3)
    assert (ac.count, ac.bytes) == (1, 3)
    assert (bc.count, bc.bytes, bc.last_seq, bc.last_ts) == (1, 0, 5, at(4))
    assert len(state.edges) == 3


def test_progress_event_is_informational() -> None:
    events = Events().queued('a', 'b').add(EventType.EXECUTION_PROGRESS, done=2, total=2)
    state = events.state()
    assert (state.done, state.total) == (0, 2)
    assert state.last_seq == 2


def test_idempotent_replay_and_overlap() -> None:
    events = (
        Events()
        .started('a')
        .add(EventType.NODE_STARTED, 'a', attempt=1)
        .add(EventType.NODE_COMPLETED, 'a', attempt=1, output=1)
        .add(EventType.EXECUTION_COMPLETED, output={'a': 1})
    ).events
    once = fold(events)
    twice = fold(events, once)
    overlapping = fold(events[2:], fold(events[:4]))
    assert twice is once  # nothing at or below last_seq changes anything
    assert overlapping == once
    assert once is not None
    assert once.nodes['a'].attempts == 1
    assert len(once.nodes['a'].attempt_log) == 1

    # A stale event applied to a later state is ignored even if it would change something.
    stale = Event(execution_id=EXEC, seq=3, type=EventType.NODE_FAILED, ts=at(99), node_id='a', data={'error': 'x'})
    assert apply(once, stale) is once


def test_apply_is_pure() -> None:
    events = (
        Events()
        .started('a', 'b')
        .add(EventType.NODE_STARTED, 'a', attempt=1)
        .add(EventType.DATA_FLOW, 'a', target='b', bytes=4)
    ).events
    before = fold(events)
    assert before is not None
    snapshot = copy.deepcopy(before)
    after = apply(
        before,
        Event(execution_id=EXEC, seq=5, type=EventType.NODE_COMPLETED, ts=at(9), node_id='a', data={'output': 1}),
    )
    after = apply(after, Event(execution_id=EXEC, seq=6, type=EventType.DATA_FLOW, ts=at(10), node_id='a', data={}))
    assert before == snapshot
    assert before.nodes['a'].status == 'running'
    assert before.edges[('a', 'b')].count == 1
    assert after.nodes['a'].status == 'succeeded'
    assert after is not before
    assert after.nodes is not before.nodes


def test_event_for_unknown_node_is_tolerated() -> None:
    state = Events().queued('a').add(EventType.NODE_STARTED, 'late', attempt=1).state()
    assert state.nodes['late'].status == 'running'


# --- wire format ------------------------------------------------------------------------------------


def sample_event(**overrides: Any) -> Event:
    fields: dict[str, Any] = {
        'execution_id': EXEC,
        'seq': 7,
        'type': EventType.NODE_RETRYING,
        'ts': datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC),
        'node_id': 'a',
        'data': {'attempt': 2, 'error': 'boom', 'delay_seconds': 1.5, 'nested': {'x': [1, None]}},
    }
    fields.update(overrides)
    return Event(**fields)


@pytest.mark.parametrize(
    'event',
    [
        sample_event(),
        sample_event(type=EventType.EXECUTION_STARTED, node_id=None, data={}),
        sample_event(ts=datetime(2025, 6, 1, 14, 0, tzinfo=UTC) + timedelta(microseconds=1)),
    ],
)
def test_marshal_unmarshal_round_trip(event: Event) -> None:
    raw = event.marshal()
    assert isinstance(raw['ts'], str)
    assert raw['type'] == str(event.type)
    assert Event.unmarshal(raw) == event
    assert Event.unmarshal(raw).marshal() == raw


def test_marshal_shape() -> None:
    assert sample_event(data={}).marshal() == {
        'execution_id': EXEC,
        'seq': 7,
        'ts': '2025-06-01T12:00:00.123456+00:00',
        'type': 'node.retrying',
        'node_id': 'a',
        'data': {},
    }


def test_unmarshal_assumes_utc_for_naive_timestamps_and_accepts_datetimes() -> None:
    raw = sample_event().marshal()
    raw['ts'] = '2025-06-01T12:00:00'
    assert Event.unmarshal(raw).ts == datetime(2025, 6, 1, 12, tzinfo=UTC)
    raw['ts'] = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert Event.unmarshal(raw).ts == datetime(2025, 6, 1, 12, tzinfo=UTC)
    raw.pop('data')
    raw.pop('node_id')
    event = Event.unmarshal(raw)
    assert event.data == {}
    assert event.node_id is None


@pytest.mark.parametrize(
    ('change', 'match'),
    [
        ({'type': 'node.exploded'}, 'unknown event type'),
        ({'type': None}, 'unknown event type'),
        ({'ts': 'yesterday'}, 'timestamp'),
        ({'ts': None}, 'timestamp'),
        ({'seq': 0}, 'seq'),
        ({'seq': -1}, 'seq'),
        ({'seq': '3'}, 'seq'),
        ({'seq': True}, 'seq'),
        ({'data': [1, 2]}, 'data'),
    ],
)
def test_unmarshal_rejects_bad_fields(change: dict[str, Any], match: str) -> None:
    raw = sample_event().marshal()
    raw.update(change)
    with pytest.raises(EventFormatError, match=match):
        Event.unmarshal(raw)


@pytest.mark.parametrize('missing', ['type', 'seq', 'ts', 'execution_id'])
def test_unmarshal_names_a_missing_field(missing: str) -> None:
    raw = sample_event().marshal()
    del raw[missing]
    with pytest.raises(EventFormatError, match=f"missing the field '{missing}'"):
        Event.unmarshal(raw)


def test_event_format_error_is_a_value_error() -> None:
    assert issubclass(EventFormatError, ValueError)
