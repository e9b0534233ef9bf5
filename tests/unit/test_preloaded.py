"""The tests' preloaded starts (tests/preloaded.py): a copy runs its script as ``python <script>`` would, with its
own arguments, environment, ``sys.path``, output files and pid, and its exit, by code or by signal, is reported as
``subprocess.Popen`` reports it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from flowmon_process import child_env, spawn, stop_process
from preloaded import REPO_ROOT, Copy, Preloader
from waiting import wait_until

PROBE = """
import json, os, signal, subprocess, sys, time
print(json.dumps({
    'name': __name__,
    'file': __file__,
    'argv': sys.argv,
    'shell': subprocess.run(['sh', '-c', 'echo "$PROBE"'], capture_output=True, text=True).stdout.strip(),
    'home': os.environ.get('HOME'),
    'sigchld': signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,
    'sigint': signal.getsignal(signal.SIGINT) is signal.default_int_handler,
    'blocked': sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    'descriptors': sorted(int(d) for d in os.listdir('/proc/self/fd'))[:3],
    'stdin': os.readlink('/proc/self/fd/0'),
    'cwd': os.getcwd(),
    'probe': os.environ.get('PROBE'),
    'pytest': 'PYTEST_CURRENT_TEST' in os.environ,
    'path': sys.path[:2],
    'preloaded': 'flowmon.bootstrap' in sys.modules,
    'parent': os.getppid(),
}), flush=True)
print('said on stderr', file=sys.stderr, flush=True)
if os.environ.get('SLEEP'):
    time.sleep(60)
sys.exit(int(os.environ.get('EXIT_CODE', '0')))
"""


def copy(tmp_path: Path, name: str, **env: str) -> tuple[Copy, Path, Path]:
    script = tmp_path / 'probe.py'
    script.write_text(PROBE, encoding='utf-8')
    stdout, stderr = tmp_path / f'{name}.out', tmp_path / f'{name}.err'
    base = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'HOME')}  # HOME: one taken away
    relative = os.path.relpath(script, REPO_ROOT)  # as app.py is given, relative to the working directory
    return Preloader.start([relative, 'one', 'two'], {**base, **env}, stdout, stderr), stdout, stderr


def seen(stdout: Path) -> dict[str, object]:
    return json.loads(wait_until(lambda: stdout.read_text(encoding='utf-8').strip() or None, 'the probe to print'))


def test_a_copy_runs_its_script_as_main_with_its_own_arguments_environment_and_path(tmp_path: Path) -> None:
    extra = tmp_path / 'extra'
    process, stdout, stderr = copy(tmp_path, 'ok', PROBE='forty-two', EXIT_CODE='3', PYTHONPATH=str(extra))

    assert process.wait(timeout=30) == 3
    probe = seen(stdout)
    assert probe['name'] == '__main__' and probe['file'] == str(tmp_path / 'probe.py')  # absolute, as python's
    assert probe['argv'] == [os.path.relpath(tmp_path / 'probe.py', REPO_ROOT), 'one', 'two']  # as given
    assert probe['cwd'] == str(REPO_ROOT)
    assert probe['probe'] == 'forty-two' and probe['pytest'] is False
    assert probe['shell'] == 'forty-two' and probe['home'] is None  # the environment its own children get too
    # what a fresh interpreter has: default SIGCHLD, Python's SIGINT handler, nothing blocked, /dev/null as stdin
    assert (probe['sigchld'], probe['sigint'], probe['blocked']) == (True, True, [])
    assert probe['descriptors'] == [0, 1, 2] and probe['stdin'] == '/dev/null'
    assert probe['path'] == [str(tmp_path), str(extra)]  # the script's directory, then PYTHONPATH's entries
    assert probe['preloaded'] is True  # flowmon was imported before the script ran: the point of it
    assert probe['parent'] != os.getpid()  # the preloading process's child, whose exit it reports
    assert stderr.read_text(encoding='utf-8') == 'said on stderr\n'


def test_a_copy_stopped_by_a_signal_reports_it_as_popen_does(tmp_path: Path) -> None:
    process, stdout, _ = copy(tmp_path, 'sleeper', SLEEP='1')
    seen(stdout)
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == -signal.SIGTERM
    assert process.returncode == -signal.SIGTERM
    process.kill()  # after the end: nothing to signal, no error (as Popen)


def test_spawn_makes_a_copy_unless_asked_for_a_fresh_process_or_the_interpreter_is_set_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('PYTHONHASHSEED', '6640')  # as Dask's multiprocessing scheduler leaves it: no effect on starts
    made = {
        'default': spawn(tmp_path, tmp_path / 'data', 'default'),
        'fresh': spawn(tmp_path, tmp_path / 'data', 'fresh', fresh=True),
        'hash seed': spawn(tmp_path, tmp_path / 'data', 'seed', PYTHONHASHSEED='7'),
    }
    for started in made.values():
        stop_process(started.process)
    assert {name: type(started.process).__name__ for name, started in made.items()} == {
        'default': 'Copy',
        'fresh': 'Popen',
        'hash seed': 'Popen',
    }


def test_a_start_that_sets_the_interpreters_own_variables_otherwise_is_not_a_copy(tmp_path: Path) -> None:
    base = child_env(tmp_path, 8080)  # as a start has it
    assert Preloader.can_copy(base)
    assert Preloader.can_copy({**base, 'PYTHONPATH': '/elsewhere', 'FLOWMON_PORT': '1'})
    assert not Preloader.can_copy({**base, 'PYTHONHASHSEED': '7'})
    assert not Preloader.can_copy({**base, 'TZ': 'Asia/Tokyo'}) and not Preloader.can_copy({**base, 'LC_ALL': 'C'})
    assert not Preloader.can_copy({k: v for k, v in base.items() if k != 'PYTHONUNBUFFERED'})
