"""What pages pull about running work: the shared live projection and the engine's counts.

Pages never subscribe to the bus; they read this on a timer and ask what changed since the version they last
saw (see :class:`~flowmon.engine.runtime.projector.Projector`), so a page that goes away leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowmon.engine.core.events import Event
from flowmon.engine.core.snapshot import snapshot_hash, workflow_snapshot
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.projector import Projector
from flowmon.engine.runtime.scheduler import Engine

from .snapshots import SnapshotCache


class LiveView:
    """Read-only, synchronous and cheap: safe to call from a page's timer ten times a second."""

    def __init__(
        self, projector: Projector, engine: Engine, bus: EventBus, snapshots: SnapshotCache | None = None
    ) -> None:
        """``snapshots`` resolves the definitions that ``execution.queued`` events name by hash, from memory."""
        self._projector = projector
        self._engine = engine
        self._bus = bus
        self._snapshots = snapshots

    @property
    def version(self) -> int:
        """Moves whenever a held execution changed."""
        return self._projector.version

    def changed_since(self, version: int) -> tuple[int, frozenset[str] | None]:
        """Ids changed after ``version``; ``None`` means "too old to say: re-read everything"."""
        return self._projector.changed_since(version)

    def changed_states(self, version: int) -> tuple[int, list[ExecutionState]]:
        """The states changed after ``version`` (all held states when that is too old to say)."""
        return self._projector.changed_states(version)

    def get(self, execution_id: str) -> ExecutionState | None:
        """The live state, while the execution is active or recently finished (else None: ask the history)."""
        return self._projector.get(execution_id)

    def holds(self, execution_id: str) -> bool:
        """Whether :meth:`get` has the execution (cheap: for lists that check every row they show)."""
        return self._projector.holds(execution_id)

    def states(self) -> Iterable[ExecutionState]:
        return self._projector.states()

    def recent_events(self, execution_id: str, after_seq: int = 0) -> list[Event] | None:
        """Buffered events after ``after_seq``; None when the buffer does not reach back that far."""
        return self._projector.recent_events(execution_id, after_seq)

    def snapshot(self, execution_id: str) -> dict[str, Any] | None:
        """The workflow the execution runs with, while its first event is still buffered and its definition is in
        memory (None otherwise: the history resolves it)."""
        events = self._projector.recent_events(execution_id, 0)
        inline = workflow_snapshot(events)
        if inline is not None:
            return inline
        digest = snapshot_hash(events)
        return None if digest is None or self._snapshots is None else self._snapshots.get(digest)

    def forget(self, execution_id: str, *, elsewhere: bool = False) -> bool:
        """Drop a deleted (finished) execution from the live projection and note its deletion; whether it is news
        (``elsewhere``: another process deleted it, see :meth:`Projector.forget`)."""
        return self._projector.forget(execution_id, elsewhere=elsewhere)

    def forget_unknown(self) -> None:
        """Executions may have been deleted unheard (elsewhere): pages ask the store whether theirs still exists."""
        self._projector.forget_unknown()

    def held_finished(self) -> list[str]:
        """The ended executions held, written (see :meth:`Projector.held_finished`)."""
        return self._projector.held_finished()

    @property
    def deletions(self) -> int:
        """Moves whenever an execution was deleted (where a page starts watching with :meth:`deleted_since`)."""
        return self._projector.deletions

    def deleted_since(self, number: int, execution_id: str) -> tuple[int, bool | None]:
        """The deletion number now, and whether ``execution_id`` was deleted after ``number``; ``None``: too long ago
        to say (ask the store)."""
        return self._projector.deleted_since(number, execution_id)

    def engine_load(self) -> tuple[int, int]:
        """How many executions run now, and how many wait for a slot."""
        return self._engine.running_count, self._engine.queued_count

    def is_active(self, execution_id: str) -> bool:
        """Queued or running in this process."""
        return self._engine.is_active(execution_id)

    @property
    def bus_subscribers(self) -> int:
        """Subscribers of the event bus (the debug route shows it: closing a page must not leave one behind)."""
        return self._bus.subscriber_count
