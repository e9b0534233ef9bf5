"""Concurrency limits for attempts: at most N in flight overall and M per destination.

Like semaphores (first come, first served), plus a synchronous :meth:`Limits.try_reserve`: a first attempt that
finds a free slot right away reserves it before its row is written, so it can be stored already claimed and never
waits (a claimed row must not sit in a queue while its lease runs out).
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    """A counting limit handed over in arrival order."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError('a limit must be at least 1')
        self.limit = limit
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def idle(self) -> bool:
        return self.used == 0 and not self._waiters

    def try_take(self) -> bool:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future  # give_back hands the slot over: ``used`` stays as it is
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.give_back()  # handed a slot just as we were cancelled: pass it on
            elif future in self._waiters:
                self._waiters.remove(future)
            raise

    def give_back(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.used -= 1


class Limits:
    """A global limit and one per destination key (entries for idle destinations are dropped)."""

    def __init__(self, total: int, per_destination: int) -> None:
        self.total = Slots(total)
        self.per_destination = per_destination
        self._destinations: dict[str, Slots] = {}

    def in_use(self, key: str) -> int:
        slots = self._destinations.get(key)
        return 0 if slots is None else slots.used

    def try_reserve(self, key: str) -> bool:
        slots = self._slots(key)
        if not slots.try_take():
            self._forget_if_idle(key)
            return False
        if not self.total.try_take():
            slots.give_back()
            self._forget_if_idle(key)
            return False
        return True

    async def reserve(self, key: str) -> None:
        slots = self._slots(key)
        try:
            await slots.take()
        except asyncio.CancelledError:
            self._forget_if_idle(key)
            raise
        try:
            await self.total.take()
        except asyncio.CancelledError:
            self._release_destination(key)
            raise

    def release(self, key: str) -> None:
        self.total.give_back()
        self._release_destination(key)

    def _slots(self, key: str) -> Slots:
        slots = self._destinations.get(key)
        if slots is None:
            slots = self._destinations[key] = Slots(self.per_destination)
        return slots

    def _release_destination(self, key: str) -> None:
        self._destinations[key].give_back()
        self._forget_if_idle(key)

    def _forget_if_idle(self, key: str) -> None:
        slots = self._destinations.get(key)
        if slots is not None and slots.idle:
            del self._destinations[key]
