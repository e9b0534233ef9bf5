"""``python app.py`` without its imports: a process that has imported what ``app.py`` imports forks a copy of itself
for each start, and the copy runs ``app.py`` as ``python app.py`` would.

A start of flowmon is about 2.5 s of CPU, nearly all of it imports (Python runs every module's body: classes,
pydantic models, routes, compiled patterns); the tests start it about eighty times. Each pytest worker starts one
preloading process (:class:`Preloader`, on its first start) and asks it over a pipe for each copy. A copy is flowmon
as a user starts it: its own process (its pid is signalled, stalled and killed -9 as before), its own environment,
working directory, standard streams, arguments and ``sys.path``, ``app.py`` run as ``__main__`` (its ``__file__``
the absolute path, ``sys.argv[0]`` as given), a normal interpreter exit. What differs is what happened before
``app.py`` ran: the modules were imported by the preloading process, with the environment it was started with (the
tests' settings are read when ``app.py`` runs, not at import; a start that sets a variable the interpreter or an
import reads is started fresh, see :meth:`Preloader.can_copy`), and the copies share its hash seed. Imports that
print anything stop the preloading process (a fresh start would have shown it in its own output). Tests of the
start's imports themselves pass ``fresh=True`` to :func:`flowmon_process.spawn`, as does everything that is not a
test (the benchmarks).

The preloading process forks while single-threaded, with no file open but its standard streams. It reaps each copy
and writes its exit status beside its output (``<name>.status``) before it lets the pid go, so a pid is never
reused while the status says the copy runs; :class:`Copy` reads the status in place of ``waitpid`` (the copy is the
preloading process's child, not the test's).

Run as a script, this file is the preloading process (stdin: one JSON request a line; stdout: one pid a line).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# the environment this test process started with (imported before any test runs): a test or a library that changes
# os.environ later (Dask's multiprocessing scheduler sets PYTHONHASHSEED, for one) changes neither the preloading
# process nor the processes the tests start (tests/flowmon_process.py: child_env)
STARTING_ENVIRONMENT = dict(os.environ)
POLL_SECONDS = 0.02
PRELOAD_TIMEOUT_S = 120.0  # the imports, on a loaded machine; then a fork, which is quick
# what the interpreter or an import reads from the environment once, besides the PYTHON* variables (PYTHONPATH is
# applied in the copy): a start that sets one of these differently is started fresh
READ_ONCE = ('HOME', 'LANG', 'TZ', 'MATPLOTLIB')
READ_ONCE_PREFIXES = ('PYTHON', 'LC_', 'NICEGUI_')


class PreloaderGone(RuntimeError):
    """The preloading process ended: the copies it made are no longer reaped and their exits not reported."""


class Copy:
    """The part of :class:`subprocess.Popen` the tests use, for a copy made by the preloading process."""

    def __init__(self, pid: int, args: list[str], status_path: Path, preloader: subprocess.Popen[bytes]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._status_path = status_path
        self._preloader = preloader

    def poll(self) -> int | None:
        if self.returncode is None:
            if self._status_path.exists():
                self.returncode = int(self._status_path.read_text(encoding='utf-8'))
            elif self._preloader.poll() is not None and not self._status_path.exists():
                raise PreloaderGone(f'the preloading process ended (code {self._preloader.returncode}) before copy '
                                    f'{self.pid} did: {Preloader.errors()}')  # fmt: skip
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(POLL_SECONDS)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:  # (it may end between the poll and the signal; its pid is not let go before its status is written)
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Preloader:
    """This pytest worker's preloading process, started on the first :meth:`start`."""

    _process: subprocess.Popen[bytes] | None = None
    _errors: Path | None = None
    _lock = threading.Lock()

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], stdout_path: Path, stderr_path: Path) -> Copy:
        status_path = stdout_path.with_suffix('.status')
        status_path.unlink(missing_ok=True)  # a status left by an earlier start of the same name
        status_path.with_suffix('.status-partial').unlink(missing_ok=True)
        for path in (stdout_path, stderr_path):  # there (and empty) once started, as Popen's are
            path.write_bytes(b'')
        request = {
            'args': args,
            'env': env,
            'cwd': str(REPO_ROOT),
            'stdout': str(stdout_path),
            'stderr': str(stderr_path),
            'status': str(status_path),
        }
        with cls._lock:
            process = cls._running()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps(request).encode() + b'\n')
                process.stdin.flush()
            except BrokenPipeError:
                raise PreloaderGone(f'the preloading process ended: {cls.errors()}') from None
            ready, _, _ = select.select([process.stdout], [], [], PRELOAD_TIMEOUT_S)
            answer = process.stdout.readline() if ready else b''
            if not answer:
                process.kill()
                raise PreloaderGone(f'the preloading process made no copy within {PRELOAD_TIMEOUT_S:.0f} s or ended '
                                    f'(code {process.poll()}): {cls.errors()}')  # fmt: skip
        return Copy(int(answer), [sys.executable, *args], status_path, process)

    @classmethod
    def can_copy(cls, env: dict[str, str]) -> bool:
        """Whether a start with ``env`` can be a copy: what is read once (:data:`READ_ONCE`, the ``PYTHON*``
        variables but ``PYTHONPATH``, ...) must be as the preloading process has it (from the environment this test
        process started with)."""
        return _read_once(env) == _read_once(_preloader_env())

    @classmethod
    def errors(cls) -> str:
        """The end of what the preloading process wrote to its standard error."""
        if cls._errors is None or not cls._errors.exists():
            return '(nothing)'
        return cls._errors.read_text(encoding='utf-8', errors='replace')[-3000:] or '(nothing)'

    @classmethod
    def _running(cls) -> subprocess.Popen[bytes]:
        if cls._process is None or cls._process.poll() is not None:
            handle, name = tempfile.mkstemp(prefix='flowmon-preloader-', suffix='.err')
            cls._errors = Path(name)
            cls._process = subprocess.Popen(
                [sys.executable, __file__],
                cwd=REPO_ROOT,
                env=_preloader_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
            )
            os.close(handle)
        return cls._process


