"""Execution state and the one pure reducer that builds it from events.

``apply(state, event) -> state`` is the only way execution state is made: the live page, the replay page,
the API's execution summary and the tests all fold the same events through it, so they cannot disagree.
States are immutable; ``apply`` returns a new state and never mutates its argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .events import Event, EventType

EXECUTION_STATUSES = ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')
NODE_STATUSES = ('pending', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled')
TERMINAL_NODE_STATUSES = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})
TERMINAL_EXECUTION_STATUSES = frozenset({'succeeded', 'failed', 'cancelled', 'interrupted'})


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    """One try at running a node."""

    n: int
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str = 'running'  # running | succeeded | failed | cancelled
    error: str | None = None

    @property
    def duration_ms(self) -> float | None:
        return _ms(self.started_at, self.finished_at)


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeState:
    """What is known about one node of an execution."""

    id: str
    status: str = 'pending'
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    reused: bool = False
    skip_reason: str | None = None
    next_retry_in: float | None = None
    attempt_log: tuple[Attempt, ...] = ()

    @property
    def duration_ms(self) -> float | None:
        return _ms(self.started_at, self.finished_at)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_NODE_STATUSES


@dataclass(frozen=True, kw_only=True, slots=True)
class EdgeFlow:
    """Data handed over along one edge so far."""

    count: int = 0
    bytes: int = 0
    last_seq: int = 0
    last_ts: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionState:
    """An execution as of its last applied event."""

    id: str
    workflow_id: str | None = None
    status: str = 'queued'
    input: Any = None
    output: Any = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    retry_of: str | None = None
    from_node: str | None = None
    priority: int = 0
    nodes: Mapping[str, NodeState] = field(default_factory=dict)
    edges: Mapping[tuple[str, str], EdgeFlow] = field(default_factory=dict)
    done: int = 0
    last_seq: int = 0
    last_ts: datetime | None = None

    @property
    def total(self) -> int:
        return len(self.nodes)

    @property
    def duration_ms(self) -> float | None:
        return _ms(self.started_at, self.finished_at)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_EXECUTION_STATUSES

    def summary(self) -> dict[str, Any]:
        """The API's execution summary shape."""
        return {
            'id': self.id,
            'workflow_id': self.workflow_id,
            'status': self.status,
            'input': self.input,
            'output': self.output,
            'error': self.error,
            'created_at': _iso(self.created_at),
            'started_at': _iso(self.started_at),
            'finished_at': _iso(self.finished_at),
            'duration_ms': self.duration_ms,
            'retry_of': self.retry_of,
            'progress': {'done': self.done, 'total': self.total},
            'nodes': {
                node.id: {
                    'status': node.status,
                    'attempts': node.attempts,
                    'started_at': _iso(node.started_at),
                    'finished_at': _iso(node.finished_at),
                    'duration_ms': node.duration_ms,
                    'output': node.output,
                    'error': node.error,
                    'reused': node.reused,
                }
                for node in self.nodes.values()
            },
        }


def initial_state(execution_id: str) -> ExecutionState:
    """The state before any event: an execution known only by its id."""
    return ExecutionState(id=execution_id)


def fold(events: Iterable[Event], state: ExecutionState | None = None) -> ExecutionState | None:
    """Apply events in order, starting from ``state`` (or from nothing)."""
    for event in events:
        state = apply(state, event)
    return state


def apply(state: ExecutionState | None, event: Event) -> ExecutionState:
    """Return the state after ``event``. Pure: ``state`` is left unchanged.

    Events at or below the state's ``last_seq`` were already applied and change nothing, so folding
    the same history twice (a reconnect, an overlapping fetch) is harmless.
    """
    if state is None:
        state = initial_state(event.execution_id)
    if event.seq <= state.last_seq:
        return state
    handler = _HANDLERS.get(event.type)
    new = handler(state, event) if handler else state
    return replace(new, last_seq=event.seq, last_ts=event.ts)


# --- execution-level events -------------------------------------------------------------------------


def _queued(state: ExecutionState, event: Event) -> ExecutionState:
    data = event.data
    node_ids = list(data.get('nodes') or [])
    nodes = {node_id: NodeState(id=node_id) for node_id in node_ids}
    return replace(
        state,
        workflow_id=data.get('workflow_id'),
        status='queued',
        input=data.get('input'),
        created_at=event.ts,
        retry_of=data.get('retry_of'),
        from_node=data.get('from_node'),
        priority=int(data.get('priority') or 0),
        nodes=nodes,
        done=0,
    )


def _started(state: ExecutionState, event: Event) -> ExecutionState:
    return replace(state, status='running', started_at=event.ts)


def _progress(state: ExecutionState, event: Event) -> ExecutionState:
    return state  # progress is derived from node transitions; the event is informational


