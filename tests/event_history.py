"""Builds one execution's events by hand, and its state after each (for tests of what the pages show of a state).

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from flowmon.engine import Event, EventType, fold
from flowmon.engine.core.state import ExecutionState

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class History:
    """Events with consecutive numbers: ``then`` adds one ``step_ms`` after the last unless told (``after_ms``) and
    returns the state after it; ``add`` adds one ``after`` seconds after the last (the first: after ``start``) and
    returns the history, for chains."""

    step_ms: float = 100
    events: list[Event] = field(default_factory=list)
    execution_id: str = 'x'
    start: datetime = T0

    @classmethod
    def started(cls, *nodes: str, step_ms: float = 100) -> History:
        """An execution of ``nodes``, queued and started."""
        history = cls(step_ms=step_ms)
        history.then(EventType.EXECUTION_QUEUED, nodes=list(nodes), workflow_id='wf')
        history.then(EventType.EXECUTION_STARTED)
        return history

    def then(
        self, type_: EventType, node_id: str | None = None, *, after_ms: float | None = None, **data: Any
    ) -> ExecutionState:
        """Add one event; the state after it."""
        ts = self.start
        if self.events:
            ts = self.events[-1].ts + timedelta(milliseconds=self.step_ms if after_ms is None else after_ms)
        self._append(type_, node_id, ts, data)
        return self.state()

    def add(self, type_: EventType, node_id: str | None = None, after: float = 1.0, **data: Any) -> Self:
        """Add one event ``after`` seconds after the last one; the history."""
        self._append(
            type_, node_id, (self.events[-1].ts if self.events else self.start) + timedelta(seconds=after), data
        )
        return self

    def state(self) -> ExecutionState:
        """The state after every event so far."""
        state = fold(self.events)
        assert state is not None
        return state

    def _append(self, type_: EventType, node_id: str | None, ts: datetime, data: dict[str, Any]) -> None:
        seq = len(self.events) + 1
        self.events.append(
            Event(execution_id=self.execution_id, seq=seq, type=type_, ts=ts, node_id=node_id, data=data)
        )
