"""Replay: an execution's state at any position of its event history, and how two executions differ.

Position ``k`` means "after the first ``k`` events" (``0 .. n``). :class:`ReplayIndex` folds the whole
history once when it is created and keeps the state every ``keyframe_every`` events, so the state at any
position is the nearest keyframe plus at most ``keyframe_every - 1`` events folded with the same reducer the
live view uses (replay cannot disagree with what was seen live). It also answers the position questions
a timeline needs: elapsed time at a position, the position at an elapsed time, tick marks, Gantt spans.
:func:`compare`, :func:`first_divergence` and :class:`Alignment` put two executions side by side.

Pure: no I/O, no clock; callers load the events.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from flowmon.engine.core.bulk import collector_paused
from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.state import ExecutionState, NodeState, fold

KEYFRAME_EVERY = 500

FAILURE_EVENTS = frozenset({EventType.NODE_FAILED, EventType.EXECUTION_FAILED})
RETRY_EVENTS = frozenset({EventType.NODE_RETRYING})
_ATTEMPT_CLOSERS = {
    EventType.NODE_RETRYING: 'retried',
    EventType.NODE_COMPLETED: 'succeeded',
    EventType.NODE_FAILED: 'failed',
    EventType.NODE_CANCELLED: 'cancelled',
}

TickFlag = Literal['failure', 'retry'] | None
AlignBy = Literal['time', 'index']


@dataclass(frozen=True, slots=True)
class Tick:
    """One event on the timeline: the position after it, when it happened, and whether it is notable."""

    position: int
    elapsed_s: float
    type: EventType
    node_id: str | None
    flag: TickFlag = None


@dataclass(frozen=True, slots=True)
class Span:
    """One segment of a node's Gantt row.

    ``outcome`` is ``running`` (still open at the end of the history), ``succeeded``, ``failed``,
    ``retried`` (the attempt failed and another followed), ``cancelled``, or for zero-length markers
    ``reused`` (output carried over by a partial rerun) and ``skipped``. ``start``/``end`` are positions:
    seeking to ``start`` shows the attempt begun, to ``end`` shows it finished.
    """

    node_id: str
    attempt: int
    outcome: str
    start: int
    end: int | None
    start_s: float
    end_s: float | None
    error: str | None = None


class ReplayIndex:
    """Random access to one execution's states by position, built in one pass over its events."""

    def __init__(self, events: Sequence[Event], *, keyframe_every: int = KEYFRAME_EVERY) -> None:
        if keyframe_every < 1:
            raise ValueError('keyframe_every must be at least 1')
        self._events = list(events)
        self._every = keyframe_every
        self._keyframes: list[ExecutionState | None] = [None]
        state: ExecutionState | None = None
        with collector_paused():
            for start in range(0, len(self._events), keyframe_every):
                state = fold(self._events[start : start + keyframe_every], state)
                if start + keyframe_every <= len(self._events):
                    self._keyframes.append(state)
            origin = self._events[0].ts if self._events else None
            seconds = [(event.ts - origin).total_seconds() for event in self._events] if origin else []
        # Running maximum: a wall clock stepping back must not make the timeline go backwards.
        self._elapsed: list[float] = list(accumulate(seconds, max))
        self._final = state
        self._cursor: tuple[int, ExecutionState | None] = (0, None)
        self._spans: dict[str, list[Span]] | None = None
        self._node_positions: dict[str, list[int]] | None = None
        self._node_order: tuple[str, ...] | None = None

    # --- size and time ------------------------------------------------------------------------------

    @property
    def events(self) -> Sequence[Event]:
        return self._events

    @property
    def n(self) -> int:
        """The number of events (the last position)."""
        return len(self._events)

    @property
    def execution_id(self) -> str | None:
        return self._events[0].execution_id if self._events else None

    @property
    def final(self) -> ExecutionState | None:
        """The state after every event."""
        return self._final

    @property
    def duration_s(self) -> float:
        """Seconds from the first event to the last."""
        return self._elapsed[-1] if self._elapsed else 0.0

    def elapsed_at(self, k: int) -> float:
        """Seconds since the first event at position ``k`` (0 at positions 0 and 1)."""
        self._check(k)
        return self._elapsed[k - 1] if k else 0.0

    def position_at(self, elapsed_s: float) -> int:
        """The position after the last event at or before ``elapsed_s`` seconds since the first event."""
        if elapsed_s < 0:
            return 0
        return bisect_right(self._elapsed, elapsed_s)

    # --- state --------------------------------------------------------------------------------------

    def state_at(self, k: int) -> ExecutionState | None:
        """The state after the first ``k`` events (None at position 0, like folding nothing)."""
        self._check(k)
        if k == self.n:
            return self._final
        base = k - k % self._every
        cursor_k, cursor_state = self._cursor
        if base <= cursor_k <= k:
            start, state = cursor_k, cursor_state
        else:
            start, state = base, self._keyframes[base // self._every]
        state = fold(self._events[start:k], state)
        self._cursor = (k, state)
        return state

    # --- timeline -----------------------------------------------------------------------------------

    def ticks(self) -> list[Tick]:
        """One tick per event, failures and retries flagged."""
        return [self._tick(i) for i in range(self.n)]

    def tick_marks(self, buckets: int = 200) -> list[Tick]:
        """At most ``buckets`` ticks for a scrubber: per slice of time the most notable event in it.

        A failure beats a retry, which beats any other event; ties go to the earliest.
        """
        if buckets < 1:
            raise ValueError('buckets must be at least 1')
        if self.n <= buckets:
            return self.ticks()
        width = self.duration_s / buckets or 1.0
        chosen: dict[int, int] = {}
        for i in range(self.n):
            bucket = min(int(self._elapsed[i] / width), buckets - 1)
            best = chosen.get(bucket)
            if best is None or _rank(self._events[i].type) > _rank(self._events[best].type):
                chosen[bucket] = i
        return [self._tick(i) for _, i in sorted(chosen.items())]

    def spans(self) -> dict[str, list[Span]]:
        """Gantt rows: per node (in graph order) its attempts as segments, plus reuse/skip markers."""
        if self._spans is None:
            self._build_spans()
        assert self._spans is not None
        return self._spans

    def node_positions(self, node_id: str) -> list[int]:
        """Positions after each event about ``node_id`` (its own events and the data it sent on)."""
        if self._node_positions is None:
            self._build_spans()
        assert self._node_positions is not None
        return self._node_positions.get(node_id, [])

    # --- the workflow the execution ran -------------------------------------------------------------

    @property
    def workflow(self) -> Mapping[str, Any] | None:
        """The workflow definition snapshot from ``execution.queued`` (None when absent)."""
        if not self._events or self._events[0].type != EventType.EXECUTION_QUEUED:
            return None
        definition = self._events[0].data.get('workflow')
        return definition if isinstance(definition, Mapping) else None

    @property
    def node_order(self) -> tuple[str, ...]:
        """Node ids in topological order (stable in definition order), then any other node seen."""
        if self._node_order is None:
            order = dict.fromkeys(graph_order(self.workflow) if self.workflow else ())
            order.update(dict.fromkeys(self._final.nodes if self._final else ()))
            order.update(dict.fromkeys(e.node_id for e in self._events if e.node_id is not None))
            self._node_order = tuple(order)
        return self._node_order

    # --- internals ----------------------------------------------------------------------------------

    def _check(self, k: int) -> None:
        if not 0 <= k <= self.n:
            raise IndexError(f'position {k} is outside 0..{self.n}')

    def _tick(self, i: int) -> Tick:
        event = self._events[i]
        flag: TickFlag = 'failure' if event.type in FAILURE_EVENTS else 'retry' if event.type in RETRY_EVENTS else None
        return Tick(position=i + 1, elapsed_s=self._elapsed[i], type=event.type, node_id=event.node_id, flag=flag)

    def _build_spans(self) -> None:
        rows: dict[str, list[Span]] = {node_id: [] for node_id in self.node_order}
        positions: dict[str, list[int]] = {}
        for i, event in enumerate(self._events):
            node_id = event.node_id
            if node_id is None:
                continue
            k, at = i + 1, self._elapsed[i]
            positions.setdefault(node_id, []).append(k)
            if event.type == EventType.DATA_FLOW:
                continue
            row = rows.setdefault(node_id, [])
            open_span = row[-1] if row and row[-1].end is None else None
            if event.type == EventType.NODE_STARTED:
                attempt = int(event.data.get('attempt') or max((s.attempt for s in row), default=0) + 1)
                row.append(
                    Span(node_id=node_id, attempt=attempt, outcome='running', start=k, end=None, start_s=at, end_s=None)
                )
            elif event.type in _ATTEMPT_CLOSERS and open_span is not None:
                outcome = _ATTEMPT_CLOSERS[event.type]
                error = event.data.get('error') if outcome in ('retried', 'failed') else None
                row[-1] = Span(
                    node_id=node_id,
                    attempt=open_span.attempt,
                    outcome=outcome,
                    start=open_span.start,
                    end=k,
                    start_s=open_span.start_s,
                    end_s=at,
                    error=None if error is None else str(error),
                )
            elif event.type == EventType.NODE_COMPLETED and event.data.get('reused'):
                row.append(Span(node_id=node_id, attempt=0, outcome='reused', start=k, end=k, start_s=at, end_s=at))
            elif event.type == EventType.NODE_SKIPPED:
                row.append(Span(node_id=node_id, attempt=0, outcome='skipped', start=k, end=k, start_s=at, end_s=at))
        self._spans = rows
        self._node_positions = positions


def _rank(event_type: EventType) -> int:
    return 2 if event_type in FAILURE_EVENTS else 1 if event_type in RETRY_EVENTS else 0


def graph_order(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """Topological order of a (raw) workflow definition, stable in definition order.

    Tolerant of unvalidated input: malformed entries are ignored and nodes left in a cycle follow in
    definition order, so an odd definition still gives every node a place.
    """
    nodes = definition.get('nodes')
    ids = (
        [n['id'] for n in nodes if isinstance(n, Mapping) and isinstance(n.get('id'), str)]
        if isinstance(nodes, list)
        else []
    )
    known = set(ids)
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in ids}
    indegree = dict.fromkeys(ids, 0)
    edges = definition.get('edges')
    for edge in edges if isinstance(edges, list) else []:
        if not isinstance(edge, Mapping):
            continue
        source, target = str(edge.get('source')), str(edge.get('target'))
        if source in known and target in known and source != target:
            outgoing[source].append(target)
            indegree[target] += 1
    ready = [node_id for node_id in ids if indegree[node_id] == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in outgoing[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    placed = set(order)
    return (*order, *(node_id for node_id in ids if node_id not in placed))


# --- comparing two executions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeDiff:
    """One row of the compare table. ``a_status``/``b_status`` are None when the node is not in that run."""

    node_id: str
    a_status: str | None
    b_status: str | None
    a_attempts: int
    b_attempts: int
    a_duration_ms: float | None
    b_duration_ms: float | None
    a_output: Any
    b_output: Any

    @property
    def delta_ms(self) -> float | None:
        """``b`` minus ``a`` (positive: ``b`` was slower); None unless both have a duration."""
        if self.a_duration_ms is None or self.b_duration_ms is None:
            return None
        return round(self.b_duration_ms - self.a_duration_ms, 3)

    @property
    def status_differs(self) -> bool:
        return self.a_status != self.b_status

    @property
    def output_differs(self) -> bool:
        return self.a_output != self.b_output

    @property
    def differs(self) -> bool:
        return self.status_differs or self.output_differs


def compare(a: ExecutionState | None, b: ExecutionState | None, order: Iterable[str] = ()) -> list[NodeDiff]:
    """Per-node differences between two states: nodes in ``order`` first, then any others (a's, then b's)."""
    a_nodes: Mapping[str, NodeState] = a.nodes if a else {}
    b_nodes: Mapping[str, NodeState] = b.nodes if b else {}
    ids = list(dict.fromkeys([*order, *a_nodes, *b_nodes]))
    rows = []
    for node_id in ids:
        left, right = a_nodes.get(node_id), b_nodes.get(node_id)
        if left is None and right is None:
            continue
        rows.append(
            NodeDiff(
                node_id=node_id,
                a_status=left.status if left else None,
                b_status=right.status if right else None,
                a_attempts=left.attempts if left else 0,
                b_attempts=right.attempts if right else 0,
                a_duration_ms=left.duration_ms if left else None,
                b_duration_ms=right.duration_ms if right else None,
                a_output=left.output if left else None,
                b_output=right.output if right else None,
            )
        )
    return rows


def first_divergence(a: ExecutionState | None, b: ExecutionState | None, order: Iterable[str] = ()) -> NodeDiff | None:
    """The first node (in ``order``, e.g. graph order) whose status or output differs; None if none does."""
    return next((row for row in compare(a, b, order) if row.differs), None)


class Alignment:
    """One shared scrubber over two executions, by time since each one's start or by event index."""

    def __init__(self, a: ReplayIndex, b: ReplayIndex, by: AlignBy = 'time') -> None:
        if by not in ('time', 'index'):
            raise ValueError(f"align by 'time' or 'index', not {by!r}")
        self.a, self.b, self.by = a, b, by

    @property
    def length(self) -> float:
        """The scrubber's end: the longer duration in seconds, or the larger event count."""
        if self.by == 'time':
            return max(self.a.duration_s, self.b.duration_s)
        return max(self.a.n, self.b.n)

    def positions(self, x: float) -> tuple[int, int]:
        """Each execution's position at scrubber value ``x`` (clamped to its own history)."""
        if self.by == 'time':
            return self.a.position_at(x), self.b.position_at(x)
        k = max(0, int(x))
        return min(k, self.a.n), min(k, self.b.n)

    def value_of(self, side: Literal['a', 'b'], k: int) -> float:
        """The scrubber value at which ``side`` reaches position ``k``."""
        index = self.a if side == 'a' else self.b
        return index.elapsed_at(k) if self.by == 'time' else float(k)

    def states(self, x: float) -> tuple[ExecutionState | None, ExecutionState | None]:
        k_a, k_b = self.positions(x)
        return self.a.state_at(k_a), self.b.state_at(k_b)

    def settled_at(self, node_id: str) -> float:
        """The scrubber value from which ``node_id`` has its final state in both runs (where to jump to
        show a divergence: earlier, one run may simply not have got there yet)."""
        values = [0.0]
        positions_a, positions_b = self.a.node_positions(node_id), self.b.node_positions(node_id)
        if positions_a:
            values.append(self.value_of('a', positions_a[-1]))
        if positions_b:
            values.append(self.value_of('b', positions_b[-1]))
        return max(values)


__all__ = [
    'KEYFRAME_EVERY',
    'Alignment',
    'NodeDiff',
    'ReplayIndex',
    'Span',
    'Tick',
    'compare',
    'first_divergence',
    'graph_order',
]
