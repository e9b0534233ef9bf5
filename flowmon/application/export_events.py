"""The checks of an export's events (:mod:`.export_format`): each event field by field, their sequence, and the
events against the exported workflow.

Every check raises :class:`~flowmon.application.errors.ImportRejected` naming the problem and its place in the
document (``events[<index>]`` and the field).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC
from typing import Any

from flowmon.engine.core.events import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    TERMINAL_EXECUTION_EVENTS,
    Event,
    EventFormatError,
    EventType,
)
from flowmon.engine.core.inputs import Loc, in_body, location
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.payload_values import (
    MAX_ERROR_CHARS,
    MAX_INT,
    MAX_INT32,
    MAX_TRACEBACK_CHARS,
    PayloadError,
    PayloadTooDeep,
    unstorable,
)
from flowmon.engine.core.provenance import trigger_problem
from flowmon.engine.core.snapshot import HASH_PATTERN, definition_hash
from flowmon.engine.model import ID_PATTERN, Workflow, WorkflowError, parse_workflow
from flowmon.engine.nodes.base import NodeRegistry

from .errors import ImportRejected
from .ids import EXECUTION_ID_PATTERN

NODE_ID_PATTERN = re.compile(ID_PATTERN)
MAX_TIMESTAMP_CHARS = 64
# Event data holds payloads one or two levels down (node.completed {"output": ...}, execution.completed
# {"output": {"<sink>": ...}}), so it may nest that much deeper than a payload.
EVENT_DATA_EXTRA_DEPTH = 2
# What the reducer and the pages read from event data, by kind; anything else must still fit the budget.
# The whole numbers in event data, each in the range flowmon gives it (the counts go into 32-bit columns)
_INT_FIELDS = {
    'attempt': (0, MAX_INT32),  # 0: a node a rerun reused
    'priority': (MIN_PRIORITY, MAX_PRIORITY),
    'bytes': (0, MAX_INT),
    'done': (0, MAX_INT32),
    'total': (0, MAX_INT32),
}
_TEXT_FIELDS = {'error': MAX_ERROR_CHARS, 'reason': MAX_ERROR_CHARS, 'traceback': MAX_TRACEBACK_CHARS}
_ID_FIELDS = frozenset({'workflow_id', 'from_node', 'target'})
_ID_LIST_FIELDS = frozenset({'nodes', 'failed_nodes'})
NODE_EVENTS = frozenset(
    {
        EventType.NODE_STARTED,
        EventType.NODE_RETRYING,
        EventType.NODE_COMPLETED,
        EventType.NODE_FAILED,
        EventType.NODE_SKIPPED,
        EventType.NODE_CANCELLED,
        EventType.DATA_FLOW,
    }
)


def checked_event(index: int, raw: Any, budget: PayloadBudget) -> Event:
    """One event, checked field by field (types, lengths, depth, payload sizes) before it is used."""
    if not isinstance(raw, Mapping):
        raise _in_event(ImportRejected(f'events[{index}] must be an object, got {kind_of(raw)}'), index)
    for name in ('execution_id', 'type', 'ts'):
        if name in raw and not isinstance(raw[name], str):
            raise _in_event(
                ImportRejected(f'events[{index}].{name} must be a string, got {kind_of(raw[name])}'), index, name
            )
    if len(raw.get('ts') or '') > MAX_TIMESTAMP_CHARS:
        raise _in_event(
            ImportRejected(f'events[{index}].ts is not a timestamp (longer than {MAX_TIMESTAMP_CHARS} characters)'),
            index,
            'ts',
        )
    node_id = raw.get('node_id')
    if node_id is not None and not (isinstance(node_id, str) and NODE_ID_PATTERN.fullmatch(node_id)):
        raise _in_event(
            ImportRejected(
                f'events[{index}].node_id must be null or a node id (letters, digits, "_.-", at most 64), '
                f'got {_preview(node_id)}'
            ),
            index,
            'node_id',
        )
    data = raw.get('data')
    if data is not None and not isinstance(data, Mapping):
        raise _in_event(ImportRejected(f'events[{index}].data must be an object, got {kind_of(data)}'), index, 'data')
    try:
        event = Event.unmarshal(raw)
    except EventFormatError as exc:
        raise _in_event(ImportRejected(f'events[{index}]: {exc}'), index, *location(exc)) from None
    where = f'events[{index}] ({event.type})'
    limit = budget.max_depth + EVENT_DATA_EXTRA_DEPTH
    try:
        budget.check_shape(event.data, f'{where} data', extra=EVENT_DATA_EXTRA_DEPTH)
    except PayloadTooDeep:
        raise _in_event(
            ImportRejected(
                f'{where}: data is nested more than {limit} levels deep (payloads may nest {budget.max_depth} levels)'
            ),
            index,
            'data',
        ) from None
    except PayloadError as exc:
        raise _in_data(ImportRejected(str(exc)), index, exc.path) from None
    _check_fields(index, event, budget)
    try:
        return replace(event, ts=event.ts.astimezone(UTC))
    except (OverflowError, ValueError):
        raise _in_event(
            ImportRejected(f'events[{index}].ts {event.ts.isoformat()!r} is out of range'), index, 'ts'
        ) from None


def _check_fields(index: int, event: Event, budget: PayloadBudget) -> None:
    """Every payload within the budget, and every field the reducer or a page reads of the kind it expects."""
    where = f'events[{index}] ({event.type})'
    data = event.data
    payload_keys = set()
    for place, label, value in _payloads(event.type, data):
        payload_keys.add(place[0])
        try:
            budget.check(value, f'{where} {label}')
        except PayloadError as exc:
            raise _in_data(ImportRejected(str(exc)), index, exc.path, *place) from None
    for key, value in data.items():
        if key in payload_keys or key == 'workflow':  # the snapshot is checked against the workflow definition
            continue
        problem = _field_problem(key, value)
        if problem is not None:
            raise _in_event(ImportRejected(f'{where}: {key} {problem}'), index, 'data', key)
        held = unstorable(value) if isinstance(value, str) else None  # (a payload says so as it is checked)
        if held is not None:
            raise _in_event(ImportRejected(f'{where}: {key} holds {held}, which cannot be stored'), index, 'data', key)
        if not isinstance(value, str):
            try:
                budget.check(value, f'{where} {key}')
            except PayloadError as exc:
                raise _in_data(ImportRejected(str(exc)), index, exc.path, key) from None


def _in_data(error: ImportRejected, index: int, path: Loc | None, *place: str) -> ImportRejected:
    """``error``, a payload's refusal, about the place ``path`` names in the payload at ``place`` in the data of
    ``events[index]`` (the payload itself when it names none), so ``errors[].loc`` says where it is."""
    return _in_event(error, index, 'data', *place, *(path or ()))


def _in_event(error: ImportRejected, index: int, *place: str | int) -> ImportRejected:
    """``error``, about ``events[index]`` (``place``: the field of it, ``('seq',)``, ``('data', 'target')``), so
    ``errors[].loc`` says where it is: ``["body", "events", 3, "seq"]``."""
    return in_body(error, 'events', index, *place)


def _payloads(event_type: EventType, data: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    """``(place, label, value)`` of the payloads in event data (``place``: the keys that lead to it, ``('output',
    'shape')``), as the engine checked each of them on its own."""
    for key in ('input', 'output'):
        if key not in data:
            continue
        value = data[key]
        gathered = (key, event_type) in (('input', EventType.NODE_STARTED), ('output', EventType.EXECUTION_COMPLETED))
        if gathered and isinstance(value, Mapping):  # one payload per node id (and the execution input)
            yield from (((key, name), f'{key}.{name}', part) for name, part in value.items())
        else:
            yield (key,), key, value


def _field_problem(key: str, value: Any) -> str | None:
    if key in _INT_FIELDS:
        low, high = _INT_FIELDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f'must be an integer from {low:,} to {high:,}, got {_preview(value)}'
    elif key == 'delay_seconds':
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f'must be a number of seconds, got {_preview(value)}'
    elif key in _TEXT_FIELDS:
        if value is not None and not isinstance(value, str):
            return f'must be text, got {kind_of(value)}'
        if value is not None and len(value) > _TEXT_FIELDS[key]:
            return f'is {len(value):,} characters long; at most {_TEXT_FIELDS[key]:,} are accepted'
    elif key in _ID_FIELDS:
        if value is not None and not (isinstance(value, str) and NODE_ID_PATTERN.fullmatch(value)):
            return f'must be null or an id (letters, digits, "_.-", at most 64), got {_preview(value)}'
    elif key == 'retry_of':  # an execution's id
        if value is not None and not (isinstance(value, str) and EXECUTION_ID_PATTERN.fullmatch(value)):
            return f'must be null or an execution id (letters, digits, "_.-", at most 40), got {_preview(value)}'
    elif key in _ID_LIST_FIELDS:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return 'must be a list of node ids'
    elif key == 'reused':
        if not isinstance(value, bool):
            return f'must be true or false, got {_preview(value)}'
    elif key == 'trigger':
        if value is not None:
            return trigger_problem(value)
    elif key == 'workflow_hash':
        if not (isinstance(value, str) and HASH_PATTERN.fullmatch(value)):
            return f'must be a SHA-256 content hash (64 lowercase hex digits), got {_preview(value)}'
    elif isinstance(value, str) and len(value) > MAX_ERROR_CHARS:
        return f'is {len(value):,} characters long; at most {MAX_ERROR_CHARS:,} are accepted'
    return None


def _preview(value: Any, limit: int = 40) -> str:
    """A short, quoted rendering of an untrusted value for a message."""
    text = repr(value) if not isinstance(value, dict | list) else kind_of(value)
    return text if len(text) <= limit else text[: limit - 1] + '…'


def check_sequence(events: list[Event]) -> str:
    original_id = events[0].execution_id
    if not EXECUTION_ID_PATTERN.fullmatch(original_id):
        raise _in_event(
            ImportRejected(f'execution id {original_id!r} is not valid (letters, digits, "_.-", at most 40)'),
            0,
            'execution_id',
        )
    for index, event in enumerate(events):
        if event.execution_id != original_id:
            raise _in_event(
                ImportRejected(
                    f'events[{index}] belongs to execution {event.execution_id!r}, not {original_id!r}: '
                    'an export holds the events of one execution'
                ),
                index,
                'execution_id',
            )
        if event.seq != index + 1:
            raise _in_event(
                ImportRejected(
                    f'events[{index}] has seq {event.seq}, expected {index + 1}: seq must run 1..n without gaps'
                ),
                index,
                'seq',
            )
    if events[0].type != EventType.EXECUTION_QUEUED:
        raise _in_event(
            ImportRejected(f'the first event must be {EventType.EXECUTION_QUEUED}, got {events[0].type}'), 0, 'type'
        )
    for index, event in enumerate(events[:-1]):
        if event.type in TERMINAL_EXECUTION_EVENTS:
            raise _in_event(
                ImportRejected(
                    f'events[{index}] ({event.type}) ends the execution but {len(events) - index - 1} event(s) '
                    'follow it'
                ),
                index,
                'type',
            )
    if events[-1].type not in TERMINAL_EXECUTION_EVENTS:
        raise _in_event(
            ImportRejected(
                f'the execution never finished (the last event is {events[-1].type}); only finished executions can '
                'be imported'
            ),
            len(events) - 1,
            'type',
        )
    return original_id


def check_against_workflow(events: list[Event], workflow: Workflow, registry: NodeRegistry) -> list[Event]:
    """Node ids and the ``execution.queued`` event must match the workflow; returns the events to store."""
    queued = events[0]
    data = queued.data
    if data.get('workflow_id') != workflow.id:
        raise _in_event(
            ImportRejected(
                f'{EventType.EXECUTION_QUEUED} names workflow {data.get("workflow_id")!r} but the export holds the '
                f'definition of {workflow.id!r}'
            ),
            0,
            'data',
            'workflow_id',
        )
    node_ids = [node.id for node in workflow.spec.nodes]
    listed = data.get('nodes')
    if listed is not None and listed != node_ids:
        raise _in_event(
            ImportRejected(f'{EventType.EXECUTION_QUEUED} lists nodes {listed!r}, but the workflow has {node_ids!r}'),
            0,
            'data',
            'nodes',
        )
    known = set(node_ids)
    for index, event in enumerate(events):
        if event.type not in NODE_EVENTS:
            if event.node_id is not None:
                raise _in_event(
                    ImportRejected(
                        f'events[{index}] ({event.type}) names node {event.node_id!r}, but {event.type} has no node'
                    ),
                    index,
                    'node_id',
                )
            unknown = [(at, node) for at, node in enumerate(event.data.get('failed_nodes') or []) if node not in known]
            if unknown:
                at, node = unknown[0]
                raise _in_event(
                    ImportRejected(f'events[{index}] ({event.type}) lists node {node!r}, not in the workflow'),
                    index,
                    'data',
                    'failed_nodes',
                    at,
                )
            continue
        if event.node_id not in known:
            raise _in_event(
                ImportRejected(f'events[{index}] ({event.type}) names node {event.node_id!r}, not in the workflow'),
                index,
                'node_id',
            )
        target = event.data.get('target') if event.type == EventType.DATA_FLOW else None
        if event.type == EventType.DATA_FLOW and target not in known:
            raise _in_event(
                ImportRejected(f'events[{index}] ({event.type}) sends data to {target!r}, not in the workflow'),
                index,
                'data',
                'target',
            )
    from_node = data.get('from_node')
    if from_node is not None and from_node not in known:
        raise _in_event(
            ImportRejected(f'{EventType.EXECUTION_QUEUED} reruns from node {from_node!r}, not in the workflow'),
            0,
            'data',
            'from_node',
        )
    digest = definition_hash(workflow.definition())
    snapshot = data.get('workflow')
    if snapshot is not None:  # exported by a flowmon that recorded definitions inline
        try:
            recorded = parse_workflow(snapshot, registry)
        except WorkflowError as exc:
            raise _in_event(
                ImportRejected(f'the workflow snapshot in {EventType.EXECUTION_QUEUED} is not valid: {exc}'),
                0,
                'data',
                'workflow',
                *exc.where,
            ) from None
        if recorded.definition() != workflow.definition():
            raise _in_event(
                ImportRejected(
                    f'the workflow snapshot in {EventType.EXECUTION_QUEUED} differs from the exported workflow '
                    'definition'
                ),
                0,
                'data',
                'workflow',
            )
    elif data.get('workflow_hash') not in (None, digest):
        raise _in_event(
            ImportRejected(
                f'{EventType.EXECUTION_QUEUED} names workflow snapshot {data["workflow_hash"]!r}, which is not the '
                'hash of the exported workflow definition'
            ),
            0,
            'data',
            'workflow_hash',
        )
    # Stored as this flowmon records it: the definition once per content hash, named by the event.
    named = {key: value for key, value in data.items() if key != 'workflow'}
    first = replace(queued, data={**named, 'workflow_hash': digest})
    return [first, *events[1:]]


def kind_of(value: Any) -> str:
    if value is None:
        return 'nothing'
    return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean'}.get(
        type(value), type(value).__name__
    )
