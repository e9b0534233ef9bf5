"""A report for a stop that takes too long: which step it is in, and what every task on the loop is waiting for.

A process manager kills a server that does not stop in time (systemd after 90 s), and a kill loses what the
stop was writing. :class:`StopWatch` names each step of a stop; when the whole stop passes its limit, one warning
line names the step and how long it has taken, followed by the stack of each task still on the loop, so the
line that holds the stop up is in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)

REPORT_AFTER_SECONDS = 10.0
STACK_FRAMES = 16  # coroutines shown per task, outermost first


class StopWatch:
    def __init__(self, report_after: float = REPORT_AFTER_SECONDS) -> None:
        self.report_after = report_after
        self.step = 'starting to stop'
        self._started = time.monotonic()
        self._reporter: asyncio.Task[None] | None = None

    def __enter__(self) -> StopWatch:
        self._started = time.monotonic()
        self._reporter = asyncio.get_running_loop().create_task(self._report_when_late(), name='stop watch')
        return self

    def __exit__(self, *_: object) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
        elapsed = time.monotonic() - self._started
        if elapsed > self.report_after:
            log.warning('stopped after %.1f s', elapsed)

    async def _report_when_late(self) -> None:
        await asyncio.sleep(self.report_after)
        log.warning(
            'stopping has taken %.0f s, still at: %s; tasks on the loop:\n%s',
            time.monotonic() - self._started,
            self.step,
            describe_tasks(),
        )


def describe_tasks() -> str:
    """Every task on the running loop but the caller: its name and the coroutines it awaits, outermost first."""
    me = asyncio.current_task()
    lines: list[str] = []
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        if task is not me:
            lines.append(f'  {task.get_name()}: {awaiting(task.get_coro()) or "not started"}')
    return '\n'.join(lines)


def awaiting(coro: object) -> str:
    """Where ``coro`` is suspended: each coroutine in its chain of awaits (up to :data:`STACK_FRAMES`)."""
    places: list[str] = []
    while coro is not None and len(places) < STACK_FRAMES:
        frame = getattr(coro, 'cr_frame', None) or getattr(coro, 'gi_frame', None)
        if frame is None:
            break
        places.append(f'{frame.f_code.co_name} ({_short(frame.f_code.co_filename)}:{frame.f_lineno})')
        coro = getattr(coro, 'cr_await', None) or getattr(coro, 'gi_yieldfrom', None)
    return ' > '.join(places)


def _short(filename: str) -> str:
    return '/'.join(filename.rsplit('/', 2)[-2:])
