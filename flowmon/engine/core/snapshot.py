"""The workflow an execution ran with: the definition its ``execution.queued`` event recorded.

Every reader of that snapshot (replay, the execution page, export, rerun of a deleted workflow) asks here, so
the rule for finding it lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowmon.engine.core.events import Event, EventType


def workflow_snapshot(events: Sequence[Event] | None) -> dict[str, Any] | None:
    """The definition recorded in the first of ``events`` (an execution's history from its start), or None when
    that event is not ``execution.queued`` or holds no definition."""
    if not events or events[0].type != EventType.EXECUTION_QUEUED:
        return None
    definition = events[0].data.get('workflow')
    return dict(definition) if isinstance(definition, Mapping) else None
