"""Export and import of executions: the workflow definition and every event, as one JSON document.

An export is ``{"format": "flowmon.execution", "version": 1, "exported_at", "execution": {...},
"workflow": {...}, "events": [...]}`` with the events as :meth:`Event.marshal` writes them. Importing
checks the whole document before anything is written (format and version, every event, seq 1..n without
gaps, one execution, ``execution.queued`` first and a terminal execution event last, the workflow
definition against the node registry, node ids against the workflow), gives the execution a new id, and
writes it in one transaction through the recorder's Core path, marked ``imported_from`` its original id.
A document that fails any check raises :class:`ImportRejected` naming the problem, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flowmon.engine.events import TERMINAL_EXECUTION_EVENTS, Event, EventFormatError, EventType
from flowmon.engine.model import Workflow, WorkflowError, parse_workflow
from flowmon.engine.nodes.base import NodeRegistry
from flowmon.engine.runner import new_execution_id
from flowmon.engine.state import ExecutionState, fold

from .history import History
from .recorder import EventRecorder

EXPORT_FORMAT = 'flowmon.execution'
EXPORT_VERSION = 1
MAX_IMPORT_EVENTS = 500_000
EXECUTION_ID_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$')
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


class ExportUnavailable(RuntimeError):
    """The execution exists but cannot be exported (yet): the message says why."""


class ImportRejected(ValueError):
    """A document that is not a valid flowmon execution export; the message names the problem."""


@dataclass(frozen=True, kw_only=True)
class ValidExport:
    """A checked export: its workflow, its events (still under their original id) and their final state."""

    original_id: str
    workflow: Workflow
    events: list[Event]
    state: ExecutionState


@dataclass(frozen=True, kw_only=True)
class ImportedExecution:
    id: str
    imported_from: str
    status: str
    events: int


async def export_execution(history: History, execution_id: str, now: datetime) -> dict[str, Any] | None:
    """The export document of a finished execution (None when there is no such execution)."""
    events = await history.events(execution_id)
    state = fold(events)
    if state is None:
        return None
    if not state.is_terminal:
        raise ExportUnavailable(f'execution {execution_id!r} is still {state.status}; export it when it has finished')
    definition = events[0].data.get('workflow') if events[0].type == EventType.EXECUTION_QUEUED else None
    if not isinstance(definition, Mapping):
        stored = await history.get_workflow(state.workflow_id or '')
        if stored is None:
            raise ExportUnavailable(
                f'the workflow definition of execution {execution_id!r} was not recorded and '
                f'workflow {state.workflow_id!r} no longer exists'
            )
        definition = stored.definition
    record = await history.get_execution(execution_id)
    return {
        'format': EXPORT_FORMAT,
        'version': EXPORT_VERSION,
        'exported_at': now.isoformat(),
        'execution': {
            'id': execution_id,
            'workflow_id': state.workflow_id,
            'status': state.status,
            'created_at': state.created_at.isoformat() if state.created_at else None,
            'finished_at': state.finished_at.isoformat() if state.finished_at else None,
            'events': len(events),
            'imported_from': record.imported_from if record else None,
        },
        'workflow': dict(definition),
        'events': [event.marshal() for event in events],
    }


def validate_export(document: Any, registry: NodeRegistry) -> ValidExport:
    """Check every part of an export document; raises :class:`ImportRejected` naming the first problem."""
    if not isinstance(document, Mapping):
        raise ImportRejected(f'an export must be a JSON object, got {_kind(document)}')
    marker = document.get('format')
    if marker != EXPORT_FORMAT:
        found = 'has no "format" field' if marker is None else f'has format {marker!r}'
        raise ImportRejected(f'not a flowmon execution export: the document {found}, expected {EXPORT_FORMAT!r}')
    version = document.get('version')
    if isinstance(version, bool) or not isinstance(version, int):
        raise ImportRejected(f'export "version" must be an integer, got {version!r}')
    if version != EXPORT_VERSION:
        raise ImportRejected(f'unsupported export version {version} (this flowmon reads version {EXPORT_VERSION})')

    raw_workflow = document.get('workflow')
    if not isinstance(raw_workflow, Mapping):
        raise ImportRejected(
            f'export "workflow" must be the workflow definition (an object), got {_kind(raw_workflow)}'
        )
    try:
        workflow = parse_workflow(raw_workflow, registry)
    except WorkflowError as exc:
        raise ImportRejected(f'the workflow definition is not valid: {exc}') from None

    raw_events = document.get('events')
    if not isinstance(raw_events, list) or not raw_events:
        raise ImportRejected(f'export "events" must be a non-empty list, got {_kind(raw_events)}')
    if len(raw_events) > MAX_IMPORT_EVENTS:
        raise ImportRejected(f'export has {len(raw_events):,} events; at most {MAX_IMPORT_EVENTS:,} can be imported')
    events = [_event(index, raw) for index, raw in enumerate(raw_events)]
    original_id = _check_sequence(events)
    events = _check_against_workflow(events, workflow, registry)
    try:
        state = fold(events)
    except Exception as exc:  # the reducer trusts its input; an odd value in a hand-made file must not be a 500
        raise ImportRejected(f'the events cannot be replayed: {type(exc).__name__}: {exc}') from None
    assert state is not None
    return ValidExport(original_id=original_id, workflow=workflow, events=events, state=state)


async def import_execution(
    recorder: EventRecorder, registry: NodeRegistry, document: Any, *, new_id: str | None = None
) -> ImportedExecution:
    """Validate ``document`` and store it as a new, read-only execution in one transaction."""
    valid = validate_export(document, registry)
    execution_id = new_id or new_execution_id()
    events = [replace(event, execution_id=execution_id) for event in valid.events]
    await recorder.write(events, new_execution_columns={execution_id: {'imported_from': valid.original_id}})
    return ImportedExecution(
        id=execution_id, imported_from=valid.original_id, status=valid.state.status, events=len(events)
    )


# --- checks -----------------------------------------------------------------------------------------


def _event(index: int, raw: Any) -> Event:
    if not isinstance(raw, Mapping):
        raise ImportRejected(f'events[{index}] must be an object, got {_kind(raw)}')
    try:
        return Event.unmarshal(raw)
    except EventFormatError as exc:
        raise ImportRejected(f'events[{index}]: {exc}') from None


def _check_sequence(events: list[Event]) -> str:
    original_id = events[0].execution_id
    if not EXECUTION_ID_PATTERN.match(original_id):
        raise ImportRejected(f'execution id {original_id!r} is not valid (letters, digits, "_.-", at most 40)')
    for index, event in enumerate(events):
        if event.execution_id != original_id:
            raise ImportRejected(
                f'events[{index}] belongs to execution {event.execution_id!r}, not {original_id!r}: '
                'an export holds the events of one execution'
            )
        if event.seq != index + 1:
            raise ImportRejected(
                f'events[{index}] has seq {event.seq}, expected {index + 1}: seq must run 1..n without gaps'
            )
    if events[0].type != EventType.EXECUTION_QUEUED:
        raise ImportRejected(f'the first event must be {EventType.EXECUTION_QUEUED}, got {events[0].type}')
    for index, event in enumerate(events[:-1]):
        if event.type in TERMINAL_EXECUTION_EVENTS:
            raise ImportRejected(
                f'events[{index}] ({event.type}) ends the execution but {len(events) - index - 1} event(s) follow it'
            )
    if events[-1].type not in TERMINAL_EXECUTION_EVENTS:
        raise ImportRejected(
            f'the execution never finished (the last event is {events[-1].type}); only finished executions can be '
            'imported'
        )
    return original_id


def _check_against_workflow(events: list[Event], workflow: Workflow, registry: NodeRegistry) -> list[Event]:
    """Node ids and the ``execution.queued`` event must match the workflow; returns the events to store."""
    queued = events[0]
    data = queued.data
    if data.get('workflow_id') != workflow.id:
        raise ImportRejected(
            f'{EventType.EXECUTION_QUEUED} names workflow {data.get("workflow_id")!r} but the export holds the '
            f'definition of {workflow.id!r}'
        )
    node_ids = [node.id for node in workflow.spec.nodes]
    listed = data.get('nodes')
    if listed is not None and listed != node_ids:
        raise ImportRejected(f'{EventType.EXECUTION_QUEUED} lists nodes {listed!r}, but the workflow has {node_ids!r}')
    known = set(node_ids)
    for index, event in enumerate(events):
        if event.type not in NODE_EVENTS:
            continue
        if event.node_id not in known:
            raise ImportRejected(f'events[{index}] ({event.type}) names node {event.node_id!r}, not in the workflow')
        target = event.data.get('target') if event.type == EventType.DATA_FLOW else None
        if event.type == EventType.DATA_FLOW and target not in known:
            raise ImportRejected(f'events[{index}] ({event.type}) sends data to {target!r}, not in the workflow')
    snapshot = data.get('workflow')
    if snapshot is None:
        # Replay draws the graph from the snapshot in execution.queued: give it the exported definition.
        first = replace(queued, data={**data, 'workflow': workflow.definition()})
        return [first, *events[1:]]
    try:
        recorded = parse_workflow(snapshot, registry)
    except WorkflowError as exc:
        raise ImportRejected(f'the workflow snapshot in {EventType.EXECUTION_QUEUED} is not valid: {exc}') from None
    if recorded.definition() != workflow.definition():
        raise ImportRejected(
            f'the workflow snapshot in {EventType.EXECUTION_QUEUED} differs from the exported workflow definition'
        )
    return events


def _kind(value: Any) -> str:
    if value is None:
        return 'nothing'
    return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean'}.get(
        type(value), type(value).__name__
    )
