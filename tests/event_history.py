"""Builds one execution's events by hand, and its state after each (for tests of what the pages show of a state).

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flowmon.engine import Event, EventType, fold
from flowmon.engine.core.state import ExecutionState

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class History:
    """Events with consecutive numbers, ``step_ms`` apart unless told (``after_ms``)."""

    step_ms: float = 100
    events: list[Event] = field(default_factory=list)

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
        ts = T0
        if self.events:
            ts = self.events[-1].ts + timedelta(milliseconds=self.step_ms if after_ms is None else after_ms)
        self.events.append(
            Event(execution_id='x', seq=len(self.events) + 1, type=type_, ts=ts, node_id=node_id, data=data)
        )
        state = fold(self.events)
        assert state is not None
        return state
