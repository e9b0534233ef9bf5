"""The shared live projection: current state of active and recently finished executions.

One projector per process subscribes to the bus and folds every event with the reducer. Pages never
subscribe themselves; they pull from here on a timer (``changed_since`` tells them what moved), so a page
that goes away leaves nothing behind. Everything held is bounded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable

from flowmon.engine.core.events import Event
from flowmon.engine.core.state import ExecutionState, apply
from flowmon.engine.runtime.bus import EventBus, Subscription


class Projector:
    """Live execution states, versioned so that readers can ask what changed since they last looked."""

    def __init__(self, bus: EventBus, *, keep_finished: int = 200, events_per_execution: int = 500) -> None:
        self._bus = bus
        self._keep_finished = keep_finished
        self._events_per_execution = events_per_execution
        self._states: dict[str, ExecutionState] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # terminal executions, oldest first
        self._events: dict[str, deque[Event]] = {}
        self._dirty: set[str] = set()
        # versions are closed by the 10 Hz tick and by every reader that finds changes pending, so with many
        # pages open there are many per second: keep enough for a reader that last looked a few seconds ago
        self._changes: deque[tuple[int, frozenset[str]]] = deque(maxlen=1000)
        self._subscription: Subscription | None = None
        self.version = 0

    def start(self) -> None:
        self._subscription = self._bus.subscribe(self.on_event)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None

    def on_event(self, event: Event) -> None:
        state = apply(self._states.get(event.execution_id), event)
        self._states[event.execution_id] = state
        buffer = self._events.get(event.execution_id)
        if buffer is None:
            buffer = self._events[event.execution_id] = deque(maxlen=self._events_per_execution)
        buffer.append(event)
        self._dirty.add(event.execution_id)
        if state.is_terminal and event.execution_id not in self._finished:
            self._finished[event.execution_id] = None
            self._evict()

    def tick(self) -> int:
        """Close the current batch of changes into a new version (called about 10 times a second)."""
        if self._dirty:
            self.version += 1
            self._changes.append((self.version, frozenset(self._dirty)))
            self._dirty.clear()
        return self.version

    def changed_since(self, version: int) -> tuple[int, frozenset[str] | None]:
        """Ids changed after ``version``; ``None`` means "too old to say: re-read everything".

        Changes not yet closed into a version are closed now, so a reader sees every event folded so far
        rather than waiting for the next tick (which would add up to a tick's delay to the screen)."""
        self.tick()
        if version >= self.version:
            return self.version, frozenset()
        if not self._changes or self._changes[0][0] > version + 1:
            return self.version, None
        changed: set[str] = set()
        for number, ids in self._changes:
            if number > version:
                changed |= ids
        return self.version, frozenset(changed)

    def changed_states(self, version: int) -> tuple[int, list[ExecutionState]]:
        """The states changed after ``version`` (all held states when that is too old to say)."""
        version, changed = self.changed_since(version)
        if changed is None:
            return version, list(self._states.values())
        return version, [state for key in changed if (state := self._states.get(key)) is not None]

    def get(self, execution_id: str) -> ExecutionState | None:
        return self._states.get(execution_id)

    def states(self) -> Iterable[ExecutionState]:
        return list(self._states.values())

    def recent_events(self, execution_id: str, after_seq: int = 0) -> list[Event] | None:
        """Buffered events after ``after_seq``; None when the buffer no longer reaches back that far."""
        buffer = self._events.get(execution_id)
        if buffer is None:
            return None
        if buffer and buffer[0].seq > after_seq + 1:
            return None
        return [event for event in buffer if event.seq > after_seq]

    def _evict(self) -> None:
        while len(self._finished) > self._keep_finished:
            key, _ = self._finished.popitem(last=False)
            self._states.pop(key, None)
            self._events.pop(key, None)
