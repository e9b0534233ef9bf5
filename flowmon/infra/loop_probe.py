"""How late the event loop is: a task sleeps 100 ms, again and again, and measures how much later it woke.

Everything in flowmon (the engine, the recorder, every page, the API) shares one event loop, so a wake-up that is
late by d seconds means every request and every page update waited about d too: the one number that says the
process is overloaded (a long synchronous call, a full garbage collection, a slow fold).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from flowmon.infra.tasks import cancel_and_wait


class LoopLagProbe:
    """``lag`` is the lateness (seconds) of the most recent wake-up; ``start``/``stop`` own the probing task.

    ``clock`` and ``sleep`` default to the running loop's; tests pass fakes.
    """

    def __init__(
        self,
        interval: float = 0.1,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.lag = 0.0
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name='event loop lag probe')

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def measure(self) -> float:
        """Sleep one interval and record how late the wake-up came."""
        clock = self._clock or asyncio.get_running_loop().time
        before = clock()
        await self._sleep(self.interval)
        self.lag = max(0.0, clock() - before - self.interval)
        return self.lag

    async def _run(self) -> None:
        while True:
            await self.measure()
