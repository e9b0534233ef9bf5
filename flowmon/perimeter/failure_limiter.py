"""``FailureLimiter``: a sliding window of failed attempts per key (a client address), bounded in memory."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds; beyond that :meth:`retry_after` is non-zero.

    At most ``max_keys`` keys are remembered (the least recently failing forgotten first), so a flood from many
    addresses costs bounded memory. ``clock`` is injectable so tests need no sleeps.
    """

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> tuple[deque[float] | None, float]:
        fails, now = self._fails.get(key), self.clock()
        while fails and fails[0] <= now - self.window:
            fails.popleft()
        return fails, now

    def retry_after(self, key: str) -> int:
        """0 when ``key`` may try again; otherwise the whole seconds until its oldest counted failure expires."""
        fails, now = self._recent(key)
        if not fails or len(fails) < self.limit:
            return 0
        return max(1, math.ceil(fails[0] + self.window - now))

    def failed(self, key: str) -> None:
        """Count one failure of ``key``."""
        fails, now = self._recent(key)
        if fails is None:
            fails = self._fails[key] = deque(maxlen=self.limit)
        self._fails.move_to_end(key)
        fails.append(now)
        if len(self._fails) > self.max_keys:
            self._fails.popitem(last=False)

    def __len__(self) -> int:
        return len(self._fails)
