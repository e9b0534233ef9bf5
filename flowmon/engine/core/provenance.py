"""How an execution was started: the ``trigger`` its ``execution.queued`` event records.

A trigger is a small JSON object whose ``type`` says where the run came from, with what identifies that source:

- ``{"type": "api"}``: ``POST /api/workflows/{id}/executions``;
- ``{"type": "ui"}``: a Run button on a page;
- ``{"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC"}``: a workflow's cron schedule;
- ``{"type": "hook", "webhook-id": "msg_..."}``: a signed ``POST /hooks/{workflow_id}``;
- ``{"type": "rerun", "retry_of": "<execution id>"}``: a rerun of an earlier execution (API or page).

Executions recorded before triggers were have none, except reruns, which their ``retry_of`` gives away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRIGGER_TYPES = ('api', 'ui', 'schedule', 'hook', 'rerun')
TRIGGER_KEYS = {'api': (), 'ui': (), 'schedule': ('cron', 'timezone'), 'hook': ('webhook-id',), 'rerun': ('retry_of',)}
MAX_TRIGGER_VALUE_CHARS = 256  # a cron expression, a time zone, a webhook-id (flowmon remembers at most 256), an id


def api_trigger() -> dict[str, Any]:
    return {'type': 'api'}


def ui_trigger() -> dict[str, Any]:
    return {'type': 'ui'}


def schedule_trigger(cron: str, timezone: str) -> dict[str, Any]:
    return {'type': 'schedule', 'cron': cron, 'timezone': timezone}


def hook_trigger(webhook_id: str) -> dict[str, Any]:
    return {'type': 'hook', 'webhook-id': webhook_id}


def rerun_trigger(retry_of: str) -> dict[str, Any]:
    return {'type': 'rerun', 'retry_of': retry_of}


def recorded_trigger(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The trigger in the data of an ``execution.queued`` event: the one it records, else (recorded before
    triggers were) a rerun's, inferred from ``retry_of``, else None."""
    trigger = data.get('trigger')
    if isinstance(trigger, Mapping):
        return trigger
    retry_of = data.get('retry_of')
    return rerun_trigger(retry_of) if isinstance(retry_of, str) and retry_of else None


def trigger_type(trigger: Mapping[str, Any] | None) -> str | None:
    """The trigger's type when it is one of :data:`TRIGGER_TYPES` (what is stored and filtered by), else None."""
    kind = trigger.get('type') if trigger is not None else None
    return kind if isinstance(kind, str) and kind in TRIGGER_TYPES else None


def trigger_problem(value: Any) -> str | None:
    """Why ``value`` is not a trigger this flowmon records (None when it is one): checked on imported events."""
    if not isinstance(value, Mapping):
        return 'must be an object with a "type"'
    kind = value.get('type')
    if kind not in TRIGGER_TYPES:
        return f'type must be one of {", ".join(TRIGGER_TYPES)}, got {_preview(kind)}'
    allowed = {'type', *TRIGGER_KEYS[kind]}
    for key, item in value.items():
        if key not in allowed:
            return f'of type {kind} has no field {_preview(key)} (it may have {", ".join(sorted(allowed))})'
        if not isinstance(item, str) or len(item) > MAX_TRIGGER_VALUE_CHARS:
            return f'field {key} must be text of at most {MAX_TRIGGER_VALUE_CHARS} characters'
    return None


def _preview(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool | type(None)) else type(value).__name__
    return text if len(text) <= 40 else text[:39] + '…'
