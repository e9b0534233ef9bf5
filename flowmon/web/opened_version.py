"""The stored version a workflow editor's text started from, which Save stores over and nothing else: whether the
stored workflow has moved on from it since (saved over or deleted elsewhere), which version a save of an id is to
replace, and the watch that notices, while the text says that version, when it is no longer the stored one.
"""

from __future__ import annotations

import asyncio

from flowmon.application.errors import NotFound
from flowmon.application.workflows import NO_VERSION, StoredWorkflow, Workflows

# How often the watch reads whether the version is still the stored one (a deletion is seen at every look, in memory)
STORED_SECONDS = 2.0


class OpenedVersion:
    """:attr:`base`, the version the text started from (None: a new workflow), and :attr:`gone`, whether the watch
    found it no longer the stored one."""

    def __init__(self, workflows: Workflows, base: StoredWorkflow | None) -> None:
        self._workflows = workflows
        self.base = base
        self.gone = False  # that version is no longer the stored one (deleted, or saved over elsewhere)
        self._read_at = 0.0  # (loop time) when the watch last read the stored version

    def reopen(self, base: StoredWorkflow) -> None:
        """The text starts from ``base`` now (their version, loaded into the editor)."""
        self.base, self.gone, self._read_at = base, False, 0.0

    async def stored(self, workflow_id: str) -> StoredWorkflow | None:
        """The stored version of ``workflow_id`` now; None when there is none."""
        try:
            return await self._workflows.get(workflow_id)
        except NotFound:
            return None

    def moved_on(self, workflow_id: str, stored: StoredWorkflow | None) -> bool:
        """Whether the stored ``workflow_id`` is no longer the version the text started from."""
        base = self.base
        if base is None or base.id != workflow_id:  # a new workflow: its diff shows what is stored
            return False
        return stored is None or stored.version != base.version

    def expected(self, workflow_id: str, reviewed: StoredWorkflow | None) -> str:
        """The version Save stores over: the one the text started from, else the one the diff was made against."""
        if self.base is not None and self.base.id == workflow_id:
            return self.base.version
        return reviewed.version if reviewed else NO_VERSION

    async def look(self) -> bool:
        """Whether the version is seen no longer the stored one now: deleted (in memory, at every look), or saved over
        (a read, every ``STORED_SECONDS`` at most). Sets :attr:`gone` when it is."""
        base = self.base
        if base is None:
            return False
        if not self._workflows.deleted(base.id):
            now = asyncio.get_running_loop().time()
            if now - self._read_at < STORED_SECONDS:
                return False
            self._read_at = now
            moved_on = self.moved_on(base.id, await self.stored(base.id))
            if not moved_on or base is not self.base:
                return False
        self.gone = True
        return True