def _finished(status: str) -> Callable[[ExecutionState, Event], ExecutionState]:
    def handler(state: ExecutionState, event: Event) -> ExecutionState:
        return replace(
            state,
            status=status,
            finished_at=event.ts,
            started_at=state.started_at or (event.ts if status != 'cancelled' else None),
            output=event.data.get('output', state.output),
            error=event.data.get('error', state.error if status != 'succeeded' else None),
        )

    return handler


# --- node-level events ------------------------------------------------------------------------------


def _with_node(state: ExecutionState, node: NodeState) -> ExecutionState:
    previous = state.nodes.get(node.id)
    nodes = dict(state.nodes)
    nodes[node.id] = node
    done = state.done
    was_terminal = previous is not None and previous.is_terminal
    if node.is_terminal and not was_terminal:
        done += 1
    elif was_terminal and not node.is_terminal:
        done -= 1
    return replace(state, nodes=nodes, done=done)


def _node(state: ExecutionState, event: Event) -> NodeState:
    node_id = event.node_id or ''
    return state.nodes.get(node_id) or NodeState(id=node_id)


def _close_attempt(node: NodeState, event: Event, outcome: str, error: str | None) -> tuple[Attempt, ...]:
    log = node.attempt_log
    if log and log[-1].outcome == 'running':
        return (*log[:-1], replace(log[-1], finished_at=event.ts, outcome=outcome, error=error))
    return log


def _node_started(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    attempt = int(event.data.get('attempt') or node.attempts + 1)
    updated = replace(
        node,
        status='running',
        attempts=attempt,
        started_at=node.started_at or event.ts,
        finished_at=None,
        input=event.data.get('input', node.input),
        error=None,
        traceback=None,
        next_retry_in=None,
        attempt_log=(*node.attempt_log, Attempt(n=attempt, started_at=event.ts)),
    )
    return _with_node(state, updated)


def _node_retrying(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    error = event.data.get('error')
    updated = replace(
        node,
        status='retrying',
        error=error,
        traceback=event.data.get('traceback'),
        next_retry_in=event.data.get('delay_seconds'),
        attempt_log=_close_attempt(node, event, 'failed', error),
    )
    return _with_node(state, updated)


def _node_completed(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    reused = bool(event.data.get('reused'))
    updated = replace(
        node,
        status='succeeded',
        output=event.data.get('output'),
        error=None,
        traceback=None,
        reused=reused,
        started_at=node.started_at or (event.ts if reused else None),
        finished_at=event.ts,
        attempt_log=_close_attempt(node, event, 'succeeded', None),
    )
    return _with_node(state, updated)


def _node_failed(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    error = event.data.get('error')
    updated = replace(
        node,
        status='failed',
        error=error,
        traceback=event.data.get('traceback'),
        finished_at=event.ts,
        next_retry_in=None,
        attempt_log=_close_attempt(node, event, 'failed', error),
    )
    return _with_node(state, updated)


def _node_skipped(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    updated = replace(node, status='skipped', skip_reason=event.data.get('reason'), finished_at=None)
    return _with_node(state, updated)


def _node_cancelled(state: ExecutionState, event: Event) -> ExecutionState:
    node = _node(state, event)
    updated = replace(
        node,
        status='cancelled',
        finished_at=event.ts if node.started_at else None,
        next_retry_in=None,
        attempt_log=_close_attempt(node, event, 'cancelled', None),
    )
    return _with_node(state, updated)


def _data_flow(state: ExecutionState, event: Event) -> ExecutionState:
    source = event.node_id or ''
    target = str(event.data.get('target', ''))
    key = (source, target)
    previous = state.edges.get(key) or EdgeFlow()
    edges = dict(state.edges)
    edges[key] = EdgeFlow(
        count=previous.count + 1,
        bytes=previous.bytes + int(event.data.get('bytes') or 0),
        last_seq=event.seq,
        last_ts=event.ts,
    )
    return replace(state, edges=edges)


_HANDLERS = {
    EventType.EXECUTION_QUEUED: _queued,
    EventType.EXECUTION_STARTED: _started,
    EventType.EXECUTION_PROGRESS: _progress,
    EventType.EXECUTION_COMPLETED: _finished('succeeded'),
    EventType.EXECUTION_FAILED: _finished('failed'),
    EventType.EXECUTION_CANCELLED: _finished('cancelled'),
    EventType.EXECUTION_INTERRUPTED: _finished('interrupted'),
    EventType.NODE_STARTED: _node_started,
    EventType.NODE_RETRYING: _node_retrying,
    EventType.NODE_COMPLETED: _node_completed,
    EventType.NODE_FAILED: _node_failed,
    EventType.NODE_SKIPPED: _node_skipped,
    EventType.NODE_CANCELLED: _node_cancelled,
    EventType.DATA_FLOW: _data_flow,
}


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


__all__ = [
    'EXECUTION_STATUSES',
    'NODE_STATUSES',
    'TERMINAL_EXECUTION_STATUSES',
    'TERMINAL_NODE_STATUSES',
    'Attempt',
    'EdgeFlow',
    'ExecutionState',
    'NodeState',
    'apply',
    'fold',
    'initial_state',
]
