"""The asyncio engine: admission of executions (submit, rerun, cancel), the queue by priority then FIFO, the limit
on concurrent executions, and the end of all of them on shutdown.

The engine raises every event of an execution, in order, with ``seq`` 1, 2, 3, ... on the bus. It keeps
no history of its own: whoever needs state folds the events (see :mod:`flowmon.engine.core.reducer`). Each
admitted execution runs in a task of its own (:meth:`Engine._run`: the execution's timeout, cancel and
interruption); its nodes are scheduled by :class:`~flowmon.engine.runtime.execution.ExecutionRun` (parallel
branches) and each node's attempts run by :class:`~flowmon.engine.runtime.node_attempts.NodeAttempts` (retries,
timeouts, workers, secrets); :class:`~flowmon.engine.runtime.emitter.Emitter` numbers and publishes the events.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from flowmon.engine.core import log_context
from flowmon.engine.core.events import EventType
from flowmon.engine.core.inputs import located
from flowmon.engine.core.payload import PayloadBudget, encode_compact, json_object, json_string
from flowmon.engine.core.payload_values import MAX_ERROR_CHARS, bounded_text
from flowmon.engine.core.provenance import rerun_trigger
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.model import Workflow
from flowmon.engine.nodes.base import NodeRegistry
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.clock import Clock, SystemClock
from flowmon.engine.runtime.emitter import Emitter
from flowmon.engine.runtime.execution import ExecutionRun
from flowmon.engine.runtime.executor import LocalExecutor, NodeExecutor, WorkerPool
from flowmon.engine.runtime.secret_refs import SecretResolver

log = logging.getLogger(__name__)


# Keeps a workflow definition once per content hash: ``keep(hash, definition)``, called before the
# ``execution.queued`` event that names the hash is published (the recorder writes both in one transaction).
SnapshotSink = Callable[[str, Mapping[str, Any]], None]


def new_execution_id() -> str:
    """A time-ordered id: sorts by creation time, unique without coordination."""
    return f'{time.time_ns() // 1_000_000:011x}{secrets.token_hex(5)}'


class RerunError(ValueError):
    """A rerun request that cannot be honoured (for example an unknown ``from_node``)."""


@dataclass(kw_only=True)
class ExecutionRequest:
    """An execution :meth:`Engine.submit` took: it waits in the queue for a slot, then runs (``ExecutionRun``)."""

    id: str
    workflow: Workflow
    input: Any
    input_json: str  # ``input`` as compact JSON (encoded once, when the budget checked it)
    priority: int
    reused: Mapping[str, Any] = field(default_factory=dict)
    emitter: Emitter
    cancelled: bool = False


class QueueFull(RuntimeError):
    """:meth:`Engine.submit` refused: ``max_queued`` executions are already waiting for a slot."""


class Engine:
    """Runs workflows. At most ``max_concurrent`` executions run; the rest wait, by priority then FIFO, at most
    ``max_queued`` of them (None: no limit): beyond that :meth:`submit` raises :class:`QueueFull`.

    Execution inputs and node outputs are held to ``budget`` (:class:`PayloadBudget`): an input over it is
    refused by :meth:`submit` (:class:`PayloadError`), a node whose output is over it fails the attempt.

    The work of node types that run on a worker (``runs_on = 'worker'``) goes to ``workers`` (without one, it
    runs through ``executor`` like any other). For such a node, ``node.started`` is raised when a worker takes
    the task, and names it (``"worker"``); an attempt that ends before any worker took it (a timeout while
    queued, an unreachable cluster) raises ``node.started`` with ``"worker": null`` just before its
    ``node.retrying`` or ``node.failed``. ``node.completed`` names the worker too.
    """

    def __init__(
        self,
        *,
        bus: EventBus,
        registry: NodeRegistry,
        executor: NodeExecutor | None = None,
        workers: WorkerPool | None = None,
        max_concurrent: int = 8,
        max_queued: int | None = None,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        rand: Callable[[], float] = random.random,
        id_factory: Callable[[], str] = new_execution_id,
        budget: PayloadBudget | None = None,
        secrets: SecretResolver | None = None,
        snapshots: SnapshotSink | None = None,
    ) -> None:
        """``secrets`` resolves the named secrets a node's config refers to, each time such a node runs.

        ``snapshots`` keeps workflow definitions once per content hash: with it, ``execution.queued`` names the
        definition by its hash (``workflow_hash``); without it, the event carries the whole definition
        (``workflow``), as executions recorded before hashes did.
        """
        if max_concurrent < 1:
            raise ValueError('max_concurrent must be at least 1')
        self.bus = bus
        self.registry = registry
        self.executor: NodeExecutor = executor or LocalExecutor()
        self.workers = workers
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.clock: Clock = clock or SystemClock()
        self.http = http
        self.rand = rand
        self.budget = budget or PayloadBudget()
        self.secrets = secrets
        self.snapshots = snapshots
        self._new_id = id_factory
        self._queue: list[tuple[int, int, ExecutionRequest]] = []
        self._counter = itertools.count()
        self._queued: dict[str, ExecutionRequest] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stop_reason: dict[str, str] = {}
        self._stopping = False

    # --- public surface -------------------------------------------------------------------------------

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def queued_count(self) -> int:
        return len(self._queued)

    def is_active(self, execution_id: str) -> bool:
        return execution_id in self._running or execution_id in self._queued

    def submit(
        self,
        workflow: Workflow,
        input: Any = None,
        *,
        priority: int = 0,
        retry_of: str | None = None,
        from_node: str | None = None,
        reused: Mapping[str, Any] | None = None,
        execution_id: str | None = None,
        trigger: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue an execution and return its id; it starts as soon as a slot is free. ``trigger`` records how it
        was started (see :mod:`flowmon.engine.core.provenance`).

        ``execution_id``: the id to give it (made beforehand, e.g. recorded with a claimed cron tick); a new one
        otherwise. Raises :class:`PayloadError` when ``input`` is over the payload budget, :class:`QueueFull` when
        ``max_queued`` executions wait already (nothing is queued).
        """
        if self._stopping:
            raise RuntimeError('the engine is stopping')
        if execution_id is not None and self.is_active(execution_id):
            raise ValueError(f'execution {execution_id!r} is already queued or running')
        if self.max_queued is not None and len(self._queued) >= self.max_queued:
            raise QueueFull(
                f'too many executions waiting: {len(self._queued)} are queued for the {self.max_concurrent} slots, '
                'the most this process holds; try again once some have run'
            )
        input_json = '{}' if input is None else self.budget.check(input, 'the execution input')
        execution_id = execution_id or self._new_id()
        emitter = Emitter(execution_id, self.bus, self.clock)
        request = ExecutionRequest(
            id=execution_id,
            workflow=workflow,
            input={} if input is None else input,
            input_json=input_json,
            priority=priority,
            reused=dict(reused or {}),
            emitter=emitter,
        )
        definition, definition_json, nodes_json = workflow.snapshot
        snapshot, snapshot_json = self._snapshot(workflow, definition, definition_json)
        emitter.emit(
            EventType.EXECUTION_QUEUED,
            None,
            {
                'workflow_id': workflow.id,
                'input': request.input,
                'priority': priority,
                'retry_of': retry_of,
                'from_node': from_node,
                'nodes': [node.id for node in workflow.spec.nodes],
                'trigger': None if trigger is None else dict(trigger),
                **snapshot,
            },
            json_object(
                [
                    ('workflow_id', json_string(workflow.id)),
                    ('input', input_json),
                    ('priority', str(priority) if type(priority) is int else encode_compact(priority)),
                    ('retry_of', 'null' if retry_of is None else json_string(retry_of)),
                    ('from_node', 'null' if from_node is None else json_string(from_node)),
                    ('nodes', nodes_json),
                    ('trigger', 'null' if trigger is None else encode_compact(dict(trigger))),
                    snapshot_json,
                ]
            ),
        )
        self._queued[execution_id] = request
        heapq.heappush(self._queue, (-priority, next(self._counter), request))
        self._pump()
        return execution_id

    def rerun(
        self,
        previous: ExecutionState,
        workflow: Workflow,
        *,
        from_node: str | None = None,
        input: Any = None,
        priority: int = 0,
        trigger: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a new execution from ``previous`` (its trigger: ``trigger``, by default a rerun of ``previous``).

        Without ``from_node`` every node runs again. With it, that node and everything downstream run
        again and every other node that succeeded before keeps its output (flagged ``reused``).
        """
        reused: dict[str, Any] = {}
        if from_node is not None:
            if from_node not in workflow.nodes:
                unknown = RerunError(f'from_node {from_node!r} is not a node of workflow {workflow.id!r}')
                raise located(unknown, 'from_node')
            again = workflow.downstream_of(from_node)
            for node_id, node in previous.nodes.items():
                if node_id in workflow.nodes and node_id not in again and node.status == 'succeeded':
                    reused[node_id] = node.output
        return self.submit(
            workflow,
            previous.input if input is None else input,
            priority=priority,
            retry_of=previous.id,
            from_node=from_node,
            reused=reused,
            trigger=rerun_trigger(previous.id) if trigger is None else trigger,
        )

    def cancel(self, execution_id: str) -> bool:
        """Cancel a queued or running execution; False when it is not active here."""
        request = self._queued.pop(execution_id, None)
        if request is not None:
            request.cancelled = True
            request.emitter.emit(EventType.EXECUTION_CANCELLED, data={'reason': 'cancelled while queued'})
            self._let_go(request)
            return True
        task = self._running.get(execution_id)
        if task is None:
            return False
        if execution_id not in self._stop_reason:  # (a second cancel would only cut its stopping short)
            self._stop_reason[execution_id] = 'cancelled'
            task.cancel()
        return True

    def _let_go(self, request: ExecutionRequest) -> None:
        """Forget a request cancelled while queued. Its entry stays in the heap until it comes to the top (a heap
        removes from the top only), so what it holds is dropped now, and the heap is rebuilt without such entries
        once they outnumber the waiting ones: with every slot taken for hours, runs queued and cancelled again and
        again would otherwise pile up in it, each with its input, past ``max_queued``."""
        request.input, request.input_json, request.reused = None, 'null', {}
        if len(self._queue) > 2 * len(self._queued) + 16:
            self._queue = [entry for entry in self._queue if not entry[2].cancelled]
            heapq.heapify(self._queue)

    async def stop(self) -> None:
        """Interrupt everything (process shutdown): queued and running executions end ``interrupted``."""
        self._stopping = True
        await self.interrupt_all()

    def active_ids(self) -> list[str]:
        """The executions queued or running now."""
        return [*self._running, *self._queued]

    async def interrupt_all(self) -> list[str]:
        """End every queued and running execution ``interrupted`` (as :meth:`stop` does) and go on taking new ones:
        this process lost its claim on them (another process took over). Returns their ids."""
        interrupted = list(self._queued)
        for request in list(self._queued.values()):
            request.cancelled = True
            request.emitter.emit(EventType.EXECUTION_INTERRUPTED, data={'reason': 'flowmon stopped'})
        self._queued.clear()
        self._queue.clear()
        tasks = list(self._running.items())
        for execution_id, task in tasks:
            self._stop_reason[execution_id] = 'interrupted'
            task.cancel()
            interrupted.append(execution_id)
        if tasks:
            await asyncio.gather(*(task for _, task in tasks), return_exceptions=True)
        return interrupted

    def _snapshot(
        self, workflow: Workflow, definition: Mapping[str, Any], definition_json: str
    ) -> tuple[dict[str, Any], tuple[str, str]]:
        """What ``execution.queued`` says of the definition (as data, and as its encoded member): its hash, once
        the sink keeps it; else all of it."""
        if self.snapshots is None:
            return {'workflow': definition}, ('workflow', definition_json)
        digest = workflow.definition_hash
        self.snapshots(digest, workflow.definition())
        return {'workflow_hash': digest}, ('workflow_hash', json_string(digest))

    async def wait_idle(self) -> None:
        """Wait until nothing is queued or running (tests and benchmarks)."""
        while self._running or self._queued:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
            await asyncio.sleep(0)

    # --- admission ------------------------------------------------------------------------------------

    def _pump(self) -> None:
        while len(self._running) < self.max_concurrent and self._queue:
            _, _, request = heapq.heappop(self._queue)
            if request.cancelled:
                continue
            del self._queued[request.id]
            task = asyncio.get_running_loop().create_task(self._run(request), name=f'execution {request.id}')
            self._running[request.id] = task
            task.add_done_callback(functools.partial(self._finished, request))

    def _finished(self, request: ExecutionRequest, task: asyncio.Task[None]) -> None:
        execution_id = request.id
        if task.cancelled():  # cancelled before _run took its first step: it emitted no terminal event
            if self._stop_reason.get(execution_id) == 'interrupted':
                request.emitter.emit(EventType.EXECUTION_INTERRUPTED, data={'reason': 'flowmon stopped'})
            else:
                request.emitter.emit(EventType.EXECUTION_CANCELLED, data={'reason': 'cancelled by user'})
        self._running.pop(execution_id, None)
        self._stop_reason.pop(execution_id, None)
        if not self._stopping:
            self._pump()

    async def _run(self, request: ExecutionRequest) -> None:
        # this task and the node tasks it starts log about this execution (httpx's lines included)
        log_context.bind(execution_id=request.id, workflow_id=request.workflow.id)
        emitter = request.emitter
        run = ExecutionRun(self, request)
        emitter.emit(EventType.EXECUTION_STARTED)
        timeout = request.workflow.spec.timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await run.execute()
        except TimeoutError:
            await run.abort('execution timed out')
            emitter.emit(EventType.EXECUTION_FAILED, data={'error': f'execution timed out after {timeout:g}s'})
            return
        except asyncio.CancelledError:
            reason = self._stop_reason.get(request.id, 'cancelled')
            await run.abort(reason)
            if reason == 'interrupted':
                emitter.emit(EventType.EXECUTION_INTERRUPTED, data={'reason': 'flowmon stopped'})
            else:
                emitter.emit(EventType.EXECUTION_CANCELLED, data={'reason': 'cancelled by user'})
            return
        except Exception as exc:  # an engine bug must still end the execution visibly
            log.exception('execution %s crashed', request.id)
            await run.abort('engine error')
            error = bounded_text(f'internal error: {type(exc).__name__}: {exc}', MAX_ERROR_CHARS)
            emitter.emit(EventType.EXECUTION_FAILED, data={'error': error})
            return
        run.finish()
