"""The Gantt chart of a running execution (the execution page): the replay page's Timeline card, under the canvas,
grown from the state the page pulls rather than drawn from a whole history.

While the run goes it is redrawn every ``GANTT_SECONDS`` (every segment, one patch; the open attempts reach to now),
not on every pull, and once more for the final state; the execution's wait in the queue is drawn above the node rows
(growing while it waits). A click on a segment picks its node on the page.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.graph import definition_order
from flowmon.engine.core.replay_index import live_spans
from flowmon.engine.core.state import ExecutionState
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.execution_view import ExecutionView
from flowmon.web.widgets.timeline_chart import queue_wait

GANTT_SECONDS = 0.5  # how often the Gantt chart of a running execution is redrawn (every segment, one patch)


class LiveGantt:
    """The Timeline card of ``view``, its rows in the definition's order; :meth:`grow` draws it from a state."""

    def __init__(self, view: ExecutionView, definition: dict[str, Any]) -> None:
        self._view = view
        self._order = definition_order(definition)
        self._drawn: tuple[float, int] | None = None  # when the chart was last grown, and to which event
        self.chart = view.add_timeline(
            'one row per node, one segment per attempt, growing while it runs; click a segment to inspect it',
            None,
            weak_callback(self._span_clicked),
        )

    def grow(self, state: ExecutionState) -> None:
        """The chart from ``state``, the latest the page pulled: every GANTT_SECONDS while the run goes (its open
        attempts reach to now), and once more for the final state."""
        clock = asyncio.get_running_loop().time()
        drawn = self._drawn
        if drawn is not None:
            if state.is_terminal and drawn[1] == state.last_seq:
                return
            if not state.is_terminal and clock - drawn[0] < GANTT_SECONDS:
                return
        self._drawn = (clock, state.last_seq)
        end = (state.finished_at or state.last_ts) if state.is_terminal else utcnow()
        origin = state.created_at
        self.chart.grow(
            live_spans(state, self._order),
            (end - origin).total_seconds() if end and origin else 0,
            queue_wait(state, end),
        )

    def _span_clicked(self, node_id: str, _: int) -> None:
        self._view.select(node_id)
