"""The engine's source of time: every wait of the engine and of its node types goes through it, so tests use a
fake one and never sleep."""

from __future__ import annotations

import asyncio
from datetime import datetime
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
