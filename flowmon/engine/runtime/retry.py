"""Per-node retry policy: exponential backoff with jitter, as a small value object."""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetryPolicy(BaseModel):
    """How often a node is tried and how long to wait between tries.

    The wait before attempt ``n + 1`` is ``backoff_seconds * 2 ** (n - 1)``, capped at
    ``max_backoff_seconds``, then spread by up to ``±jitter`` of itself so retries do not stampede.
    """

    model_config = ConfigDict(extra='forbid', frozen=True)

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff_seconds: float = Field(default=1.0, ge=0, le=86_400)
    max_backoff_seconds: float | None = Field(default=None, ge=0, le=86_400)
    jitter: float = Field(default=0.2, ge=0, le=1)

    @model_validator(mode='after')
    def _cap_not_below_base(self) -> RetryPolicy:
        if self.max_backoff_seconds is not None and self.max_backoff_seconds < self.backoff_seconds:
            raise ValueError('max_backoff_seconds must be at least backoff_seconds')
        return self

    def delay_after(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        base = self.backoff_seconds * 2 ** max(attempt - 1, 0)
        if self.max_backoff_seconds is not None:
            base = min(base, self.max_backoff_seconds)
        spread = base * self.jitter * (2 * rand() - 1)
        return max(0.0, base + spread)

    def allows_another(self, attempt: int) -> bool:
        return attempt < self.max_attempts


NO_RETRY = RetryPolicy()
