"""Two executions side by side: their inputs, per-node differences, the first divergence, and one shared scrubber.

Used by the compare page; pure (states and replay indexes in, rows, verdicts and positions out). A node a partial
rerun reused (its output carried over, not run again) is compared by status and output like any other, but never by
duration: it took no time of its own, so a delta would only claim it got faster.

A node's duration here is the time its attempts ran, added up (``NodeState.ran_ms``, what its card shows), so the two
runs compare work with work: a run that waited 10 s to try a node again did not do 10 s more of it. Its span, from
the first start to the end with the waits between tries, is kept beside it (``a_span_ms``/``b_span_ms``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.state import ExecutionState, NodeState

AlignBy = Literal['time', 'index']


@dataclass(frozen=True, slots=True)
class NodeDiff:
    """One row of the compare table. ``a_status``/``b_status`` are None when the node is not in that run;
    ``a_duration_ms``/``b_duration_ms`` are the time its attempts ran, ``a_span_ms``/``b_span_ms`` from its first start
    to its end (the waits between tries included); ``a_reused``/``b_reused`` say the node's output was carried over
    from an earlier execution (not run again)."""

    node_id: str
    a_status: str | None
    b_status: str | None
    a_attempts: int
    b_attempts: int
    a_duration_ms: float | None
    b_duration_ms: float | None
    a_output: Any
    b_output: Any
    a_reused: bool = False
    b_reused: bool = False
    a_span_ms: float | None = None
    b_span_ms: float | None = None

    @property
    def reused(self) -> bool:
        """Whether either run reused this node instead of running it."""
        return self.a_reused or self.b_reused

    @property
    def delta_ms(self) -> float | None:
        """``b`` minus ``a`` (positive: ``b`` was slower), of the time the attempts ran; None unless both ran the node
        and have a duration."""
        if self.reused or self.a_duration_ms is None or self.b_duration_ms is None:
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
                a_duration_ms=left.ran_ms if left else None,
                b_duration_ms=right.ran_ms if right else None,
                a_output=left.output if left else None,
                b_output=right.output if right else None,
                a_reused=left.reused if left else False,
                b_reused=right.reused if right else False,
                a_span_ms=left.duration_ms if left else None,
                b_span_ms=right.duration_ms if right else None,
            )
        )
    return rows


def first_divergence(a: ExecutionState | None, b: ExecutionState | None, order: Iterable[str] = ()) -> NodeDiff | None:
    """The first node (in ``order``, e.g. graph order) whose status or output differs; None if none does."""
    return next((row for row in compare(a, b, order) if row.differs), None)


def row_summary(row: NodeDiff | None) -> str:
    """One node's differences in words, e.g. ``status succeeded in A, failed in B; outputs differ``."""
    if row is None:
        return 'not run in either execution'
    parts = []
    if row.status_differs:
        parts.append(f'status {row.a_status or "not run"} in A, {row.b_status or "not run"} in B')
    if row.output_differs:
        parts.append('outputs differ')
    for side, reused in (('A', row.a_reused), ('B', row.b_reused)):
        if reused:
            parts.append(f'reused in {side} (not run again)')
    return '; '.join(parts) or 'same status and output'


def same_json(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same value: key order aside, and ``1``, ``1.0`` and ``true`` apart (Python's
    ``==`` has ``True == 1``)."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # keys of mixed types, or a value that is not JSON at all
        return repr(value)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the compare page says first: whether the inputs differ, and the first node that diverged."""

    a_input: Any
    b_input: Any
    divergence: NodeDiff | None

    @property
    def inputs_differ(self) -> bool:
        return not same_json(self.a_input, self.b_input)

    @property
    def identical(self) -> bool:
        """The same input, and every node the same status and output."""
        return self.divergence is None and not self.inputs_differ

    @property
    def headline(self) -> str:
        if self.divergence is not None:
            return 'First divergence:'
        if self.inputs_differ:
            return 'Same status and output for every node; the inputs differ.'
        return 'No divergence: every node ended with the same status and output in both runs.'

    @property
    def inputs_line(self) -> str:
        return 'Inputs differ' if self.inputs_differ else 'Same input in both runs'


def verdict(a: ExecutionState | None, b: ExecutionState | None, order: Iterable[str] = ()) -> Verdict:
    """The inputs of ``a`` and ``b`` and their first divergence (in ``order``)."""
    return Verdict(
        a_input=a.input if a else None,
        b_input=b.input if b else None,
        divergence=first_divergence(a, b, order),
    )


TIME_EPSILON_S = 1e-9  # less than any two events' times differ by (microseconds apart at the least)


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

    def realigned(self, by: AlignBy, x: float) -> tuple[Alignment, float]:
        """The alignment by ``by`` and its value for the moment ``x`` shows here: the start and the end stay the start
        and the end (both runs before their first event, or after their last, whichever run is the longer or has the
        more events); in between, the value at which run A is where it is at ``x``."""
        other = Alignment(self.a, self.b, by)
        if x >= self.length:
            return other, other.length
        if x <= 0:
            return other, 0.0
        k_a, _ = self.positions(x)
        return other, other.value_of('a', k_a)

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

    def step(self, x: float, delta: int) -> float:
        """The scrubber value ``delta`` events on from ``x`` (back when negative), clamped to the scrubber: by index,
        that many; by time, to the time of the next (previous) event of either run, once per step."""
        if self.by == 'index':
            return float(max(0, min(int(x) + delta, int(self.length))))
        for _ in range(abs(delta)):
            x = self._next_time(x) if delta > 0 else self._previous_time(x)
        return x

    def _next_time(self, x: float) -> float:
        later = [index.elapsed_at(k + 1) for index in (self.a, self.b) if (k := index.position_at(x)) < index.n]
        return min(later, default=self.length)

    def _previous_time(self, x: float) -> float:
        earlier = [
            index.elapsed_at(k) for index in (self.a, self.b) if (k := index.position_at(x - TIME_EPSILON_S)) > 0
        ]
        return max([value for value in earlier if value < x], default=0.0)

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
    'AlignBy',
    'Alignment',
    'NodeDiff',
    'Verdict',
    'compare',
    'first_divergence',
    'row_summary',
    'same_json',
    'verdict',
]
