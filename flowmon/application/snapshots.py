"""Workflow definitions by content hash: what an ``execution.queued`` event names with ``workflow_hash``.

The definitions are stored once per hash (``workflow_snapshots``, written by the recorder with the event). A
definition never changes under its hash, so the recently used ones are kept here: the engine hands over each
definition it runs (the live page then draws a run that has just started without asking the database), and the
ones read back from the store are kept too. Bounded by count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from flowmon.store.history import History

MAX_CACHED_DEFINITIONS = 16


class SnapshotCache:
    """Resolve a snapshot hash to its definition: from memory when it was used lately, else from the store."""

    def __init__(self, history: History, *, max_entries: int = MAX_CACHED_DEFINITIONS) -> None:
        self._history = history
        self._max = max_entries
        self._definitions: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def remember(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Keep ``definition`` under ``digest`` (the engine's snapshot sink calls this for every run it queues)."""
        self._definitions[digest] = definition
        self._definitions.move_to_end(digest)
        while len(self._definitions) > self._max:
            self._definitions.popitem(last=False)

    def get(self, digest: str) -> dict[str, Any] | None:
        """The definition if it is in memory (cheap and synchronous: for pages); None otherwise."""
        found = self._definitions.get(digest)
        if found is None:
            return None
        self._definitions.move_to_end(digest)
        return dict(found)

    async def resolve(self, digest: str) -> dict[str, Any] | None:
        """The definition stored under ``digest`` (None when there is none). Callers flush the recorder first when
        the execution may have been queued a moment ago."""
        found = self.get(digest)
        if found is not None:
            return found
        stored = await self._history.get_snapshot(digest)
        if stored is not None:
            self.remember(digest, stored)
        return stored