def _preloader_env() -> dict[str, str]:
    env = {k: v for k, v in STARTING_ENVIRONMENT.items() if k != 'PYTEST_CURRENT_TEST' and not k.startswith('FLOWMON_')}
    return {**env, 'PYTHONUNBUFFERED': '1'}  # as every start the tests make


def _read_once(env: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if (name in READ_ONCE or name.startswith(READ_ONCE_PREFIXES)) and name != 'PYTHONPATH'
    }


def _python_path(env: dict[str, str]) -> list[str]:
    """The entries ``PYTHONPATH`` adds to ``sys.path``, after the script's directory."""
    return [os.path.abspath(entry) for entry in env.get('PYTHONPATH', '').split(os.pathsep) if entry]


# --- the preloading process -------------------------------------------------------------------------------------


def _preload() -> None:
    """Import what ``app.py``'s ``main`` imports, as it does (with the unused parts left out). A module ``app.py``
    imports that is not here is imported by each copy: slower, not different."""
    import gc

    gc.disable()
    from flowmon.infra import logredact, logs  # noqa: F401
    from flowmon.infra.private_files import make_private  # noqa: F401
    from flowmon.infra.unused_parts import without_unused_parts
    from flowmon.settings import load_settings  # noqa: F401
    from flowmon.store.keys import load_secret_box  # noqa: F401

    with without_unused_parts():
        import nicegui.ui  # noqa: F401
        import starlette.middleware  # noqa: F401

        import flowmon.api
        import flowmon.api.docs
        import flowmon.bootstrap
        import flowmon.perimeter
        import flowmon.store.migrate
        import flowmon.store.sealed
        import flowmon.web
        import flowmon.web.auth
        import flowmon.web.sign_in  # noqa: F401
    gc.freeze()
    gc.enable()


