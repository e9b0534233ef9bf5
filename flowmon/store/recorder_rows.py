"""The rows the event recorder writes, as tuples in their tables' column order (what a
:class:`~flowmon.store.database.BulkStatement` takes): the ``events`` rows of a batch, an execution's ``executions``
row (to insert, or its changes to update) from its folded state, and its ``execution_search`` row. Pure functions of
events and states: nothing here touches the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.provenance import trigger_type
from flowmon.engine.core.search_text import execution_text, input_text
from flowmon.engine.core.snapshot import HASH_PATTERN
from flowmon.engine.core.state import ExecutionState

from .codec import dumps, dumps_plain
from .database import TimeEncoder

EVENT_COLUMNS = ('execution_id', 'seq', 'ts', 'type', 'node_id', 'data')
EXECUTION_COLUMNS = (
    'id',
    'workflow_id',
    'status',
    'priority',
    'input',
    'output',
    'error',
    'created_at',
    'started_at',
    'finished_at',
    'duration_ms',
    'retry_of',
    'nodes_done',
    'nodes_total',
    'nodes_succeeded',
    'last_seq',
    'imported_from',
    'owner',
    'trigger_type',
    'workflow_hash',
)
EXECUTION_UPDATE_COLUMNS = (  # what an execution's row changes as it runs (the UPDATE's values, then its id)
    'status',
    'output',
    'error',
    'started_at',
    'finished_at',
    'duration_ms',
    'nodes_done',
    'nodes_total',
    'nodes_succeeded',
    'last_seq',
)

# The type's text, a plain str: a row of plain values is a tuple the garbage collector stops tracking (an enum
# member would keep it tracked, and every full collection would walk every pending row).
TYPE_TEXT = {event_type: str(event_type) for event_type in EventType}


def batch_rows(batch: Iterable[Event], encode_time: TimeEncoder) -> list[tuple[Any, ...]]:
    """The ``events`` rows of ``batch``, in :data:`EVENT_COLUMNS` order; data is encoded only if it must be."""
    return [
        (
            event.execution_id,
            event.seq,
            encode_time(event.ts),
            TYPE_TEXT.get(event.type) or str(event.type),
            event.node_id,
            event.data_json if event.data_json is not None else encode_data(event.data),
        )
        for event in batch
    ]


def encode_data(data: Mapping[str, Any]) -> str:
    return dumps_plain(data if isinstance(data, dict) else dict(data))  # the encoders need a dict; copy only others


def execution_insert(
    state: ExecutionState, encode_time: TimeEncoder, extra: Mapping[str, Any] | None, owner: str | None = None
) -> tuple[Any, ...]:
    row = (
        state.id,
        state.workflow_id or '',
        state.status,
        state.priority,
        dumps(state.input),
        None if state.output is None else dumps(state.output),
        state.error,
        encode_time(state.created_at or state.last_ts),
        encode_time(state.started_at),
        encode_time(state.finished_at),
        state.duration_ms,
        state.retry_of,
        state.done,
        state.total,
        state.ended_succeeded,
        state.last_seq,
        None,
        owner,
        trigger_type(state.trigger),
        _hash_or_none(state.workflow_hash),
    )
    if extra:
        values = dict(zip(EXECUTION_COLUMNS, row, strict=True))
        values.update(extra)
        row = tuple(values[column] for column in EXECUTION_COLUMNS)
    return row


def execution_update(state: ExecutionState, encode_time: TimeEncoder) -> tuple[Any, ...]:
    return (
        state.status,
        None if state.output is None else dumps(state.output),
        state.error,
        encode_time(state.started_at),
        encode_time(state.finished_at),
        state.duration_ms,
        state.done,
        state.total,
        state.ended_succeeded,
        state.last_seq,
        state.id,
    )


def search_rows(
    touched: Mapping[str, ExecutionState], inserts: Sequence[tuple[Any, ...]], finished: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The ``execution_search`` rows of a batch: the input of each execution it creates, the whole text of each one
    that ends in it (which replaces the input's row)."""
    rows = {execution_id: execution_text(state) for execution_id, (state, _) in finished.items()}
    for row in inserts:
        execution_id = row[0]
        if execution_id not in rows:
            rows[execution_id] = input_text(touched[execution_id].input)
    return list(rows.items())


def _hash_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and HASH_PATTERN.fullmatch(value) else None
