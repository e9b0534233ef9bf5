"""Workflows and event histories for the store contract tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from flowmon.engine import Event, EventType

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def chain(workflow_id: str = 'chain', *node_ids: str, name: str = 'A chain') -> dict[str, Any]:
    node_ids = node_ids or ('a', 'b')
    return {
        'id': workflow_id,
        'name': name,
        'nodes': [{'id': n, 'type': 'log', 'config': {'message': n}} for n in node_ids],
        'edges': [{'source': s, 'target': t} for s, t in itertools.pairwise(node_ids)],
    }


def run_events(
    execution_id: str, workflow_id: str, created: datetime, status: str, *, node: str = 'a', input: Any = None
) -> list[Event]:
    """The events that leave an execution of a one-node workflow in ``status`` (queued, running or terminal)."""
    kinds: list[tuple[EventType, str | None, dict[str, Any]]] = [
        (
            EventType.EXECUTION_QUEUED,
            None,
            {'workflow_id': workflow_id, 'nodes': [node], 'input': {'n': 1} if input is None else input},
        )
    ]
    if status != 'queued':
        kinds += [(EventType.EXECUTION_STARTED, None, {}), (EventType.NODE_STARTED, node, {'attempt': 1})]
    kinds += {
        'succeeded': [(EventType.NODE_COMPLETED, node, {'output': 1}), (EventType.EXECUTION_COMPLETED, None, {})],
        'failed': [(EventType.NODE_FAILED, node, {'error': 'no'}), (EventType.EXECUTION_FAILED, None, {'error': 'no'})],
        'cancelled': [(EventType.NODE_CANCELLED, node, {}), (EventType.EXECUTION_CANCELLED, None, {})],
    }.get(status, [])
    return [
        Event(
            execution_id=execution_id,
            seq=seq,
            type=type_,
            ts=created + timedelta(milliseconds=seq - 1),
            node_id=node_id,
            data=data,
        )
        for seq, (type_, node_id, data) in enumerate(kinds, start=1)
    ]
