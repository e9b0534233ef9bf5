"""Worker nodes on a Dask distributed cluster (``FLOWMON_DASK_SCHEDULER=tcp://host:8786``).

flowmon keeps one asynchronous :class:`distributed.Client` on its event loop. Each attempt of a worker node is one
Dask task, submitted impure under the key ``<execution>-<node>-<attempt>`` (equal inputs run each time), with the
node type, its config and its input as the task's data; the worker runs :func:`run_on_dask`, which announces
itself (``log_event`` on the topic ``flowmon.started``, which the client subscribes to: ``node.started`` names the
worker as it starts) and returns ``(worker address, output)``.

What the cluster's failures become (each fails the attempt with an error that says so; the node's retry policy
decides whether it runs again):

- unreachable scheduler: the client is (re)connected lazily, each try bounded by ``connect_timeout``; a node meanwhile
  fails with ``the Dask scheduler at ... is unreachable``. Tasks are submitted only while the client is
  ``running`` (a submit to a client that is reconnecting would hang for its whole timeout);
- scheduler lost while a task runs: its future fails at once (``scheduler-connection-lost``);
- worker lost while it runs the task: ``KilledWorker``, at the first death only when the scheduler runs with
  ``distributed.scheduler.allowed-failures`` 0 (with the default 3 the scheduler would quietly run the node again
  on other workers, up to three times: set ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0``).

Cancel and timeout cancel the future (in the background, bounded): Dask cannot stop a task that is computing, so it
may run to its end on the worker, and its result is dropped.

The workers need flowmon (this module is the task's entry point) and every package whose node types or functions
their tasks use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import CancelledError as FuturesCancelledError
from typing import Any

from distributed import Client, get_worker
from distributed.scheduler import KilledWorker

from flowmon.engine.nodes.base import NodeError
from flowmon.engine.runtime.executor import WorkerLost, WorkerTask, run_task

log = logging.getLogger(__name__)

STARTED_TOPIC = 'flowmon.started'
CONNECT_SECONDS = 5.0  # one try at reaching the scheduler
CLOSE_SECONDS = 5.0  # closing a client, cancelling a future: never waited on longer


def run_on_dask(task: WorkerTask) -> tuple[str, Any]:
    """The Dask task of a worker node's attempt (runs in a worker's thread): announce, run, return."""
    worker = get_worker()
    with contextlib.suppress(Exception):  # the announcement is a courtesy: the result names the worker anyway
        worker.log_event(STARTED_TOPIC, {'key': task.key, 'worker': worker.address})
    return run_task(task, worker.address)


class DaskWorkers:
    """A :class:`~flowmon.engine.runtime.executor.WorkerPool` on the Dask cluster whose scheduler is ``address``."""

    def __init__(self, address: str, *, connect_timeout: float = CONNECT_SECONDS) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._connecting: asyncio.Task[Client] | None = None
        self._announce: dict[str, Callable[[str], None]] = {}  # task key -> its attempt's started callback
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Start connecting, in the background (start-up does not wait for the cluster): a scheduler that does
        not answer is logged, and connected to when a worker node runs."""
        self._stopping = False
        task = asyncio.get_running_loop().create_task(self._first_connect(), name='connect to Dask')
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _first_connect(self) -> None:
        try:
            await self._connected()
        except NodeError as exc:
            log.warning('%s; flowmon connects again when a worker node runs', exc)

    async def stop(self) -> None:
        self._stopping = True
        if self._connecting is not None:
            self._connecting.cancel()
        client, self._client = self._client, None
        if client is not None:
            await _bounded(client.close(), CLOSE_SECONDS)
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    async def workers(self) -> list[str]:
        """The addresses of the cluster's workers now (for diagnostics and tests)."""
        scheduler = (await self._connected()).scheduler
        if scheduler is None:
            return []
        identity = await asyncio.wait_for(scheduler.identity(n_workers=-1), CLOSE_SECONDS)
        return sorted(identity.get('workers', {}))

    async def run(self, task: WorkerTask, started: Callable[[str], None]) -> tuple[str, Any]:
        client = await self._connected()
        self._announce[task.key] = started
        try:
            try:
                future = client.submit(run_on_dask, task, key=task.key, pure=False)
            except Exception as exc:
                raise NodeError(
                    f'could not submit the node to the Dask scheduler at {self.address}: {type(exc).__name__}: {exc}'
                ) from None
            try:
                return await future
            except asyncio.CancelledError:  # cancel or timeout: stop it on the cluster if it has not started
                self._later(future.cancel(reason='flowmon: the node attempt was cancelled or timed out'))
                raise
            except KilledWorker as exc:
                worker = _last_worker(exc)
                message = f'the Dask worker {worker or "(unknown)"} died while running the node'
                raise WorkerLost(f'{message} (a retry runs on another worker)', worker) from None
            except FuturesCancelledError as exc:  # FutureCancelledError: not by us (we stop awaiting first)
                reason = getattr(exc, 'reason', 'unknown')
                if reason == 'scheduler-connection-lost':
                    raise WorkerLost(f'lost the connection to the Dask scheduler at {self.address}') from None
                raise NodeError(f'the Dask scheduler at {self.address} cancelled the task ({reason})') from None
            except OSError as exc:  # the comm closed under us
                raise WorkerLost(f'lost the connection to the Dask scheduler at {self.address}: {exc}') from None
        finally:
            self._announce.pop(task.key, None)

    # --- the client -------------------------------------------------------------------------------------------

    async def _connected(self) -> Client:
        """The running client, made (once at a time) if there is none or the one there stopped running."""
        if self._stopping:
            raise NodeError('flowmon is stopping')
        client = self._client
        if client is not None and client.status == 'running':
            return client
        if self._connecting is None:
            if client is not None:  # reconnecting or closed: replace it (it may retry for a long time)
                self._client = None
                self._later(client.close())
            self._connecting = asyncio.get_running_loop().create_task(self._connect(), name='connect to Dask')
            self._connecting.add_done_callback(self._connected_done)
        try:
            return await asyncio.shield(self._connecting)
        except NodeError as exc:
            raise NodeError(str(exc)) from None  # a fresh exception per waiter

    def _connected_done(self, task: asyncio.Task[Client]) -> None:
        self._connecting = None
        if not task.cancelled() and task.exception() is None:
            self._client = task.result()

    async def _connect(self) -> Client:
        try:
            client = await asyncio.wait_for(
                Client(self.address, asynchronous=True, timeout=self.connect_timeout, set_as_default=False),
                self.connect_timeout + 1,
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise NodeError(
                f'the Dask scheduler at {self.address} is unreachable: {type(exc).__name__}: {exc}'
            ) from None
        client.subscribe_topic(STARTED_TOPIC, self._on_started)
        log.info('connected to the Dask scheduler at %s', self.address)
        return client

    def _on_started(self, event: tuple[float, Any]) -> None:
        _, message = event
        if isinstance(message, dict):
            announce = self._announce.get(message.get('key', ''))
            if announce is not None:
                announce(str(message.get('worker')))

    def _later(self, awaitable: Any) -> None:
        """Run ``awaitable`` in the background, bounded, kept referenced until it ends."""
        task = asyncio.get_running_loop().create_task(_bounded(awaitable, CLOSE_SECONDS))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _bounded(awaitable: Any, seconds: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(awaitable, seconds)


def _last_worker(exc: KilledWorker) -> str | None:
    with contextlib.suppress(Exception):
        return str(exc.last_worker.address)
    return None


__all__ = ['STARTED_TOPIC', 'DaskWorkers', 'run_on_dask']
