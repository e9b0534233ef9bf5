"""Tick marks for a replay scrubber: one per event, or per slice of time the most notable event in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flowmon.engine.core.events import EventType
from flowmon.engine.core.replay_index import ReplayIndex

FAILURE_EVENTS = frozenset({EventType.NODE_FAILED, EventType.EXECUTION_FAILED})
RETRY_EVENTS = frozenset({EventType.NODE_RETRYING})

TickFlag = Literal['failure', 'retry'] | None


@dataclass(frozen=True, slots=True)
class Tick:
    """One event on the timeline: the position after it, when it happened, and whether it is notable."""

    position: int
    elapsed_s: float
    type: EventType
    node_id: str | None
    flag: TickFlag = None


def ticks(index: ReplayIndex) -> list[Tick]:
    """One tick per event, failures and retries flagged."""
    return [_tick(index, k) for k in range(1, index.n + 1)]


def tick_marks(index: ReplayIndex, buckets: int = 200) -> list[Tick]:
    """At most ``buckets`` ticks for a scrubber: per slice of time the most notable event in it.

    A failure beats a retry, which beats any other event; ties go to the earliest.
    """
    if buckets < 1:
        raise ValueError('buckets must be at least 1')
    if index.n <= buckets:
        return ticks(index)
    width = index.duration_s / buckets or 1.0
    events = index.events
    chosen: dict[int, int] = {}
    for k in range(1, index.n + 1):
        bucket = min(int(index.elapsed_at(k) / width), buckets - 1)
        best = chosen.get(bucket)
        if best is None or _rank(events[k - 1].type) > _rank(events[best - 1].type):
            chosen[bucket] = k
    return [_tick(index, k) for _, k in sorted(chosen.items())]


def _tick(index: ReplayIndex, k: int) -> Tick:
    event = index.events[k - 1]
    flag: TickFlag = 'failure' if event.type in FAILURE_EVENTS else 'retry' if event.type in RETRY_EVENTS else None
    return Tick(position=k, elapsed_s=index.elapsed_at(k), type=event.type, node_id=event.node_id, flag=flag)


def _rank(event_type: EventType) -> int:
    return 2 if event_type in FAILURE_EVENTS else 1 if event_type in RETRY_EVENTS else 0
