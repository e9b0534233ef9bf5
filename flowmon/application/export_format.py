"""The execution export format: one JSON document holding a workflow definition and every event of one execution.

An export is ``{"format": "flowmon.execution", "version": 1, "exported_at", "execution": {...},
"workflow": {...}, "events": [...]}`` with the events as :meth:`Event.marshal` writes them. Reading one checks
the whole document before anything is used (format and version, every event, seq 1..n without gaps, one
execution, ``execution.queued`` first and a terminal execution event last, the workflow definition against the
node registry, node ids against the workflow, the events' order against the workflow's graph and the document's
``execution`` head against the events: :mod:`.export_story`). A document that fails any check raises
:class:`ImportRejected` naming the problem.

An export is untrusted input, so it is held to the payload budget: the text is not parsed when it nests more
than :data:`~flowmon.engine.core.payload.MAX_PARSE_DEPTH` levels (:func:`parse_export`), and every event is checked
field by field before anything is folded: its node id (a node of the workflow on node events, null on execution
events), the type and length of every field the pages and the reducer read, and every payload it carries
(inputs, outputs) against depth and ``FLOWMON_MAX_PAYLOAD_BYTES`` as the engine checked them when it ran (those
checks of the events: :mod:`.export_events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowmon.engine.core.events import Event
from flowmon.engine.core.inputs import in_body
from flowmon.engine.core.payload import MAX_PARSE_DEPTH, DuplicateKey, PayloadBudget, json_text_depth, loads_unique
from flowmon.engine.core.payload_values import MAX_INT, PayloadError, PayloadMeter
from flowmon.engine.core.reducer import fold
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.model import Workflow, WorkflowError, parse_workflow
from flowmon.engine.nodes.base import NodeRegistry

from .errors import ExportMalformed, ImportRejected
from .export_events import check_against_workflow, check_sequence, checked_event, kind_of
from .export_story import check_head, check_story
from .views import execution_summary

EXPORT_FORMAT = 'flowmon.execution'
EXPORT_VERSION = 1
MAX_IMPORT_EVENTS = 500_000


@dataclass(frozen=True, kw_only=True)
class ValidExport:
    """A checked export: its workflow, its events (still under their original id) and their final state."""

    original_id: str
    workflow: Workflow
    events: list[Event]
    state: ExecutionState


def parse_export(content: bytes | str) -> Any:
    """The JSON document in ``content``; raises :class:`ExportMalformed` without parsing text nested too deeply, and
    for an object in it that names a key twice (marked with where that object is in the document)."""
    if json_text_depth(content, stop_above=MAX_PARSE_DEPTH) > MAX_PARSE_DEPTH:
        raise in_body(
            ExportMalformed(f'the export is nested more than {MAX_PARSE_DEPTH} levels deep; it was not parsed')
        )
    try:
        return loads_unique(content, 'the export')
    except DuplicateKey as exc:
        raise in_body(ExportMalformed(str(exc)), *exc.path) from None
    except RecursionError:  # pragma: no cover - the scan above stops such text first
        raise in_body(ExportMalformed('the export is nested too deeply to parse')) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise in_body(ExportMalformed(f'the export is not valid JSON: {exc}')) from None


def validate_export(document: Any, registry: NodeRegistry, budget: PayloadBudget | None = None) -> ValidExport:
    """Check every part of an export document; raises :class:`ImportRejected` naming the first problem."""
    budget = budget or PayloadBudget()
    if not isinstance(document, Mapping):
        raise in_body(ImportRejected(f'an export must be a JSON object, got {kind_of(document)}'))
    marker = document.get('format')
    if marker != EXPORT_FORMAT:
        found = 'has no "format" field' if marker is None else f'has format {marker!r}'
        raise in_body(
            ImportRejected(f'not a flowmon execution export: the document {found}, expected {EXPORT_FORMAT!r}'),
            'format',
        )
    version = document.get('version')
    if isinstance(version, bool) or not isinstance(version, int):
        raise in_body(ImportRejected(f'export "version" must be an integer, got {version!r}'), 'version')
    if version != EXPORT_VERSION:
        raise in_body(
            ImportRejected(f'unsupported export version {version} (this flowmon reads version {EXPORT_VERSION})'),
            'version',
        )

    raw_workflow = document.get('workflow')
    if not isinstance(raw_workflow, Mapping):
        raise in_body(
            ImportRejected(
                f'export "workflow" must be the workflow definition (an object), got {kind_of(raw_workflow)}'
            ),
            'workflow',
        )
    try:
        workflow = parse_workflow(raw_workflow, registry)
    except WorkflowError as exc:
        raise in_body(ImportRejected(f'the workflow definition is not valid: {exc}'), 'workflow', *exc.where) from None

    raw_events = document.get('events')
    if not isinstance(raw_events, list) or not raw_events:
        got = 'an empty list' if raw_events == [] else kind_of(raw_events)
        raise in_body(ImportRejected(f'export "events" must be a non-empty list, got {got}'), 'events')
    if len(raw_events) > MAX_IMPORT_EVENTS:
        raise in_body(
            ImportRejected(f'export has {len(raw_events):,} events; at most {MAX_IMPORT_EVENTS:,} can be imported'),
            'events',
        )
    events = [checked_event(index, raw, budget) for index, raw in enumerate(raw_events)]
    original_id = check_sequence(events)
    events = check_against_workflow(events, workflow, registry)
    check_story(events, workflow)
    try:
        state = fold(events)
    except Exception as exc:  # the reducer trusts its input; an odd value in a hand-made file must not be a 500
        raise in_body(ImportRejected(f'the events cannot be replayed: {type(exc).__name__}: {exc}'), 'events') from None
    assert state is not None
    check_head(document, events, workflow, state)
    try:  # what GET /api/executions/{id} will answer: payloads sit up to three levels down in it
        PayloadMeter(MAX_INT, budget.max_depth + 3).measure(execution_summary(state), 'the execution summary')
    except PayloadError as exc:
        raise in_body(ImportRejected(f'the events cannot be shown: {exc}'), 'events') from None
    return ValidExport(original_id=original_id, workflow=workflow, events=events, state=state)
