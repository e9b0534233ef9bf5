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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from flowmon.engine.core.bulk import collector_paused
from flowmon.engine.core.events import Event
from flowmon.engine.core.graph import definition_order
from flowmon.engine.core.snapshot import workflow_snapshot
from flowmon.engine.core.state import ExecutionState, fold

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
            row = rows.setdefault(node_id, [])
            for attempt in node.attempt_log:
                start, end = self._position_of(attempt.start_seq), self._position_of(attempt.end_seq)
                if start is None:
                    continue
                row.append(
                    Span(
                        node_id=node_id,
                        attempt=attempt.n,
                        outcome=attempt.outcome,
                        start=start,
                        end=end,
                        start_s=self.elapsed_at(start),
                        end_s=None if end is None else self.elapsed_at(end),
                        error=attempt.error if attempt.outcome in ('retried', 'failed') else None,
                    )
                )
            marker = 'reused' if node.reused else 'skipped' if node.status == 'skipped' else None
            at = self._position_of(node.settled_seq)
            if marker is not None and at is not None:
                row.append(
                    Span(
                        node_id=node_id,
                        attempt=0,
                        outcome=marker,
                        start=at,
                        end=at,
                        start_s=self.elapsed_at(at),
                        end_s=self.elapsed_at(at),
                    )
                )
        positions: dict[str, list[int]] = {}
        for k, event in enumerate(self._events, start=1):
            if event.node_id is not None:
                positions.setdefault(event.node_id, []).append(k)
        self._spans = rows
        self._node_positions = positions

    def _position_of(self, seq: int | None) -> int | None:
        """The position just after the event ``seq`` (histories number their events 1..n)."""
        if seq is None or not self._events:
            return None
        k = seq - self._events[0].seq + 1
        return k if 1 <= k <= self.n and self._events[k - 1].seq == seq else None


__all__ = ['KEYFRAME_EVERY', 'ReplayIndex', 'Span']
