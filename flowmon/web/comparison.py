"""Two executions side by side: per-node differences, the first divergence, and one shared scrubber.

Used by the compare page; pure (states and replay indexes in, rows and positions out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.state import ExecutionState, NodeState

AlignBy = Literal['time', 'index']


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


__all__ = ['AlignBy', 'Alignment', 'NodeDiff', 'compare', 'first_divergence']
