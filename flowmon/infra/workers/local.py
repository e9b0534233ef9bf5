"""The local worker pool: ``FLOWMON_WORKERS`` processes on this machine, one node attempt at a time each.

Why not ``concurrent.futures.ProcessPoolExecutor``: it cannot stop a task that is computing (``cancel()`` of a
running task does nothing), and when one of its processes dies every task in flight and every later submit fails
with ``BrokenProcessPool``. Here each process is a slot with its own pipe and a thread that waits on it, so

- cancel or timeout of a running attempt kills that one process (SIGKILL) and starts another in its place: a
  runaway function stops using the CPU, and nothing else is disturbed;
- a process that dies (killed by the OOM killer or by hand) fails only the attempt it was running, with an error
  saying so (the node's retry policy applies), and is replaced;
- the worker that took a task is known the moment it takes it: ``local:<pid>``;
- the processes run at a lower priority (nice +10), so on a machine whose cores they keep busy flowmon's own
  process still gets the CPU it needs to serve pages and the API.

Processes come from a ``forkserver`` (NiceGUI's threads make ``fork`` unsafe; ``spawn`` would import everything
again for every process): the server imports this module (and with it the engine) once, and each process forks
from it in about 15 ms. Each child also runs the main script again as ``__mp_main__`` (multiprocessing does so
under forkserver and spawn), which is why ``app.py`` starts flowmon only under ``if __name__ == '__main__'`` and
keeps its module body to imports that are cheap.

Attempts wait first come, first served while every process is busy; the node's timeout counts that wait too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from flowmon.engine.nodes.base import NodeError
from flowmon.engine.runtime.executor import WorkerError, WorkerLost, WorkerTask, run_task

log = logging.getLogger(__name__)

WORKER_NICENESS = 10  # added to the pool processes' nice value: flowmon's process comes first on a busy CPU
JOIN_SECONDS = 5.0  # how long stop() and a replacement wait for a killed process to be reaped


def default_processes() -> int:
    """The CPU cores this process may use (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


@dataclass(eq=False)
class _Job:
    task: WorkerTask
    started: Callable[[str], None]
    future: asyncio.Future[tuple[str, Any]]


@dataclass(eq=False)
class _Slot:
    """One worker process, the pipe to it and the thread that talks over the pipe."""

    process: BaseProcess
    conn: Connection
    name: str  # local:<pid>
    inbox: queue.SimpleQueue[_Job | None] = field(default_factory=queue.SimpleQueue)
    job: _Job | None = None
    retiring: bool = False  # killed (cancel, timeout, stop): takes no more jobs


class LocalProcessPool:
    """A :class:`~flowmon.engine.runtime.executor.WorkerPool` of ``processes`` local processes."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or default_processes()
        self._context = multiprocessing.get_context('forkserver')
        self._slots: list[_Slot] = []
        self._pending: collections.deque[_Job] = collections.deque()
        self._spawning = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()

    @property
    def workers(self) -> list[str]:
        """The live processes, as ``local:<pid>``."""
        return [slot.name for slot in self._slots if not slot.retiring]

    async def start(self) -> None:
        """Ready for work; no process starts yet. The processes start with the first node that runs on a worker
        (it waits in the queue meanwhile, about 0.6 s here for the fork server and the first fork), and from
        then on the pool keeps ``processes`` of them: a flowmon whose workflows run no such node never starts them,
        nor pays the CPU a fork server's imports take at each start."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        # The fork server imports this module (and with it the engine) once, so each process forks with them.
        self._context.set_forkserver_preload([__name__])

    async def stop(self) -> None:
        """Kill every process and fail whatever still waits (the engine has cancelled its nodes by now)."""
        self._stopping = True
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_exception(NodeError('flowmon is stopping'))
        slots, self._slots = self._slots, []
        for slot in slots:
            slot.retiring = True
            slot.inbox.put(None)
            _kill(slot.process)
        if slots:
            await asyncio.to_thread(_reap, [slot.process for slot in slots])
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    async def run(self, task: WorkerTask, started: Callable[[str], None]) -> tuple[str, Any]:
        if self._loop is None or self._stopping:
            raise NodeError('the local worker pool is not running')
        job = _Job(task, started, self._loop.create_future())
        self._pending.append(job)
        self._dispatch()
        self._fill()
        try:
            return await job.future
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    # --- inside -----------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand waiting jobs to idle processes, first come first served."""
        for slot in self._slots:
            if not self._pending:
                return
            if slot.job is None and not slot.retiring:
                job = self._pending.popleft()
                slot.job = job
                slot.inbox.put(job)  # announced once the process has it (_announce)

    def _abandon(self, job: _Job) -> None:
        """The attempt was cancelled (cancel, timeout): forget it if it waits, kill its process if it runs."""
        with contextlib.suppress(ValueError):
            self._pending.remove(job)
            return
        for slot in self._slots:
            if slot.job is job and not slot.retiring:
                slot.retiring = True
                log.info('killing local worker %s: its node attempt %s was cancelled', slot.name, job.task.key)
                _kill(slot.process)  # its thread sees the pipe close and reports (the result is dropped)
                self._fill()  # its replacement starts now

    def _fill(self) -> None:
        """Start processes until there are ``processes`` of them (counting those being started)."""
        if self._stopping or self._loop is None:
            return
        missing = self.processes - sum(1 for slot in self._slots if not slot.retiring) - self._spawning
        for _ in range(max(0, missing)):
            self._spawning += 1
            task = self._loop.create_task(self._spawn(), name='start local worker')
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _spawn(self) -> None:
        try:
            process, conn = await asyncio.to_thread(self._start_process)
        except Exception as exc:
            self._spawning -= 1
            log.error('could not start a local worker process: %s: %s', type(exc).__name__, exc)
            if self._spawning == 0 and not any(not slot.retiring for slot in self._slots):
                # nothing could take the waiting jobs: no process runs, and no other is being started
                while self._pending:
                    job = self._pending.popleft()
                    if not job.future.done():
                        job.future.set_exception(
                            NodeError(f'could not start a local worker process: {type(exc).__name__}: {exc}')
                        )
            return
        self._spawning -= 1
        slot = _Slot(process=process, conn=conn, name=f'local:{process.pid}')
        if self._stopping:
            _kill(process)
            await asyncio.to_thread(_reap, [process])
            return
        self._slots.append(slot)
        loop = self._loop
        assert loop is not None
        threading.Thread(target=_serve, args=(slot, loop, self), name=f'flowmon {slot.name}', daemon=True).start()
        self._dispatch()

    def _start_process(self) -> tuple[BaseProcess, Connection]:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_child_main, args=(theirs,), name='flowmon worker', daemon=True)
        process.start()
        theirs.close()  # the child holds its end: when it dies, our end reads EOF
        return process, ours

    def _announce(self, slot: _Slot, job: _Job) -> None:
        """On the loop: ``slot``'s process has received ``job`` and computes it."""
        if not job.future.done():
            job.started(slot.name)

    def _finished(self, slot: _Slot, job: _Job, reply: tuple[str, Any]) -> None:
        """On the loop: a process answered (or died) for ``job``."""
        kind, value = reply
        if kind == 'gone':  # it died while idle: the job never reached it, and goes to another process first
            if slot in self._slots:
                self._slots.remove(slot)
            if not job.future.done():
                self._pending.appendleft(job)
            self._fill()
            self._dispatch()
            return
        if kind == 'died':
            if slot in self._slots:
                self._slots.remove(slot)
            if not job.future.done():  # not cancelled by us: the process died by itself (or was killed)
                job.future.set_exception(
                    WorkerLost(f'the local worker process {slot.name} died while running the node ({value}); '
                               'another process took its place', slot.name)
                )  # fmt: skip
            self._fill()
            self._dispatch()
            return
        slot.job = None
        if not job.future.done():
            if kind == 'ok':
                job.future.set_result((slot.name, value))
            else:
                job.future.set_exception(value)
        self._dispatch()


