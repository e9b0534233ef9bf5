"""The shared live projection: current state of active and recently finished executions.

One projector per process subscribes to the bus and holds, per execution, the one folded state: pages read
it (they pull on a timer; ``changed_since`` tells them what moved, so a page that goes away leaves nothing
behind) and the recorder writes the ``executions`` rows from it (:meth:`Projector.state_through`), so each
event is folded once in the process, not once per reader.

Folding is lazy: taking an event only queues it. The queue is folded in one :func:`fold` (several times
cheaper than an :func:`apply` per event) when someone reads the state, when the recorder asks for the state at
the end of a batch it writes, or (without a recorder) when :data:`FOLD_EVERY` events are waiting; with a
recorder, its bounded backlog bounds what waits.

Everything held is bounded, by count and by bytes (a node's output may be as large as the payload budget, and the
events that carry it hold it): each execution keeps its latest ``events_per_execution`` events, fewer when they
come to more than ``event_bytes_per_execution`` (the newest is always kept; the state folds every event all the
same); finished executions beyond ``keep_finished``, or beyond ``keep_finished_bytes`` together, are evicted, oldest
first, but (once a recorder has called :meth:`Projector.await_writes`) never before the recorder has written their
last event. Bytes are approximate and cheap: an event counts the length of its JSON text when the engine set it
(``Event.data_json``), else an estimate from a sample of its data (:func:`estimated_size`), nothing is encoded
again; a finished execution counts all the events it took (its state holds what they carried) and once more those
it keeps.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS, Event
from flowmon.engine.core.reducer import fold
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.runtime.bus import EventBus, Subscription

# Events of one execution waiting to be folded at most (then they are folded as the next one arrives).
FOLD_EVERY = 500
# Deleted executions remembered (ids and their deletion numbers), so that an open page of one can tell it went.
KEEP_DELETED = 10_000
# Finished executions kept at most (the newest), and their bytes together at most (see the module's docstring).
KEEP_FINISHED = 200
KEEP_FINISHED_BYTES = 256 * 1024 * 1024
# Recent events kept per execution at most (the newest), and their bytes at most.
EVENTS_PER_EXECUTION = 500
EVENT_BYTES_PER_EXECUTION = 16 * 1024 * 1024
# How estimated_size samples data without JSON text: the first items of a container, to this depth.
_SAMPLE_ITEMS = 8
_SAMPLE_DEPTH = 3
# What a value counts beyond the sampled depth, and a number, boolean or null.
_UNSAMPLED = 16
_SCALAR = 8
_SCALARS = frozenset({int, float, bool, type(None)})


def estimated_size(value: Any, depth: int = 0) -> int:
    """About the length of ``value`` as compact JSON, cheaply: strings count their length, a list or mapping counts
    its first items (to a few levels) scaled up to all of them. For events without ``data_json`` (the engine's
    small ones, and events read back from the store)."""
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if kind in _SCALARS:
        return _SCALAR
    if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
        count = len(value)
        if not count:
            return 2
        if depth == _SAMPLE_DEPTH:
            return count * _UNSAMPLED
        total = 0
        sampled = 0
        for key, item in value.items():
            total += (len(key) if type(key) is str else _SCALAR) + 4 + estimated_size(item, depth + 1)
            sampled += 1
            if sampled == _SAMPLE_ITEMS:
                break
        return total * count // sampled + 2
    if kind is list or kind is tuple:
        count = len(value)
        if not count:
            return 2
        if depth == _SAMPLE_DEPTH:
            return count * _UNSAMPLED
        sampled = min(count, _SAMPLE_ITEMS)
        total = 0
        for index in range(sampled):
            total += estimated_size(value[index], depth + 1) + 1
        return total * count // sampled + 2
    return _SCALAR


def event_size(event: Event) -> int:
    """The bytes an event counts: its JSON text's length when it has one, else an estimate of its data's."""
    text = event.data_json
    return len(text) if text is not None else estimated_size(event.data)


class _Track:
    """One execution: its folded state, the events not folded into it yet, and the recent events."""

    __slots__ = ('events', 'finished', 'kept_bytes', 'last_seq', 'persisted_seq', 'state', 'taken_bytes', 'unfolded')

    def __init__(self, events_kept: int) -> None:
        self.state: ExecutionState | None = None  # every event up to state.last_seq folded
        self.unfolded: list[Event] = []  # the events after that, in order
        self.events: deque[Event] = deque(maxlen=events_kept)
        self.kept_bytes = 0  # of the events kept
        self.taken_bytes = 0  # of every event taken
        self.last_seq = 0  # of the last event taken
        self.persisted_seq = 0  # of the last event the recorder has written
        self.finished = False  # a terminal event was taken

    def counted(self) -> int:
        """The bytes it counts once finished: its state holds what its events carried, and it keeps some of them."""
        return self.taken_bytes + self.kept_bytes

    def folded(self) -> ExecutionState | None:
        """The state after every event taken (folding what waits)."""
        if self.unfolded:
            self.state = fold(self.unfolded, self.state)
            self.unfolded = []
        return self.state


class Projector:
    """Live execution states, versioned so that readers can ask what changed since they last looked."""

    def __init__(
        self,
        bus: EventBus,
        *,
        keep_finished: int = KEEP_FINISHED,
        keep_finished_bytes: int = KEEP_FINISHED_BYTES,
        events_per_execution: int = EVENTS_PER_EXECUTION,
        event_bytes_per_execution: int = EVENT_BYTES_PER_EXECUTION,
    ) -> None:
        self._bus = bus
        self._keep_finished = keep_finished
        self._keep_finished_bytes = keep_finished_bytes
        self._events_per_execution = max(1, events_per_execution)
        self._event_bytes = event_bytes_per_execution
        self._tracks: dict[str, _Track] = {}
        # evictable terminal executions, oldest first, with the bytes each counts, and those bytes together
        self._finished: OrderedDict[str, int] = OrderedDict()
        self._finished_bytes = 0
        # terminal executions the recorder has not written to the end yet, in the order they finished
        self._unwritten: dict[str, None] = {}
        self._await_writes = False
        self._dirty: set[str] = set()
        # versions are closed by the 10 Hz tick and by every reader that finds changes pending, so with many
        # pages open there are many per second: keep enough for a reader that last looked a few seconds ago
        self._changes: deque[tuple[int, frozenset[str]]] = deque(maxlen=1000)
        self._subscription: Subscription | None = None
        self.version = 0
        # deleted executions by their deletion number (counting up from 1), the latest KEEP_DELETED of them; a reader
        # that last looked before ``_deletions_unknown`` cannot be told whether one it shows is among them
        self._deleted: OrderedDict[str, int] = OrderedDict()
        self.deletions = 0
        self._deletions_unknown = 0

    def start(self) -> None:
        self._subscription = self._bus.subscribe(self.on_event)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None

    def on_event(self, event: Event) -> None:
        execution_id = event.execution_id
        track = self._tracks.get(execution_id)
        if track is None:
            track = self._tracks[execution_id] = _Track(self._events_per_execution)
        unfolded = track.unfolded
        unfolded.append(event)
        if len(unfolded) >= FOLD_EVERY and not self._await_writes:
            track.folded()  # (with a recorder, its backlog bounds what waits, and it asks for states at its cuts)
        text = event.data_json
        size = len(text) if text is not None else estimated_size(event.data)
        track.taken_bytes += size
        events = track.events
        kept = track.kept_bytes + size
        if len(events) == self._events_per_execution:  # the oldest kept goes as this one comes
            kept -= event_size(events[0])
        events.append(event)
        track.kept_bytes = kept if kept <= self._event_bytes else _trimmed(events, kept, self._event_bytes)
        track.last_seq = event.seq
        self._dirty.add(execution_id)
        if track.finished:  # (an event after the end: none comes, but it counts if it does)
            if execution_id in self._finished:
                self._finished_bytes -= self._finished.pop(execution_id)
                self._finish(execution_id, track)
        elif event.type in TERMINAL_EXECUTION_EVENTS:
            track.finished = True
            if self._await_writes and track.persisted_seq < track.last_seq:
                self._unwritten[execution_id] = None
            else:
                self._finish(execution_id, track)

    def take_stored(self, events: Iterable[Event]) -> int:
        """Hold events that another process ran and recorded (read back from the shared database), as if they had
        come over this process's bus, but already written: they never wait for this process's recorder.

        Events must come in ``seq`` order per execution; one already held is skipped, and an execution is taken up
        only from its first event (a fold must start there), never once it was deleted (a read that began before the
        deletion may end after it). Returns how many were taken.
        """
        taken = 0
        for event in events:
            track = self._tracks.get(event.execution_id)
            if track is None:
                if event.seq != 1 or event.execution_id in self._deleted:  # (a read from before its deletion)
                    continue
                track = self._tracks[event.execution_id] = _Track(self._events_per_execution)
            elif event.seq != track.last_seq + 1:
                continue
            track.persisted_seq = event.seq
            self.on_event(event)
            taken += 1
        return taken

    # --- the recorder's side --------------------------------------------------------------------------

    def await_writes(self, on: bool = True) -> None:
        """From now on (``on``), keep a finished execution until :meth:`persisted` says its last event is written.

        The recorder calls this when it starts, and with ``on=False`` when it stops (nothing will be written
        any more: finished executions are evicted as usual again).
        """
        self._await_writes = on
        if not on:
            for execution_id in list(self._unwritten):
                self._release(execution_id)

    def state_through(self, execution_id: str, seq: int) -> ExecutionState | None:
        """The state right after event ``seq`` of the execution, or None when this projection cannot give it.

        The recorder's write of a batch that ends at ``seq`` (for this execution) asks for it: the events
        up to ``seq`` are folded into the shared state, and the rest keep waiting. None when the execution is
        unknown here (events written without the bus: recovery, imports), or when a reader has already folded
        past ``seq`` (the caller folds the batch's events itself).
        """
        track = self._tracks.get(execution_id)
        if track is None:
            return None
        state = track.state
        done = 0 if state is None else state.last_seq
        if done == seq:
            return state
        unfolded = track.unfolded
        if done > seq or not unfolded:
            return None
        end = seq - unfolded[0].seq + 1  # seq numbers are gap-free within an execution
        if end < 1 or end > len(unfolded) or unfolded[end - 1].seq != seq:
            return None
        track.state = state = fold(unfolded[:end], state)
        del unfolded[:end]
        return state

    def persisted(self, execution_id: str, seq: int) -> None:
        """The recorder has committed the execution's events up to ``seq``."""
        track = self._tracks.get(execution_id)
        if track is None:
            return
        if seq > track.persisted_seq:
            track.persisted_seq = seq
        if execution_id in self._unwritten and track.persisted_seq >= track.last_seq:
            self._release(execution_id)

    def _release(self, execution_id: str) -> None:
        self._unwritten.pop(execution_id, None)
        track = self._tracks.get(execution_id)
        if track is not None:
            self._finish(execution_id, track)

    def _finish(self, execution_id: str, track: _Track) -> None:
        """Make a finished execution evictable (the newest), counting its bytes, and evict what is too much. One
        larger than the whole budget alone is let go at once, alone: evicting the others for it would not make room
        for it, and would leave none kept."""
        size = track.counted()
        if size > self._keep_finished_bytes:
            del self._tracks[execution_id]
            return
        self._finished[execution_id] = size
        self._finished_bytes += size
        self._evict()

    # --- readers --------------------------------------------------------------------------------------

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
            return version, self.states()
        return version, [state for key in changed if (state := self.get(key)) is not None]

    def get(self, execution_id: str) -> ExecutionState | None:
        track = self._tracks.get(execution_id)
        return None if track is None else track.folded()

    def holds(self, execution_id: str) -> bool:
        """Whether the execution is held (cheap: nothing is folded)."""
        return execution_id in self._tracks

    def workflow_of(self, execution_id: str) -> str | None:
        """The workflow of a held execution (None when it is not held)."""
        state = self.get(execution_id)
        return state.workflow_id if state is not None else None

    def states(self) -> list[ExecutionState]:
        return [state for track in list(self._tracks.values()) if (state := track.folded()) is not None]

    def recent_events(self, execution_id: str, after_seq: int = 0) -> list[Event] | None:
        """Buffered events after ``after_seq``; None when the buffer no longer reaches back that far."""
        track = self._tracks.get(execution_id)
        if track is None:
            return None
        buffer = track.events
        if buffer and buffer[0].seq > after_seq + 1:
            return None
        return [event for event in buffer if event.seq > after_seq]

    def forget(self, execution_id: str, *, elsewhere: bool = False) -> bool:
        """Drop a finished execution that was deleted (held or not): no page may show it again, and a page that shows
        it learns so from :meth:`deleted_since` (a running one stays: it cannot have been deleted here). Deleted
        ``elsewhere`` (by another process, which deletes only what the database holds as ended), it goes even while
        this projection has not yet read its end (its tail of the database behind). Whether the deletion is news
        (not known already)."""
        track = self._tracks.get(execution_id)
        if track is not None:
            if not track.finished and not elsewhere:
                return False
            del self._tracks[execution_id]
            self._unwritten.pop(execution_id, None)
            self._finished_bytes -= self._finished.pop(execution_id, 0)
            self._dirty.discard(execution_id)
        if execution_id in self._deleted:
            return False
        self.deletions += 1
        self._deleted[execution_id] = self.deletions
        while len(self._deleted) > KEEP_DELETED:
            _, number = self._deleted.popitem(last=False)
            self._deletions_unknown = number
        return True

    def forget_unknown(self) -> None:
        """Executions may have been deleted that :meth:`forget` was not told of (the news from another process was
        lost): every reader is told "cannot say" once (:meth:`held_finished` says which ended ones to ask the store
        about)."""
        self.deletions += 1
        self._deletions_unknown = self.deletions

    def held_finished(self) -> list[str]:
        """The ended executions held whose events are all written (those another process could have deleted)."""
        return list(self._finished)

    def deleted_since(self, number: int, execution_id: str) -> tuple[int, bool | None]:
        """The deletion number now, and whether ``execution_id`` was deleted after deletion ``number`` (a reader
        starts at :attr:`deletions`); ``None``: too long ago to say (ask the store). Cheap: for a page's timer."""
        if number >= self.deletions:
            return self.deletions, False
        if number < self._deletions_unknown:
            return self.deletions, None
        return self.deletions, self._deleted.get(execution_id, 0) > number

    def _evict(self) -> None:
        finished = self._finished
        while finished and (len(finished) > self._keep_finished or self._finished_bytes > self._keep_finished_bytes):
            key, size = finished.popitem(last=False)
            self._finished_bytes -= size
            self._tracks.pop(key, None)


def _trimmed(events: deque[Event], kept: int, limit: int) -> int:
    """Drop the oldest of ``events`` (``kept`` bytes) while they come to more than ``limit`` bytes (the newest
    stays); the bytes of those left."""
    while kept > limit and len(events) > 1:
        kept -= event_size(events.popleft())
    return kept


__all__ = [
    'EVENTS_PER_EXECUTION',
    'EVENT_BYTES_PER_EXECUTION',
    'FOLD_EVERY',
    'KEEP_DELETED',
    'KEEP_FINISHED',
    'KEEP_FINISHED_BYTES',
    'Projector',
    'estimated_size',
    'event_size',
]
