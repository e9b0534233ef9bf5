"""The asyncio engine: admission, parallel branches, retries, timeouts, cancel and rerun.

The engine raises every event of an execution, in order, with ``seq`` 1, 2, 3, ... on the bus. It keeps
no history of its own: whoever needs state folds the events (see :mod:`flowmon.engine.core.state`).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import json
import logging
import random
import secrets
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from flowmon.engine.core import log_context
from flowmon.engine.core.events import EventType, new_event
from flowmon.engine.core.payload import (
    MAX_ERROR_CHARS,
    MAX_TRACEBACK_CHARS,
    PayloadBudget,
    PayloadError,
    PayloadInvalid,
    bounded_text,
    encode_compact,
    json_object,
    json_string,
)
from flowmon.engine.core.provenance import rerun_trigger
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.model import EdgeSpec, Workflow, describe_config_error
from flowmon.engine.nodes.base import NodeConfig, NodeContext, NodeError, NodeRegistry, NodeType
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.clock import Clock, SystemClock, event_stamps
from flowmon.engine.runtime.executor import (
    LocalExecutor,
    NodeExecutor,
    WorkerError,
    WorkerLost,
    WorkerPool,
    WorkerTask,
)
from flowmon.engine.runtime.secret_refs import (
    RedactingLogger,
    SecretMissing,
    SecretResolver,
    redact,
    redact_text,
    resolved_config,
)

log = logging.getLogger(__name__)

_utc_now = event_stamps()  # one for the process: timestamps order the events of every execution

_FINAL_NODE_STATUSES = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})


def _node_logger(ctx: NodeContext) -> logging.Logger:
    log = ctx.log
    return log if isinstance(log, logging.Logger) else log.logger


# Keeps a workflow definition once per content hash: ``keep(hash, definition)``, called before the
# ``execution.queued`` event that names the hash is published (the recorder writes both in one transaction).
SnapshotSink = Callable[[str, Mapping[str, Any]], None]


def new_execution_id() -> str:
    """A time-ordered id: sorts by creation time, unique without coordination."""
    return f'{time.time_ns() // 1_000_000:011x}{secrets.token_hex(5)}'


class RerunError(ValueError):
    """A rerun request that cannot be honoured (for example an unknown ``from_node``)."""


@dataclass(kw_only=True)
class _Request:
    id: str
    workflow: Workflow
    input: Any
    input_json: str  # ``input`` as compact JSON (encoded once, when the budget checked it)
    priority: int
    reused: Mapping[str, Any] = field(default_factory=dict)
    emitter: _Emitter
    cancelled: bool = False


class _Emitter:
    """Stamps and publishes one execution's events with gap-free ``seq`` numbers."""

    def __init__(self, execution_id: str, bus: EventBus, clock: Clock) -> None:
        self.execution_id = execution_id
        self._publish = bus.publish  # bound once: emit runs for every event of every execution
        # the system clock's events take the process's strictly increasing stamps, called straight for every event
        self._now = _utc_now if type(clock) is SystemClock else clock.now
        self._seq = 0

    def emit(
        self,
        event_type: EventType,
        node_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        data_json: str | None = None,
    ) -> None:
        """Publish the next event; ``data_json``, when given, is ``data`` as compact JSON (see :class:`Event`)."""
        self._seq += 1
        self._publish(
            new_event(
                self.execution_id, self._seq, event_type, self._now(), node_id, {} if data is None else data, data_json
            )
        )


