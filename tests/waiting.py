"""The one way tests wait: until a condition holds, never for a fixed time.

``wait_until`` (blocking, for tests that drive a process or a browser) and ``until`` (awaited, for tests on the
event loop) call ``condition`` until it returns something truthy, and return that value. On time-out they fail
with what was awaited (``what``) and what was seen last (``seen()`` if given, else the condition's last value or
the exception it raised). The timeouts are generous on purpose: CI is a loaded two-core machine, and a condition
that holds returns at once, so only a failing test pays for them.

Options (both forms): ``timeout`` (seconds, default :data:`TIMEOUT`), ``seen`` (what to show on failure),
``interval`` (seconds between calls), ``ignoring`` (exceptions that mean "not yet": a server still starting
refuses connections).

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict, TypeVar, Unpack

T = TypeVar('T')

TIMEOUT = 20.0  # seconds: long enough for a loaded machine, short enough that a failure is not a hang


class Options(TypedDict, total=False):
    timeout: float
    seen: Callable[[], object] | None
    interval: float
    ignoring: tuple[type[BaseException], ...]


class _Polls:
    """What both forms share: the options, what was seen last, and whether time is up."""

    def __init__(self, what: str, now: Callable[[], float], interval: float, options: Options) -> None:
        self.what, self.now = what, now
        self.timeout = options.get('timeout', TIMEOUT)
        self.seen = options.get('seen')
        self.interval = options.get('interval', interval)
        self.ignoring = options.get('ignoring', ())
        self.deadline = now() + self.timeout
        self.last: object = None

    def done(self, value: object) -> bool:
        """Note ``value`` (a result, or the exception that meant "not yet"); whether it ends the wait."""
        self.last = value
        return bool(value) and not isinstance(value, BaseException)

    def give_up_if_late(self) -> None:
        if self.now() > self.deadline:
            shown = self.last if self.seen is None else _safely(self.seen)
            raise AssertionError(f'timed out after {self.timeout:g} s waiting for {self.what}; last seen: {shown!r}')


def _safely(seen: Callable[[], object]) -> object:
    try:
        return seen()
    except Exception as exc:  # what was seen is only for the message
        return exc


def wait_until(condition: Callable[[], T], what: str, **options: Unpack[Options]) -> T:
    """Call ``condition`` until it returns something truthy (every 0.05 s unless told); return that."""
    polls = _Polls(what, time.monotonic, 0.05, options)
    while True:
        try:
            value: Any = condition()
        except polls.ignoring as exc:
            value = exc
        if polls.done(value):
            return value
        polls.give_up_if_late()
        time.sleep(polls.interval)


async def until(condition: Callable[[], T | Awaitable[T]], what: str, **options: Unpack[Options]) -> T:
    """The awaited form of :func:`wait_until` (every 0.02 s unless told): ``condition`` may be a coroutine function.
    Time is the event loop's (virtual under looptime, so a test on a virtual clock waits no wall-clock time)."""
    polls = _Polls(what, asyncio.get_running_loop().time, 0.02, options)
    while True:
        try:
            value: Any = condition()
            if inspect.isawaitable(value):
                value = await value
        except polls.ignoring as exc:
            value = exc
        if polls.done(value):
            return value  # type: ignore[no-any-return]
        polls.give_up_if_late()
        await asyncio.sleep(polls.interval)
