"""The JSON shapes the API shows: one place, so every route says it the same way."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowmon.engine.core.events import Event
from flowmon.engine.core.state import ExecutionState
from flowmon.store.history import StoredWorkflow

from .history import Position

if TYPE_CHECKING:  # annotations only: exchange imports these views (through its export format)
    from .deliveries import Queued
    from .exchange import ImportedExecution


def execution_summary(state: ExecutionState, slow: Collection[str] = ()) -> dict[str, Any]:
    """The execution summary of ``GET /api/executions/{id}`` (and of ``/state?at=k``): status, times, how it was
    started (``trigger``), progress and every node; ``slow`` names the nodes slower than usual
    (:meth:`~flowmon.application.stats.NodeStatistics.slow_nodes`)."""
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
        'trigger': dict(state.trigger) if state.trigger is not None else None,
        'progress': {'done': state.done, 'total': state.total, 'succeeded': state.ended_succeeded},
        'nodes': {
            node.id: {
                'status': node.status,
                'attempts': node.attempts,
                'started_at': _iso(node.started_at),
                'finished_at': _iso(node.finished_at),
                'duration_ms': node.duration_ms,
                'ran_ms': node.ran_ms,  # its attempts added up: duration_ms less the waits between tries
                'output': node.output,
                'error': node.error,
                'reused': node.reused,
                'worker': node.worker,  # where a worker node's latest attempt ran (null for nodes on the loop)
                'slow': node.id in slow,
            }
            for node in state.nodes.values()
        },
    }


def position_summary(position: Position, slow: Collection[str] = ()) -> dict[str, Any]:
    """``GET /api/executions/{id}/state?at=k``: the execution summary as of position k, and where k is."""
    return {
        **execution_summary(position.state, slow),
        'position': {'at': position.at, 'events': position.events, 'elapsed_s': position.elapsed_s},
    }


def stream_event_json(event: Event) -> str:
    """An event of the event streams as one line of compact JSON: :meth:`Event.marshal`, built around the event's
    pre-encoded data where it has it (a node's output is not encoded twice)."""
    data = event.data_json if event.data_json is not None else json.dumps(dict(event.data), separators=(',', ':'))
    head = json.dumps(
        {
            'execution_id': event.execution_id,
            'seq': event.seq,
            'ts': event.ts.isoformat(),
            'type': str(event.type),
            'node_id': event.node_id,
        },
        separators=(',', ':'),
    )
    return f'{head[:-1]},"data":{data}}}'


def event_view(event: Event) -> dict[str, Any]:
    """An event of ``GET /api/executions/{id}/events``: :meth:`Event.marshal` without the execution id the path
    already names."""
    marshalled = event.marshal()
    del marshalled['execution_id']
    return marshalled


def workflow_listing(stored: StoredWorkflow) -> dict[str, Any]:
    """A workflow in ``GET /api/workflows``."""
    return {
        'id': stored.id,
        'name': stored.name,
        'description': stored.definition.get('description'),
        'nodes': len(stored.definition.get('nodes', [])),
        'updated_at': stored.updated_at.isoformat(),
    }


def page_view(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    """One page of a list: ``{"items", "total", "limit", "offset"}``."""
    return {'items': items, 'total': total, 'limit': limit, 'offset': offset}


def imported_view(imported: ImportedExecution) -> dict[str, Any]:
    """``POST /api/executions/import``: the new id, the original one, its final status and how many events."""
    return asdict(imported)


def queued_view(queued: Queued) -> dict[str, Any]:
    """``POST /api/webhooks/deliveries``: the delivery's ids and status, and its secret when flowmon generated it
    (the receiver needs it to verify)."""
    answer = {'id': queued.id, 'webhook_id': queued.webhook_id, 'status': queued.status}
    return answer if queued.secret is None else {**answer, 'secret': queued.secret}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