class _WorkerStart:
    """The ``node.started`` of one attempt of a worker node, raised once: when a worker takes the task (the pool
    calls :meth:`announce` on the loop), or by the engine when the attempt ends first (:meth:`ensure`). Once the
    attempt's wait is over a late announcement is ignored, so no ``node.started`` follows the attempt's end."""

    __slots__ = ('attempt', 'emitted', 'input_json', 'node_id', 'node_input', 'open', 'run_')

    def __init__(
        self, run: _ExecutionRun, node_id: str, attempt: int, node_input: dict[str, Any], input_json: str
    ) -> None:
        self.run_ = run
        self.node_id = node_id
        self.attempt = attempt
        self.node_input = node_input
        self.input_json = input_json
        self.emitted = False
        self.open = True

    def announce(self, worker: str) -> None:
        if self.open:
            self.ensure(worker)

    def ensure(self, worker: str | None) -> None:
        if not self.emitted:
            self.emitted = True
            self.run_._emit_worker_started(self.node_id, self.attempt, self.node_input, self.input_json, worker)

    async def run(
        self, workers: WorkerPool, node_type: NodeType, config: NodeConfig, ctx: NodeContext
    ) -> tuple[str, Any]:
        """Run the attempt on ``workers``; returns ``(worker, output)``."""
        task = WorkerTask(
            key=f'{ctx.execution_id}-{self.node_id}-{self.attempt}',
            node_type=node_type,
            config=config,
            input=self.node_input,
            execution_id=ctx.execution_id,
            node_id=self.node_id,
            attempt=self.attempt,
            budget=ctx.budget,
            secret_values=ctx.secret_values,
        )
        try:
            return await workers.run(task, self.announce)
        finally:
            self.open = False


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
        self._queue: list[tuple[int, int, _Request]] = []
        self._counter = itertools.count()
        self._queued: dict[str, _Request] = {}
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
        emitter = _Emitter(execution_id, self.bus, self.clock)
        request = _Request(
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
                raise RerunError(f'from_node {from_node!r} is not a node of workflow {workflow.id!r}')
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
        self._stop_reason.setdefault(execution_id, 'cancelled')
        task.cancel()
        return True

    def _let_go(self, request: _Request) -> None:
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

    def _finished(self, request: _Request, task: asyncio.Task[None]) -> None:
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

    async def _run(self, request: _Request) -> None:
        # this task and the node tasks it starts log about this execution (httpx's lines included)
        log_context.bind(execution_id=request.id, workflow_id=request.workflow.id)
        emitter = request.emitter
        run = _ExecutionRun(self, request)
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


class _ExecutionRun:
    """The scheduling of one execution's nodes.

    Every node output is encoded once (:meth:`_settle_output`: to hold it to the budget and to size
    ``data.flow``); the events that carry it are built around that text (``Event.data_json``), so no one
    downstream encodes the payload again.
    """

    def __init__(self, engine: Engine, request: _Request) -> None:
        self.engine = engine
        self.request = request
        self.workflow = request.workflow
        self.emit = request.emitter.emit
        self.status: dict[str, str] = {node_id: 'pending' for node_id in self.workflow.order}
        self.done = 0  # nodes in a final status, kept by _mark (progress without recounting every node)
        # Per node, upstream edges whose source is unfinished; at 0 the node is ready to be decided.
        self.unfinished_upstream = {node_id: len(self.workflow.incoming[node_id]) for node_id in self.workflow.order}
        self.position = {node_id: index for index, node_id in enumerate(self.workflow.order)}
        # Nodes ready to be decided, as a heap of (topological position, id): decided in workflow order.
        self.ready: list[tuple[int, str]] = [
            (self.position[node_id], node_id) for node_id, count in self.unfinished_upstream.items() if count == 0
        ]
        self.outputs: dict[str, Any] = {}
        self.encoded: dict[str, str] = {}  # each output as compact JSON, encoded once by _settle_output
        self.errors: dict[str, str] = {}
        self.blocked: set[str] = set()  # skipped because something upstream failed or was cancelled
        self.tasks: dict[str, asyncio.Task[None]] = {}  # the running nodes' tasks, by node id
        # What execute() waits on: resolved once no node runs any more (or with the error of an engine bug).
        # Each node's task does the bookkeeping of its own end (records the outcome, starts what it readied),
        # so a node's end costs no extra turn of the event loop and no waking of a coordinator.
        self.idle: asyncio.Future[None] | None = None

    async def execute(self) -> None:
        for node_id in self.workflow.order:
            if node_id in self.request.reused:
                output, encoded = self._settle_output(node_id, self.request.reused[node_id])
                self.outputs[node_id] = output
                self.emit(
                    EventType.NODE_COMPLETED,
                    node_id,
                    {'attempt': 0, 'output': output, 'reused': True},
                    f'{{"attempt":0,"output":{encoded},"reused":true}}',
                )
                self._mark(node_id, 'succeeded')
        self._schedule_ready()
        if self.tasks:
            self.idle = asyncio.get_running_loop().create_future()
            await self.idle

    async def _node(self, node_id: str, node_input: dict[str, Any], input_json: str) -> None:
        """Run one node, then record its outcome and start or skip whatever its end readied."""
        try:
            outcome, value = await self._run_node(node_id, node_input, input_json)
            del self.tasks[node_id]
            if outcome == 'succeeded':
                self.outputs[node_id] = value
            else:
                self.errors[node_id] = value
            self._mark(node_id, outcome)
            self._schedule_ready()
        except Exception as exc:  # an engine bug: execute() raises it and the execution fails visibly
            if self.idle is not None and not self.idle.done():
                self.idle.set_exception(exc)
            return
        if not self.tasks and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    def finish(self) -> None:
        failed = [node_id for node_id in self.workflow.order if self.status[node_id] == 'failed']
        if failed:
            first = failed[0]
            error = bounded_text(f'node {first!r} failed: {self.errors.get(first)}', MAX_ERROR_CHARS)
            self.emit(EventType.EXECUTION_FAILED, data={'error': error, 'failed_nodes': failed})
            return
        sinks = [node_id for node_id in self.workflow.order if not self.workflow.outgoing[node_id]]
        present = [node_id for node_id in sinks if node_id in self.outputs]
        output = {node_id: self.outputs[node_id] for node_id in present}
        output_json = json_object([(node_id, self.encoded[node_id]) for node_id in present])
        self.emit(EventType.EXECUTION_COMPLETED, None, {'output': output}, f'{{"output":{output_json}}}')

    async def abort(self, reason: str) -> None:
        """Stop every running node and mark all unfinished nodes cancelled."""
        tasks = list(self.tasks.values())  # (a node that finished has recorded its outcome and left this)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        for node_id in self.workflow.order:
            if self.status[node_id] in ('pending', 'running'):
                self.emit(EventType.NODE_CANCELLED, node_id, {'reason': reason})
                self.status[node_id] = 'cancelled'

    # --- scheduling -----------------------------------------------------------------------------------

    def _mark(self, node_id: str, status: str) -> None:
        """Record a node's final status, emit progress and queue the nodes it was the last to hold back."""
        was_final = self.status[node_id] in _FINAL_NODE_STATUSES
        self.status[node_id] = status
        if status in _FINAL_NODE_STATUSES and not was_final:
            self.done += 1
            for edge in self.workflow.outgoing[node_id]:
                self.unfinished_upstream[edge.target] -= 1
                if self.unfinished_upstream[edge.target] == 0:
                    heapq.heappush(self.ready, (self.position[edge.target], edge.target))
        done, total = self.done, len(self.status)
        self.emit(
            EventType.EXECUTION_PROGRESS, None, {'done': done, 'total': total}, f'{{"done":{done},"total":{total}}}'
        )

    def _schedule_ready(self) -> None:
        """Start or skip every pending node whose upstream has finished, in topological order.

        A skip finishes a node, which may ready nodes downstream; they sort after it and are decided in
        the same call, so one call leaves no decidable node pending.
        """
        ready = self.ready
        while ready:
            _, node_id = heapq.heappop(ready)
            if self.status[node_id] != 'pending':  # a reused node, finished before scheduling began
                continue
            decision = self._decide(node_id)
            if decision is None:
                continue
            action, detail = decision
            if action == 'skip':
                self.emit(EventType.NODE_SKIPPED, node_id, {'reason': detail})
                self._mark(node_id, 'skipped')
            else:
                self._start(node_id, detail)

    def _decide(self, node_id: str) -> tuple[str, Any] | None:
        """None while upstream is unfinished; else ('skip', reason) or ('run', active sources)."""
        incoming = self.workflow.incoming[node_id]
        if not incoming:
            return ('run', [])
        status, blocked = self.status, self.blocked
        broken: str | None = None  # the first source that failed or was cancelled
        skipped_after_failure: str | None = None  # the first source skipped because of a failure upstream
        succeeded: str | None = None  # the first source that succeeded
        active: list[str] = []  # the sources that succeeded along an edge that is taken
        for edge in incoming:  # one pass (a node with many inputs is decided once, when its last one ends)
            source = edge.source
            source_status = status[source]
            if source_status == 'pending' or source_status == 'running':
                return None
            if source_status == 'failed' or source_status == 'cancelled':
                broken = broken or source
            elif source in blocked:
                skipped_after_failure = skipped_after_failure or source
            elif source_status == 'succeeded':
                succeeded = succeeded or source
                if self._taken(edge):
                    active.append(source)
        if broken is not None:
            blocked.add(node_id)
            return ('skip', f'upstream {broken!r} {status[broken]}')
        if skipped_after_failure is not None:  # a failure propagates through skipped nodes; an untaken branch not
            blocked.add(node_id)
            return ('skip', f'upstream {skipped_after_failure!r} skipped after a failure')
        if not active:
            reason = f'branch not taken at {succeeded!r}' if succeeded is not None else 'no upstream node ran'
            return ('skip', reason)
        return ('run', active)

    def _taken(self, edge: EdgeSpec) -> bool:
        if edge.when is None:
            return True
        output = self.outputs.get(edge.source)
        result = bool(output.get('result')) if isinstance(output, Mapping) else bool(output)
        return result is edge.when

    def _start(self, node_id: str, sources: list[str]) -> None:
        node_input: dict[str, Any] = {'input': self.request.input}
        members: dict[str, str] = {'input': self.request.input_json}  # node_input's members, encoded
        target = json_string(node_id)
        emit, outputs, encoded = self.emit, self.outputs, self.encoded
        for source in sources:
            node_input[source] = outputs[source]
            output_json = members[source] = encoded[source]
            size = len(output_json)
            emit(
                EventType.DATA_FLOW,
                source,
                {'target': node_id, 'bytes': size},
                f'{{"target":{target},"bytes":{size}}}',
            )
        self.status[node_id] = 'running'
        self.tasks[node_id] = asyncio.get_running_loop().create_task(
            self._node(node_id, node_input, json_object(members.items())), name=f'node {node_id}'
        )

    async def _run_node(self, node_id: str, node_input: dict[str, Any], input_json: str) -> tuple[str, Any]:
        engine = self.engine
        bus = engine.bus
        plan = self.workflow.run_plans[node_id]
        node_type = engine.registry.get(plan.type)
        config, names, policy, timeout = plan.config, plan.secrets, plan.retry, plan.timeout_seconds
        local = type(engine.executor) is LocalExecutor  # run the work directly: no executor frame in between
        workers = engine.workers if node_type.runs_on == 'worker' else None
        attempt = 0
        while True:
            attempt += 1
            if bus.under_pressure():
                await bus.wait_ready()
            start = None if workers is None else _WorkerStart(self, node_id, attempt, node_input, input_json)
            if start is None:  # (a worker node's is raised when a worker takes the task: _WorkerStart)
                if attempt == 1:
                    self.emit(
                        EventType.NODE_STARTED,
                        node_id,
                        {'attempt': 1, 'input': node_input},
                        f'{{"attempt":1,"input":{input_json}}}',
                    )
                else:
                    self.emit(EventType.NODE_STARTED, node_id, {'attempt': attempt}, f'{{"attempt":{attempt}}}')
            ctx = NodeContext(
                execution_id=self.request.id,
                node_id=node_id,
                attempt=attempt,
                http=engine.http,
                budget=engine.budget,
                clock=engine.clock,
            )
            hidden: tuple[str, ...] = ()  # resolved secret values: never in an event
            trace: str | None = None
            worker: str | None = None
            try:
                if names or timeout is not None or start is not None:
                    async with asyncio.timeout(timeout):
                        if names:
                            config, hidden = await self._with_secrets(node_id, names)
                            ctx.secret_values, ctx.log = hidden, RedactingLogger(_node_logger(ctx), hidden)
                        if start is not None and workers is not None:
                            worker, output = await start.run(workers, node_type, config, ctx)
                        else:
                            output = await engine.executor.execute(node_type, config, node_input, ctx)
                elif local:  # what LocalExecutor.execute does, without its frame in between
                    output = await node_type.run(config, node_input, ctx)
                else:
                    output = await engine.executor.execute(node_type, config, node_input, ctx)
            except TimeoutError:
                error = f'timed out after {timeout:g}s'
            except NodeError as exc:
                error = str(exc)
                if isinstance(exc, WorkerLost):
                    worker = exc.worker  # the attempt ran there, though its announcement may never have come
            except WorkerError as exc:  # an unexpected exception on a worker: its text and traceback
                error, trace = exc.error, exc.traceback
            except Exception as exc:
                error = f'{type(exc).__name__}: {exc}'
                trace = bounded_text(traceback.format_exc(limit=20), MAX_TRACEBACK_CHARS)
            else:
                try:
                    output, encoded = self._settle_output(node_id, output, hidden, checked=True)
                except PayloadError as exc:  # over the payload budget: this attempt failed
                    error = str(exc)
                else:
                    if start is None:
                        self.emit(
                            EventType.NODE_COMPLETED,
                            node_id,
                            {'attempt': attempt, 'output': output},
                            f'{{"attempt":{attempt},"output":{encoded}}}',
                        )
                    else:
                        start.ensure(worker)
                        where = 'null' if worker is None else json_string(worker)
                        self.emit(
                            EventType.NODE_COMPLETED,
                            node_id,
                            {'attempt': attempt, 'output': output, 'worker': worker},
                            f'{{"attempt":{attempt},"output":{encoded},"worker":{where}}}',
                        )
                    return ('succeeded', output)
            if start is not None:
                start.ensure(worker)  # an attempt that ended before a worker took it (or said so) started all the same
            if hidden:
                error = redact_text(error, hidden)
                trace = None if trace is None else redact_text(trace, hidden)
            error = bounded_text(error, MAX_ERROR_CHARS)
            if policy.allows_another(attempt):
                delay = round(policy.delay_after(attempt, engine.rand), 3)
                self.emit(
                    EventType.NODE_RETRYING,
                    node_id,
                    {'attempt': attempt, 'error': error, 'traceback': trace, 'delay_seconds': delay},
                )
                await engine.clock.sleep(delay)
                continue
            self.emit(EventType.NODE_FAILED, node_id, {'attempt': attempt, 'error': error, 'traceback': trace})
            return ('failed', error)

    def _emit_worker_started(
        self, node_id: str, attempt: int, node_input: dict[str, Any], input_json: str, worker: str | None
    ) -> None:
        """A worker node's ``node.started``: names the worker (or null); the first attempt's carries the input."""
        where = 'null' if worker is None else json_string(worker)
        if attempt == 1:
            data: dict[str, Any] = {'attempt': 1, 'input': node_input, 'worker': worker}
            text = f'{{"attempt":1,"input":{input_json},"worker":{where}}}'
        else:
            data, text = {'attempt': attempt, 'worker': worker}, f'{{"attempt":{attempt},"worker":{where}}}'
        self.emit(EventType.NODE_STARTED, node_id, data, text)

    async def _with_secrets(self, node_id: str, names: frozenset[str]) -> tuple[NodeConfig, tuple[str, ...]]:
        """The node's config built with the current values of the secrets it names, and those values."""
        resolver = self.engine.secrets
        if resolver is None:
            raise NodeError(f'the config names secrets ({", ".join(sorted(names))}) but no secret store is configured')
        try:
            values = await resolver(names)
        except SecretMissing as exc:
            raise NodeError(str(exc)) from None
        hidden = tuple(value for value in values.values() if value)
        spec = self.workflow.node(node_id)
        try:
            config = self.engine.registry.parse_config(spec.type, resolved_config(spec.config, values))
        except ValidationError as exc:
            message = describe_config_error(exc, spec) + ' (with the values of its secrets)'
            raise NodeError(redact_text(message, hidden)) from None
        return config, hidden

    def _settle_output(
        self, node_id: str, output: Any, hidden: tuple[str, ...] = (), *, checked: bool = False
    ) -> tuple[Any, str]:
        """Make the output JSON-compatible (with secret values replaced by ``***``) and encode it, once: the
        encoding sizes data.flow events and is the text every event carrying the output is built around.
        Returns the output and its compact JSON. A redacted output is what flows on: a secret's value never
        leaves the node.

        ``checked``: hold it to the payload budget (depth, 64-bit integers and shared structure before it is
        encoded, then the length of the one encoding); raises :class:`PayloadError` naming the limit.
        A reused output (a rerun) was checked when it was produced.
        """
        budget = self.engine.budget
        if checked:
            budget.measure(output, 'output')
        try:
            encoded = encode_compact(output)
        except PayloadError:
            try:
                encoded = encode_compact(output, lenient=True)  # dates and the like become strings
            except PayloadError as exc:
                raise PayloadInvalid(f'output {exc}') from None
            output = json.loads(encoded)
            encoded = encode_compact(output)  # the text of the value that flows on
        if hidden:  # (not a substring test on ``encoded``: JSON escapes some characters of a value)
            output = redact(output, hidden)
            encoded = encode_compact(output)
        if checked:
            budget.check_size(len(encoded), 'output')
        self.encoded[node_id] = encoded
        return output, encoded
