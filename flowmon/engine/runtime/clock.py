"""The engine's source of time: every wait of the engine and of its node types goes through it, so tests use a
fake one and never sleep."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flowmon.engine.core.events import utcnow


class Clock(Protocol):
    """The engine's source of time, replaceable in tests so retries need not sleep."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and ``asyncio.sleep``."""

    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


_TICK = timedelta(microseconds=1)


def event_stamps(wall: Callable[[], datetime] | None = None) -> Callable[[], datetime]:
    """A source of event timestamps: the wall clock (``wall``, default UTC now), made strictly increasing.

    Two events stamped by one source never share a timestamp and a later event never has an earlier one (when
    the clock steps back, stamps advance by a microsecond until it catches up). The engine stamps every event
    of the process from one source, so timestamps order all executions' events as they were raised: the event
    stream resumes by them (``GET /api/events/stream`` with ``Last-Event-ID``). A closure, not a class: it runs
    for every event, and a closure's call costs half an instance's ``__call__``."""
    now_of = wall or functools.partial(datetime.now, UTC)
    last = datetime.min.replace(tzinfo=UTC)

    def stamp() -> datetime:
        nonlocal last
        now = now_of()
        if now <= last:
            now = last + _TICK
        last = now
        return now

    return stamp