def _preload_silently() -> None:
    """:func:`_preload` with its output kept: a warning or a line printed at import would have been in a fresh
    start's own output, so it stops the preloading process instead of being lost."""
    sys.stdout.flush()
    kept = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as said:
        os.dup2(said.fileno(), 1)
        os.dup2(said.fileno(), 2)
        try:
            _preload()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(kept[0], 1)
            os.dup2(kept[1], 2)
            os.close(kept[0])
            os.close(kept[1])
        said.seek(0)
        output = said.read()
    if output:
        sys.exit(f"flowmon's imports printed something (a fresh start would show it):\n{output.decode()}")


def _serve(requests: IO[bytes], answers: IO[bytes]) -> dict[str, Any] | None:
    """Fork a copy for each request; the copy returns its request, the preloading process None at the end."""
    copies: dict[int, Path] = {}

    def reap(*_: object) -> None:
        while True:
            try:  # (not reaped yet: the pid stays the copy's until its status is written)
                ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if ended is None:
                return
            code = -ended.si_status if ended.si_code in (os.CLD_KILLED, os.CLD_DUMPED) else ended.si_status
            path = copies.pop(ended.si_pid, None)
            if path is not None:
                try:
                    partial = path.with_suffix('.status-partial')
                    partial.write_text(str(code), encoding='utf-8')
                    partial.replace(path)
                except OSError as exc:  # its directory removed: nobody waits for it
                    print(f'copy {ended.si_pid}: status not written: {exc}', file=sys.stderr, flush=True)
            os.waitpid(ended.si_pid, 0)

    signal.signal(signal.SIGCHLD, reap)
    while line := requests.readline():
        request = json.loads(line)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                return dict(request)
            copies[pid] = Path(request['status'])
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        answers.write(f'{pid}\n'.encode())
        answers.flush()
    return None  # the pytest worker is gone: its copies are stopped by its fixtures (or outlive it, as Popen's do)


def _become(request: dict[str, Any]) -> None:
    """In the copy: the process ``python app.py`` would be, up to running ``app.py``."""
    null = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request['stdout'], os.O_WRONLY | os.O_APPEND)
    stderr = os.open(request['stderr'], os.O_WRONLY | os.O_APPEND)
    for source, target in ((null, 0), (stdout, 1), (stderr, 2)):
        os.dup2(source, target)
    for descriptor in (null, stdout, stderr):
        os.close(descriptor)
    preloaded = set(_python_path(dict(os.environ)))  # the preloading process's own PYTHONPATH
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    sys.argv = list(request['args'])
    # as python app.py has it: the script's directory, then PYTHONPATH's entries, then the installation's
    installed = [entry for entry in sys.path[1:] if entry not in preloaded]
    sys.path[:] = [str(Path(request['args'][0]).resolve().parent), *_python_path(request['env']), *installed]


def _open_descriptors() -> list[int]:
    found = []
    for descriptor in range(1024):
        try:
            os.fstat(descriptor)
        except OSError:
            continue
        found.append(descriptor)
    return found


def _run_as_main(script: Path) -> None:
    """Run ``script`` as ``python <script>`` runs it: a new ``__main__`` module that stays ``__main__`` to the end."""
    import builtins
    import importlib.machinery
    import types

    main = types.ModuleType('__main__')
    main.__file__ = str(script)
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader('__main__', str(script))
    main.__cached__ = None
    main.__spec__ = None
    sys.modules['__main__'] = main
    exec(compile(script.read_bytes(), str(script), 'exec'), main.__dict__)


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the tests and their copies, not their reaper
    sys.path[0] = str(REPO_ROOT)  # the modules are found as ``python app.py`` finds them
    _preload_silently()
    assert threading.active_count() == 1, 'the preloading process must not fork with threads running'
    assert _open_descriptors() == [0, 1, 2], 'a file an import left open would be shared by every copy'
    request = _serve(sys.stdin.buffer, sys.stdout.buffer)
    if request is None:
        sys.exit(0)
    _become(request)
    _run_as_main(Path(request['args'][0]).resolve())
