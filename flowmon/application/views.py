"""The JSON shapes the API (and exports) show of engine state: one place, so every route says it the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowmon.engine.core.state import ExecutionState


def execution_summary(state: ExecutionState) -> dict[str, Any]:
    """The execution summary of ``GET /api/executions/{id}`` (and of ``/state?at=k``): status, times, progress
    and every node."""
    return {
        'id': state.id,
        'workflow_id': state.workflow_id,
        'status': state.status,
        'input': state.input,
        'output': state.output,
        'error': state.error,
        'created_at': _iso(state.created_at),
        'started_at': _iso(state.started_at),
        'finished_at': _iso(state.finished_at),
        'duration_ms': state.duration_ms,
        'retry_of': state.retry_of,
        'progress': {'done': state.done, 'total': state.total},
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
            for node in state.nodes.values()
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
