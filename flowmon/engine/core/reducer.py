"""The one pure reducer that builds execution state (:mod:`flowmon.engine.core.state`) from events.

``apply(state, event) -> state`` is the only way execution state is made: the live page, the replay page,
the API's execution summary and the tests all fold the same events through it, so they cannot disagree.
States are immutable; ``apply`` returns a new state and never mutates its argument.

Replay folds whole histories (100,000 events must fold in well under a second), so the reducer is
written for speed without giving up purity: node events are handled by functions from one node's state
to the next, and :func:`fold` gathers a run of them before making one new execution state; node states
live in a :class:`NodeMap`, where replacing one node copies a small chunk rather than every node; and
states are copied with :func:`_evolve`, several times cheaper than ``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.nodemap import NodeMap
from flowmon.engine.core.provenance import recorded_trigger
from flowmon.engine.core.state import (
    TERMINAL_NODE_STATUSES,
    Attempt,
    EdgeFlow,
    ExecutionState,
    NodeState,
    initial_state,
)


def fold(events: Iterable[Event], state: ExecutionState | None = None) -> ExecutionState | None:
    """Apply events in order, starting from ``state`` (or from nothing).

    The same result as calling :func:`apply` for each event, made faster for long histories (replay folds
    100,000 events, the live projection every event once): a run of node, ``data.flow`` and progress events
    is gathered first, node events per node, and each touched node is then taken through its events in one
    go (a start followed by its completion makes one new node state, not two), each edge's flows likewise;
    the execution state is made once at the end of the run instead of once per event.
    """
    node_events: dict[str, list[Event]] = {}  # the run's node events per node, not yet in ``state``
    flows: dict[tuple[str, str], EdgeFlow] = {}  # the run's edge updates, not yet in ``state``
    in_run = False
    last_seq = 0
    last_ts: datetime | None = None
    node_types = _NODE_HANDLERS
    data_flow = EventType.DATA_FLOW
    for event in events:
        if state is None:
            state = initial_state(event.execution_id)
        event_type = event.type
        is_node_event = event_type in node_types
        if not is_node_event and event_type not in _RUN_EVENTS:
            if in_run:
                state = _close_run(state, node_events, flows, last_seq, last_ts)
                node_events, flows, in_run = {}, {}, False
            state = apply(state, event)
            continue
        if not in_run:
            last_seq, last_ts = state.last_seq, state.last_ts
        seq = event.seq
        if seq <= last_seq:
            continue
        in_run = True
        if is_node_event:
            node_id = event.node_id or ''
            gathered = node_events.get(node_id)
            if gathered is None:
                node_events[node_id] = [event]
            else:
                gathered.append(event)
        elif event_type is data_flow:
            key = (event.node_id or '', str(event.data.get('target', '')))
            flows[key] = _next_flow(flows.get(key) or state.edges.get(key), event)
        last_seq, last_ts = seq, event.ts
    if in_run and state is not None:
        state = _close_run(state, node_events, flows, last_seq, last_ts)
    return state


def _close_run(
    state: ExecutionState,
    node_events: Mapping[str, list[Event]],
    flows: Mapping[tuple[str, str], EdgeFlow],
    last_seq: int,
    last_ts: datetime | None,
) -> ExecutionState:
    """``state`` after a run of :func:`fold`: its nodes taken through their events, its edge updates, ``done``
    and its last event."""
    if not node_events and not flows:
        return _evolve(state, last_seq=last_seq, last_ts=last_ts)
    changes: dict[str, Any] = {'last_seq': last_seq, 'last_ts': last_ts}
    if node_events:
        nodes = state.nodes if isinstance(state.nodes, NodeMap) else NodeMap(state.nodes)
        done = state.done
        changed: dict[str, NodeState] = {}
        for node_id, events in node_events.items():  # new nodes are appended in the order they first appear
            previous = nodes.get(node_id)
            node = _fold_node(previous or _pending_node(node_id), events)
            if previous is None or previous.status != node.status:  # only a status change can change ``done``
                done += _done_change(previous, node)
            changed[node_id] = node
        changes['nodes'] = nodes.update(changed)
        changes['done'] = done
    if flows:
        edges = dict(state.edges)
        edges.update(flows)  # known edges keep their place, new ones are appended in first-flow order
        changes['edges'] = edges
    return _evolve(state, **changes)


def _fold_node(node: NodeState, events: list[Event]) -> NodeState:
    """``node`` after its ``events`` (in order); an attempt that starts and completes here is made in one step."""
    count = len(events)
    if count == 2 and events[0].type is _NODE_STARTED and events[1].type is _NODE_COMPLETED:
        return _node_ran(node, events[0], events[1])  # by far the most common run: a node that just succeeded
    handlers = _NODE_HANDLERS
    i = 0
    while i < count:
        event = events[i]
        if i + 1 < count and event.type is _NODE_STARTED and events[i + 1].type is _NODE_COMPLETED:
            node = _node_ran(node, event, events[i + 1])
            i += 2
        else:
            node = handlers[event.type](node, event)
            i += 1
    return node


def apply(state: ExecutionState | None, event: Event) -> ExecutionState:
    """Return the state after ``event``. Pure: ``state`` is left unchanged.

    Events at or below the state's ``last_seq`` were already applied and change nothing, so folding
    the same history twice (a reconnect, an overlapping fetch) is harmless.
    """
    if state is None:
        state = initial_state(event.execution_id)
    if event.seq <= state.last_seq:
        return state
    node_handler = _NODE_HANDLERS.get(event.type)
    if node_handler is not None:
        node_id = event.node_id or ''
        previous = state.nodes.get(node_id)
        node = node_handler(previous or _pending_node(node_id), event)
        return _with_nodes(state, {node_id: node}, state.done + _done_change(previous, node), event.seq, event.ts)
    handler = _HANDLERS.get(event.type)
    new = handler(state, event) if handler else state
    if new is state or new.last_seq != event.seq:
        new = _evolve(new, last_seq=event.seq, last_ts=event.ts)
    return new


# --- execution-level events -------------------------------------------------------------------------


def _queued(state: ExecutionState, event: Event) -> ExecutionState:
    data = event.data
    node_ids = list(data.get('nodes') or [])
    nodes = NodeMap([(node_id, _pending_node(node_id)) for node_id in node_ids])
    return _evolve(
        state,
        workflow_id=data.get('workflow_id'),
        status='queued',
        input=data.get('input'),
        created_at=event.ts,
        retry_of=data.get('retry_of'),
        from_node=data.get('from_node'),
        priority=int(data.get('priority') or 0),
        trigger=recorded_trigger(data),
        workflow_hash=data.get('workflow_hash'),
        nodes=nodes,
        done=0,
    )


def _started(state: ExecutionState, event: Event) -> ExecutionState:
    return _evolve(state, status='running', started_at=event.ts)


def _progress(state: ExecutionState, event: Event) -> ExecutionState:
    return state  # progress is derived from node transitions; the event is informational


def _finished(status: str) -> Callable[[ExecutionState, Event], ExecutionState]:
    def handler(state: ExecutionState, event: Event) -> ExecutionState:
        return _evolve(
            state,
            status=status,
            finished_at=event.ts,
            started_at=state.started_at or (event.ts if status != 'cancelled' else None),
            output=event.data.get('output', state.output),
            error=event.data.get('error', _why_ended(status, state, event)),
        )

    return handler


def _why_ended(status: str, state: ExecutionState, event: Event) -> str | None:
    """The error an ending leaves when its event names none: an interrupted execution's reason ("flowmon stopped
    while this execution was active"), so the list and the API say why it ended as a failed one's error does."""
    if status == 'succeeded':
        return None
    if status == 'interrupted' and state.error is None:
        reason = event.data.get('reason')
        return reason if isinstance(reason, str) and reason else None
    return state.error


