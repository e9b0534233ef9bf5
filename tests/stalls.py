"""Stall chaos for the browser tests: opt-in (``make test-stalls``), never part of ``make test``.

A machine that is busy elsewhere stops a process for a moment at any time: a test that reads the page before the
server has answered the click passes on an idle machine and fails at CI. Stopping the processes on purpose finds those
races on demand. ``FLOWMON_STALL`` names what to stop (several, comma-separated):

- ``click``: every flowmon process the tests started, for 0.4-0.9 s, right as a test acts on the page (a click, a
  key, a fill, a navigation): the answer to that action comes late;
- ``server``: every flowmon process, now and then (every 0.5-3 s, for 0.2-0.9 s);
- ``browser``: Chromium's renderers, now and then (the page's own timers and its socket stall).

``FLOWMON_STALL_SEED`` seeds the lengths and intervals (each process's draws depend on the seed and on the order in
which its pytest worker started it), so a run can be repeated with the same stalls in the same order; without it a
seed is drawn and shown in the report's header. A failed test's report lists the stalls of its flowmon processes.
Nothing here runs unless ``FLOWMON_STALL`` is set.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

MODES = frozenset({'click', 'server', 'browser'})


def modes(value: str | None = None) -> frozenset[str]:
    """The stall modes ``FLOWMON_STALL`` (or ``value``) asks for; raises ValueError naming an unknown one."""
    words = {word.strip() for word in (os.environ.get('FLOWMON_STALL', '') if value is None else value).split(',')}
    chosen = frozenset(word for word in words if word)
    unknown = sorted(chosen - MODES)
    if unknown:
        raise ValueError(f'FLOWMON_STALL: unknown mode {", ".join(unknown)} (known: {", ".join(sorted(MODES))})')
    return chosen


_seed: list[int] = []


def seed() -> int:
    """``FLOWMON_STALL_SEED``, or one drawn once; raises ValueError when it is not a whole number."""
    if not _seed:
        given = os.environ.get('FLOWMON_STALL_SEED', '').strip()
        try:
            _seed.append(int(given) if given else random.SystemRandom().randrange(1_000_000))
        except ValueError:
            raise ValueError(f'FLOWMON_STALL_SEED must be a whole number, not {given!r}') from None
    return _seed[0]


@dataclass(frozen=True)
class Stall:
    at: str  # wall-clock time it began, for reading beside the logs
    seconds: float


class Staller:
    """Stops the processes ``targets()`` names (SIGSTOP) for a moment, then lets them go on (SIGCONT): now and then
    from a thread of its own (:meth:`start`), or when asked (:meth:`pause`). Its draws come from ``rng``."""

    def __init__(self, targets: Callable[[], list[int]], rng: random.Random) -> None:
        self.targets, self.rng = targets, rng
        self.stalls: list[Stall] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()  # one stall at a time
        self._thread: threading.Thread | None = None

    def start(self, every: tuple[float, float] = (0.5, 3.0), length: tuple[float, float] = (0.2, 0.9)) -> None:
        def run() -> None:
            while not self._halt.wait(self.rng.uniform(*every)):
                self._stop_for(self.rng.uniform(*length), wait=self._halt.wait)

        self._thread = threading.Thread(target=run, name='stalls', daemon=True)
        self._thread.start()

    def pause(self, length: tuple[float, float] = (0.4, 0.9)) -> None:
        """Stop the targets now, and let them go on in the background once a drawn length has passed: returns while
        they are stopped, so what the caller does next meets them stopped."""
        seconds = self.rng.uniform(*length)
        stopped = threading.Event()

        def run() -> None:
            self._stop_for(seconds, wait=self._halt.wait, stopped=stopped)

        threading.Thread(target=run, name='stall', daemon=True).start()
        stopped.wait(2.0)

    def end(self) -> None:
        """Stop stalling; every target goes on (at once, even in the middle of a stall)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:  # a stall in progress has ended (its wait returns at once now)
            pass

    def _stop_for(
        self, seconds: float, *, wait: Callable[[float], bool], stopped: threading.Event | None = None
    ) -> None:
        with self._lock:
            halted: list[int] = []
            try:
                if not self._halt.is_set():
                    for pid in self.targets():
                        if _signal(pid, signal.SIGSTOP):
                            halted.append(pid)
                    for pid in halted:  # a signal is delivered later: stopped, then "stopped"
                        _until_stopped(pid)
                    if halted:
                        self.stalls.append(Stall(_now(), round(seconds, 3)))
                if stopped is not None:
                    stopped.set()
                if halted:
                    wait(seconds)
            finally:
                for pid in halted:
                    _signal(pid, signal.SIGCONT)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # it has exited
        return False
    return True


def _until_stopped(pid: int, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE):
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.001)


def _now() -> str:
    now = time.time()
    return time.strftime('%H:%M:%S', time.localtime(now)) + f'.{int(now * 1000) % 1000:03d}'


# --- the flowmon processes of this pytest worker ---------------------------------------------------------------------

_watched: dict[int, Staller] = {}
_ended: dict[int, list[Stall]] = {}  # the stalls of the processes released, for the reports of the tests after
_started = 0  # processes watched so far by this worker: part of each one's seed


def _rng(name: str) -> random.Random:
    return random.Random(f'{seed()}/{os.environ.get("PYTEST_XDIST_WORKER", "main")}/{name}')


def watch(process: subprocess.Popen[bytes]) -> None:
    """Stall ``process`` as ``FLOWMON_STALL`` asks (nothing when it asks for neither ``server`` nor ``click``)."""
    global _started
    chosen = modes()
    if not chosen & {'server', 'click'} or process.pid in _watched:
        return
    _started += 1
    pid = process.pid
    staller = _watched[pid] = Staller(lambda: [pid] if process.poll() is None else [], _rng(f'process-{_started}'))
    if 'server' in chosen:
        staller.start()


def release(process: subprocess.Popen[bytes]) -> None:
    """Stop stalling ``process`` (before it is stopped or killed: a stopped process would not see SIGTERM)."""
    staller = _watched.pop(process.pid, None)
    if staller is not None:
        staller.end()
        _ended[process.pid] = staller.stalls[-15:]


def stalls_of(process: subprocess.Popen[bytes]) -> list[Stall]:
    """The stalls ``process`` met (the last 15 once released)."""
    staller = _watched.get(process.pid)
    return list(staller.stalls) if staller is not None else list(_ended.get(process.pid, []))


def pause_servers() -> None:
    """(``click``) Stop every watched flowmon process for a drawn moment, now."""
    for staller in list(_watched.values()):
        staller.pause()


def renderers_of(pid: int) -> list[int]:
    """The pids of the Chromium renderers below process ``pid``."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if '--type=renderer' in child.cmdline():
                found.append(child.pid)
        except psutil.Error:  # it has exited
            pass
    return found


@contextmanager
def stalling_browser() -> Iterator[None]:
    """Within it, Chromium's renderers (below this process) are stopped now and then when ``FLOWMON_STALL`` asks
    for ``browser``."""
    if 'browser' not in modes():
        yield
        return
    staller = Staller(lambda: renderers_of(os.getpid()), _rng('browser'))
    staller.start()
    try:
        yield
    finally:
        staller.end()
