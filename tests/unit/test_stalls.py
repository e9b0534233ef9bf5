"""The stall chaos of the browser tests (tests/stalls.py, ``make test-stalls``): it stops what it is told to, lets
it go on, repeats a seed's draws, and refuses what it does not know."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest
import stalls
from waiting import wait_until


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def status(process: subprocess.Popen[bytes]) -> str:
    return str(psutil.Process(process.pid).status())


def test_a_pause_returns_with_the_process_stopped_and_it_goes_on_after(sleeper: subprocess.Popen[bytes]) -> None:
    staller = stalls.Staller(lambda: [sleeper.pid], random.Random(1))
    staller.pause(length=(0.3, 0.3))
    assert status(sleeper) == psutil.STATUS_STOPPED
    wait_until(lambda: status(sleeper) != psutil.STATUS_STOPPED, 'the process to go on')
    assert [stall.seconds for stall in staller.stalls] == [0.3]
    staller.end()


def test_end_lets_a_process_go_on_in_the_middle_of_a_stall(sleeper: subprocess.Popen[bytes]) -> None:
    staller = stalls.Staller(lambda: [sleeper.pid], random.Random(1))
    staller.pause(length=(30, 30))
    assert status(sleeper) == psutil.STATUS_STOPPED
    staller.end()
    assert status(sleeper) != psutil.STATUS_STOPPED
    staller.pause()  # after the end: nothing
    assert status(sleeper) != psutil.STATUS_STOPPED
    assert len(staller.stalls) == 1


def test_now_and_then_stalls_until_the_end(sleeper: subprocess.Popen[bytes]) -> None:
    staller = stalls.Staller(lambda: [sleeper.pid], random.Random(1))
    staller.start(every=(0.01, 0.02), length=(0.01, 0.02))
    wait_until(lambda: len(staller.stalls) >= 3, 'three stalls')
    staller.end()
    assert status(sleeper) != psutil.STATUS_STOPPED


def test_a_process_that_has_exited_is_not_counted_as_stalled() -> None:
    gone = subprocess.Popen([sys.executable, '-c', 'pass'])
    gone.wait()
    staller = stalls.Staller(lambda: [gone.pid] if gone.poll() is None else [], random.Random(1))
    staller.pause()
    staller.end()
    assert staller.stalls == []


def test_the_same_seed_draws_the_same_stalls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stalls, '_seed', [42])
    first, second = stalls._rng('process-1'), stalls._rng('process-1')
    assert [first.random() for _ in range(5)] == [second.random() for _ in range(5)]
    assert stalls._rng('process-2').random() != stalls._rng('process-1').random()


def test_modes_and_seed_refuse_what_they_do_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stalls.modes('') == frozenset()
    assert stalls.modes('click, browser') == {'click', 'browser'}
    with pytest.raises(ValueError, match='unknown mode clicks'):
        stalls.modes('clicks')
    monkeypatch.setattr(stalls, '_seed', [])
    monkeypatch.setenv('FLOWMON_STALL_SEED', 'seven')
    with pytest.raises(ValueError, match="whole number, not 'seven'"):
        stalls.seed()
    monkeypatch.setenv('FLOWMON_STALL_SEED', '7')
    assert stalls.seed() == 7


def test_nothing_is_watched_unless_asked(monkeypatch: pytest.MonkeyPatch, sleeper: subprocess.Popen[bytes]) -> None:
    monkeypatch.delenv('FLOWMON_STALL', raising=False)
    stalls.watch(sleeper)
    stalls.pause_servers()
    assert status(sleeper) != psutil.STATUS_STOPPED
    assert stalls.stalls_of(sleeper) == []
    monkeypatch.setenv('FLOWMON_STALL', 'click')
    stalls.watch(sleeper)
    try:
        stalls.pause_servers()
        assert status(sleeper) == psutil.STATUS_STOPPED
    finally:
        stalls.release(sleeper)
    assert status(sleeper) != psutil.STATUS_STOPPED
    assert len(stalls.stalls_of(sleeper)) == 1
