"""The workflow an execution ran with, as its ``execution.queued`` event recorded it.

An execution's first event names its workflow definition in one of two ways: by content hash (``workflow_hash``:
the definition itself is stored once per hash, however many executions ran it) or, as executions recorded before
hashes did (and engines that keep no snapshots), with the whole definition inline (``workflow``). Every reader of
that snapshot (replay, the execution page, export, rerun of a deleted workflow) asks here first, so the rule for
finding it lives in one place; a hash is resolved by whoever holds the stored definitions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from flowmon.engine.core.events import Event, EventType

HASH_PATTERN = re.compile(r'^[0-9a-f]{64}$')


def definition_hash(definition: Mapping[str, Any]) -> str:
    """The content hash of a workflow definition: SHA-256 (hex) of its canonical JSON (sorted keys, no spaces).

    Equal definitions hash alike whatever the order of their keys, so a definition is stored once per version."""
    canonical = json.dumps(definition, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode('utf-8', 'surrogatepass')).hexdigest()


def workflow_snapshot(events: Sequence[Event] | None) -> dict[str, Any] | None:
    """The definition recorded inline in the first of ``events`` (an execution's history from its start), or None
    when that event is not ``execution.queued`` or holds no inline definition (see :func:`snapshot_hash`)."""
    queued = _queued(events)
    definition = queued.data.get('workflow') if queued is not None else None
    return dict(definition) if isinstance(definition, Mapping) else None


def snapshot_hash(events: Sequence[Event] | None) -> str | None:
    """The content hash the first of ``events`` names its definition by (``workflow_hash``), or None."""
    queued = _queued(events)
    found = queued.data.get('workflow_hash') if queued is not None else None
    return found if isinstance(found, str) and HASH_PATTERN.fullmatch(found) else None


def _queued(events: Sequence[Event] | None) -> Event | None:
    if not events or events[0].type != EventType.EXECUTION_QUEUED:
        return None
    return events[0]