# --- node-level events ------------------------------------------------------------------------------


def _with_nodes(
    state: ExecutionState, changed: Mapping[str, NodeState], done: int, last_seq: int, last_ts: datetime | None
) -> ExecutionState:
    """``state`` with the nodes in ``changed`` replaced (new ones appended), ``done`` and the last event."""
    nodes = state.nodes if isinstance(state.nodes, NodeMap) else NodeMap(state.nodes)
    return _evolve(state, nodes=nodes.update(changed), done=done, last_seq=last_seq, last_ts=last_ts)


def _done_change(previous: NodeState | None, node: NodeState) -> int:
    """How the count of finished nodes changes when ``previous`` becomes ``node``: +1, -1 or 0."""
    was_terminal = previous is not None and previous.status in TERMINAL_NODE_STATUSES
    is_terminal = node.status in TERMINAL_NODE_STATUSES
    return int(is_terminal) - int(was_terminal)


def _close_attempt(
    node: NodeState, event: Event, outcome: str, error: str | None, worker: str | None = None
) -> tuple[Attempt, ...]:
    log = node.attempt_log
    if log and log[-1].outcome == 'running':
        last = log[-1]
        closed = _evolve(
            last, finished_at=event.ts, outcome=outcome, error=error, end_seq=event.seq, worker=worker or last.worker
        )
        return (*log[:-1], closed)
    return log