def _serve(slot: _Slot, loop: asyncio.AbstractEventLoop, pool: LocalProcessPool) -> None:
    """A slot's thread: send each job, wait for the answer (pickling and the wait stay off the event loop), and
    report both to the loop, in that order."""

    def report(callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: flowmon has stopped
            loop.call_soon_threadsafe(callback, *args)

    while True:
        job = slot.inbox.get()
        if job is None:
            return
        try:
            slot.conn.send(job.task)
        except (OSError, EOFError):  # the process died while it had nothing to do
            reply: tuple[str, Any] = ('gone', None)
        except Exception as exc:  # the task does not pickle: nothing was sent, the process is fine
            reply = ('error', WorkerError(f'the node could not be sent to a worker: {type(exc).__name__}: {exc}'))
        else:
            report(pool._announce, slot, job)
            try:
                reply = slot.conn.recv()
            except (OSError, EOFError):
                reply = ('died', _exit_status(slot.process))
            except Exception as exc:  # an answer that does not unpickle here
                reply = ('error', WorkerError(f'the worker answer could not be read: {type(exc).__name__}: {exc}'))
        report(pool._finished, slot, job, reply)
        if reply[0] in ('died', 'gone'):
            with contextlib.suppress(OSError):
                slot.conn.close()
            return


def _exit_status(process: BaseProcess) -> str:
    process.join(JOIN_SECONDS)
    code = process.exitcode
    if code is None:
        return 'its pipe closed'
    if code < 0:
        with contextlib.suppress(ValueError):
            return f'killed by {signal.Signals(-code).name}'
    return f'exit code {code}'


def _kill(process: BaseProcess) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        process.kill()


def _reap(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.join(JOIN_SECONDS)


def _child_main(conn: Connection) -> None:
    """A worker process: run each task it is sent, answer ``('ok', output)`` or ``('error', exception)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: flowmon stops us itself
    with contextlib.suppress(OSError):  # node work yields the CPU to flowmon's own process (pages, API, events)
        os.nice(WORKER_NICENESS)
    name = f'local:{os.getpid()}'
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # flowmon is gone
        except Exception as exc:  # e.g. the node type's module is not importable here
            _answer(conn, ('error', WorkerError(f'the worker could not load the node: {type(exc).__name__}: {exc}')))
            continue
        try:
            _, output = run_task(task, name)
        except (NodeError, WorkerError) as exc:
            _answer(conn, ('error', exc))
        else:
            _answer(conn, ('ok', output))


def _answer(conn: Connection, reply: tuple[str, Any]) -> None:
    try:
        conn.send(reply)
    except (EOFError, OSError):
        raise SystemExit(0) from None  # flowmon is gone
    except Exception as exc:  # an answer that does not pickle
        conn.send(('error', WorkerError(f'the worker could not send its answer: {type(exc).__name__}: {exc}')))


__all__ = ['LocalProcessPool', 'default_processes']
