"""Replay: an execution's state at any position of its event history.

Position ``k`` means "after the first ``k`` events" (``0 .. n``). :class:`ReplayIndex` folds the whole
history once when it is created and keeps the state every ``keyframe_every`` events, so the state at any
position is the nearest keyframe plus at most ``keyframe_every - 1`` events folded with the same reducer the
live view uses (replay cannot disagree with what was seen live). It also answers the position questions
a timeline needs: elapsed time at a position, the position at an elapsed time, and the Gantt spans, which are
the reducer's own attempt log placed on the positions of the events that began and ended each attempt.

Pure: no I/O, no clock; callers load the events.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

from flowmon.engine.core.bulk import collector_paused
from flowmon.engine.core.events import Event
from flowmon.engine.core.graph import definition_order
from flowmon.engine.core.reducer import fold
from flowmon.engine.core.snapshot import workflow_snapshot
from flowmon.engine.core.state import ExecutionState, NodeState

KEYFRAME_EVERY = 500


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

    def __init__(
        self,
        events: Sequence[Event],
        *,
        keyframe_every: int = KEYFRAME_EVERY,
        workflow: Mapping[str, Any] | None = None,
    ) -> None:
        """``workflow``: the definition the execution ran, when its ``execution.queued`` event names it by hash
        (the caller resolved it); by default the definition that event carries inline, if any."""
        if keyframe_every < 1:
            raise ValueError('keyframe_every must be at least 1')
        self._events = list(events)
        self._workflow = workflow
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
        """The workflow definition the execution ran (None when it is not known)."""
        if self._workflow is not None:
            return self._workflow
        return workflow_snapshot(self._events)

    @property
    def node_order(self) -> tuple[str, ...]:
        """Node ids in topological order (stable in definition order), then any other node seen."""
        if self._node_order is None:
            order = dict.fromkeys(definition_order(self.workflow) if self.workflow else ())
            order.update(dict.fromkeys(self._final.nodes if self._final else ()))
            order.update(dict.fromkeys(e.node_id for e in self._events if e.node_id is not None))
            self._node_order = tuple(order)
        return self._node_order

    # --- internals ----------------------------------------------------------------------------------

    def _check(self, k: int) -> None:
        if not 0 <= k <= self.n:
            raise IndexError(f'position {k} is outside 0..{self.n}')

    def _build_spans(self) -> None:
        final = self._final
        rows: dict[str, list[Span]] = {node_id: [] for node_id in self.node_order}
        for node_id, node in (final.nodes if final else {}).items():
            rows.setdefault(node_id, []).extend(node_spans(node, self._place))
        positions: dict[str, list[int]] = {}
        for k, event in enumerate(self._events, start=1):
            if event.node_id is not None:
                positions.setdefault(event.node_id, []).append(k)
        self._spans = rows
        self._node_positions = positions

    def _place(self, seq: int | None, _: datetime | None) -> tuple[int, float] | None:
        """Where the event ``seq`` is on the timeline: its position and the elapsed seconds there."""
        k = self._position_of(seq)
        return None if k is None else (k, self.elapsed_at(k))

    def _position_of(self, seq: int | None) -> int | None:
        """The position just after the event ``seq`` (histories number their events 1..n)."""
        if seq is None or not self._events:
            return None
        k = seq - self._events[0].seq + 1
        return k if 1 <= k <= self.n and self._events[k - 1].seq == seq else None


def live_spans(state: ExecutionState, order: Sequence[str] = ()) -> dict[str, list[Span]]:
    """The Gantt rows of a state that is still growing (the live page), from the state alone: an attempt's times are
    its own timestamps, seconds since the execution was queued (its first event), and its positions are its events'
    ``seq`` (a history numbers its events from 1, so position and ``seq`` agree). A skip keeps no time in the state:
    its marker is put at the state's last event. ``order``: these rows first, in this order."""
    origin = state.created_at

    def place(seq: int | None, ts: datetime | None) -> tuple[int, float] | None:
        at = ts or state.last_ts
        if seq is None or at is None or origin is None:
            return None
        return seq, max(0.0, (at - origin).total_seconds())

    rows: dict[str, list[Span]] = {node_id: [] for node_id in order}
    for node_id, node in state.nodes.items():
        rows.setdefault(node_id, []).extend(node_spans(node, place))
    return rows


def node_spans(node: NodeState, place: Callable[[int | None, datetime | None], tuple[int, float] | None]) -> list[Span]:
    """One node's Gantt row: its attempts as segments, then a reuse or skip marker. ``place(seq, ts)`` puts an event
    on the timeline (its position and elapsed seconds; None when it is not on it)."""
    row: list[Span] = []
    for attempt in node.attempt_log:
        start = place(attempt.start_seq, attempt.started_at)
        if start is None:
            continue
        end = place(attempt.end_seq, attempt.finished_at)
        row.append(
            Span(
                node_id=node.id,
                attempt=attempt.n,
                outcome=attempt.outcome,
                start=start[0],
                end=None if end is None else end[0],
                start_s=start[1],
                end_s=None if end is None else end[1],
                error=attempt.error if attempt.outcome in ('retried', 'failed') else None,
            )
        )
    marker = 'reused' if node.reused else 'skipped' if node.status == 'skipped' else None
    at = place(node.settled_seq, node.finished_at or node.started_at)
    if marker is not None and at is not None:
        row.append(Span(node_id=node.id, attempt=0, outcome=marker, start=at[0], end=at[0], start_s=at[1], end_s=at[1]))
    return row


__all__ = ['KEYFRAME_EVERY', 'ReplayIndex', 'Span', 'live_spans', 'node_spans']
