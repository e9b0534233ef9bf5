"""The one way tests wait: until a condition holds, never for a fixed time.

``wait_until`` (blocking, for tests that drive a process or a browser) and ``until`` (awaited, for tests on the
event loop) call ``condition`` until it returns something truthy, and return that value. On time-out they fail
with what was awaited (``what``) and what was seen last (``seen()`` if given, else the condition's last value or
the exception it raised). The timeouts are generous on purpose: CI is a loaded two-core machine, and a condition
that holds returns at once, so only a failing test pays for them.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar('T')

TIMEOUT = 20.0  # seconds: long enough for a loaded machine, short enough that a failure is not a hang


def _described(what: str, timeout: float, last: object, seen: Callable[[], object] | None) -> str:
    shown = last if seen is None else _safely(seen)
    return f'timed out after {timeout:g} s waiting for {what}; last seen: {shown!r}'


def _safely(seen: Callable[[], object]) -> object:
    try:
        return seen()
    except Exception as exc:  # what was seen is only for the message
        return exc


class _Polls:
    """The bookkeeping both forms share: what was seen last, and whether time is up."""

    def __init__(self, what: str, timeout: float, seen: Callable[[], object] | None, now: Callable[[], float]) -> None:
        self.what, self.timeout, self.seen, self.now = what, timeout, seen, now
        self.deadline = now() + timeout
        self.last: object = None

    def done(self, value: object) -> bool:
        """Note ``value`` (a result, or the exception that meant "not yet"); whether it ends the wait."""
        self.last = value
        return bool(value) and not isinstance(value, BaseException)

    def give_up_if_late(self) -> None:
        if self.now() > self.deadline:
            raise AssertionError(_described(self.what, self.timeout, self.last, self.seen))


def _called(condition: Callable[[], object], ignoring: tuple[type[BaseException], ...]) -> object:
    try:
        return condition()
    except ignoring as exc:
        return exc


def wait_until(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = TIMEOUT,
    seen: Callable[[], object] | None = None,
    interval: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` until it returns something truthy; return that. ``ignoring``: exceptions that mean "not
    yet" (a server still starting refuses connections)."""
    polls = _Polls(what, timeout, seen, time.monotonic)
    while not polls.done(_called(condition, ignoring)):
        polls.give_up_if_late()
        time.sleep(interval)
    return polls.last  # type: ignore[return-value]


async def until(
    condition: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    timeout: float = TIMEOUT,
    seen: Callable[[], object] | None = None,
    interval: float = 0.02,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """The awaited form of :func:`wait_until`: ``condition`` may be a coroutine function. Time is the event loop's
    (virtual under looptime, so a test on a virtual clock waits no wall-clock time)."""
    polls = _Polls(what, timeout, seen, asyncio.get_running_loop().time)
    while True:
        try:
            value: Any = condition()
            if inspect.isawaitable(value):
                value = await value
        except ignoring as exc:
            value = exc
        if polls.done(value):
            return value
        polls.give_up_if_late()
        await asyncio.sleep(interval)
