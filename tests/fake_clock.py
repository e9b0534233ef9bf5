"""The engine's clock for tests: readings that move 1 ms each, and sleeps that are recorded (the exact retry delays)
and wait on the event loop, which a test marked ``looptime`` runs on virtual time (a wait takes no wall-clock time).

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """Time moves 1 ms per reading and jumps by the requested amount on sleep; every sleep is recorded and waits
    that long on the loop (virtual time: at once, in the wall clock's terms)."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(seconds)