# A node before any event; a node is this with its id (``NodeState(id=...)`` costs twice as much: it is made for
# every node of every execution).
_PENDING_FIELDS = NodeState(id='').__dict__


def _pending_node(node_id: str) -> NodeState:
    fields = _PENDING_FIELDS.copy()
    fields['id'] = node_id
    node = _new(NodeState)
    _set_fields(node, '__dict__', fields)
    return node


# A running attempt's defaults; a new attempt is this with its number and start (cheaper than ``Attempt(...)``).
_NEW_ATTEMPT = Attempt(n=0, started_at=datetime.min)
_NEW_ATTEMPT_FIELDS = _NEW_ATTEMPT.__dict__


def _node_started(node: NodeState, event: Event) -> NodeState:
    attempt = int(event.data.get('attempt') or node.attempts + 1)
    worker = event.data.get('worker')
    return _evolve(
        node,
        status='running',
        attempts=attempt,
        started_at=node.started_at or event.ts,
        finished_at=None,
        input=event.data.get('input', node.input),
        error=None,
        traceback=None,
        next_retry_in=None,
        worker=worker,
        attempt_log=(
            *node.attempt_log,
            _evolve(_NEW_ATTEMPT, n=attempt, started_at=event.ts, start_seq=event.seq, worker=worker),
        ),
    )


def _node_ran(node: NodeState, started: Event, completed: Event) -> NodeState:
    """``_node_completed(_node_started(node, started), completed)``, made in one step (one node state and one
    attempt instead of two of each). The fields are set one by one on copies (the node succeeds once per node
    of every execution: this is the reducer's most frequent step)."""
    started_data, completed_data = started.data, completed.data
    attempt = int(started_data.get('attempt') or node.attempts + 1)
    worker = completed_data.get('worker', started_data.get('worker'))
    closed = _NEW_ATTEMPT_FIELDS.copy()
    closed['n'] = attempt
    closed['started_at'] = started.ts
    closed['start_seq'] = started.seq
    closed['finished_at'] = completed.ts
    closed['outcome'] = 'succeeded'
    closed['end_seq'] = completed.seq
    closed['worker'] = worker
    attempt_record = _new(Attempt)
    _set_fields(attempt_record, '__dict__', closed)
    fields = node.__dict__.copy()
    fields['status'] = 'succeeded'
    fields['attempts'] = attempt
    fields['started_at'] = node.started_at or started.ts
    fields['finished_at'] = completed.ts
    fields['input'] = started_data.get('input', node.input)
    fields['output'] = completed_data.get('output')
    fields['error'] = None
    fields['traceback'] = None
    fields['reused'] = bool(completed_data.get('reused'))
    fields['next_retry_in'] = None
    fields['settled_seq'] = completed.seq
    fields['worker'] = worker
    fields['attempt_log'] = (*node.attempt_log, attempt_record)
    ran = _new(NodeState)
    _set_fields(ran, '__dict__', fields)
    return ran


def _node_retrying(node: NodeState, event: Event) -> NodeState:
    return _attempt_failed(node, event, 'retrying', 'retried', next_retry_in=event.data.get('delay_seconds'))


def _node_completed(node: NodeState, event: Event) -> NodeState:
    reused = bool(event.data.get('reused'))
    worker = event.data.get('worker', node.worker)
    return _evolve(
        node,
        status='succeeded',
        output=event.data.get('output'),
        error=None,
        traceback=None,
        reused=reused,
        started_at=node.started_at or (event.ts if reused else None),
        finished_at=event.ts,
        settled_seq=event.seq,
        worker=worker,
        attempt_log=_close_attempt(node, event, 'succeeded', None, worker),
    )


def _node_failed(node: NodeState, event: Event) -> NodeState:
    settled = {'finished_at': event.ts, 'next_retry_in': None, 'settled_seq': event.seq}
    return _attempt_failed(node, event, 'failed', 'failed', **settled)


def _attempt_failed(node: NodeState, event: Event, status: str, outcome: str, **changes: Any) -> NodeState:
    """The node once its attempt failed (``event``: node.retrying or node.failed): ``status``, with the event's error
    and traceback and the attempt closed as ``outcome``, and ``changes``."""
    error = event.data.get('error')
    return _evolve(
        node,
        status=status,
        error=error,
        traceback=event.data.get('traceback'),
        attempt_log=_close_attempt(node, event, outcome, error),
        **changes,
    )


def _node_skipped(node: NodeState, event: Event) -> NodeState:
    return _evolve(
        node, status='skipped', skip_reason=event.data.get('reason'), finished_at=None, settled_seq=event.seq
    )


def _node_cancelled(node: NodeState, event: Event) -> NodeState:
    return _evolve(
        node,
        status='cancelled',
        finished_at=event.ts if node.started_at else None,
        next_retry_in=None,
        settled_seq=event.seq,
        attempt_log=_close_attempt(node, event, 'cancelled', None),
    )


def _data_flow(state: ExecutionState, event: Event) -> ExecutionState:
    key = (event.node_id or '', str(event.data.get('target', '')))
    edges = dict(state.edges)
    edges[key] = _next_flow(state.edges.get(key), event)
    return _evolve(state, edges=edges)


def _next_flow(previous: EdgeFlow | None, event: Event) -> EdgeFlow:
    """An edge's flow after one more ``data.flow`` event along it."""
    size = int(event.data.get('bytes') or 0)
    flow = _new(EdgeFlow)  # EdgeFlow(...) without the frozen __init__'s setattr per field (3x the cost)
    if previous is None:
        _set_fields(flow, '__dict__', {'count': 1, 'bytes': size, 'last_seq': event.seq, 'last_ts': event.ts})
    else:
        fields = {
            'count': previous.count + 1,
            'bytes': previous.bytes + size,
            'last_seq': event.seq,
            'last_ts': event.ts,
        }
        _set_fields(flow, '__dict__', fields)
    return flow


_HANDLERS = {
    EventType.EXECUTION_QUEUED: _queued,
    EventType.EXECUTION_STARTED: _started,
    EventType.EXECUTION_PROGRESS: _progress,
    EventType.EXECUTION_COMPLETED: _finished('succeeded'),
    EventType.EXECUTION_FAILED: _finished('failed'),
    EventType.EXECUTION_CANCELLED: _finished('cancelled'),
    EventType.EXECUTION_INTERRUPTED: _finished('interrupted'),
    EventType.DATA_FLOW: _data_flow,
}

# Events about one node: each handler maps that node's state to its next one.
_NODE_HANDLERS: dict[EventType, Callable[[NodeState, Event], NodeState]] = {
    EventType.NODE_STARTED: _node_started,
    EventType.NODE_RETRYING: _node_retrying,
    EventType.NODE_COMPLETED: _node_completed,
    EventType.NODE_FAILED: _node_failed,
    EventType.NODE_SKIPPED: _node_skipped,
    EventType.NODE_CANCELLED: _node_cancelled,
}

# (an enum member read from its class costs three times a global's read, and fold reads these for every node)
_NODE_STARTED = EventType.NODE_STARTED
_NODE_COMPLETED = EventType.NODE_COMPLETED

# Events :func:`fold` gathers into runs besides node events: they change edges, or only ``last_seq``.
_RUN_EVENTS = frozenset({EventType.DATA_FLOW, EventType.EXECUTION_PROGRESS})


_T = TypeVar('_T')


def _evolve(obj: _T, **changes: Any) -> _T:
    """A copy of ``obj`` with ``changes`` (``dataclasses.replace`` for the state's classes, 6x cheaper).

    Sound because these frozen dataclasses keep their fields in ``__dict__`` and have no ``__post_init__``,
    init-only fields or validation: copying the fields and overriding some is all ``replace`` would do.
    """
    fields = obj.__dict__.copy()
    fields.update(changes)
    new = _new(type(obj))
    _set_fields(new, '__dict__', fields)
    return new


_new = object.__new__
_set_fields = object.__setattr__


__all__ = ['apply', 'fold']
