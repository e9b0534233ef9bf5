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
from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.payload import (
    MAX_ERROR_CHARS,
    MAX_TRACEBACK_CHARS,
    PayloadBudget,
    PayloadError,
    PayloadInvalid,
    bounded_text,
    encode_compact,
)
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.model import EdgeSpec, Workflow, describe_config_error
from flowmon.engine.nodes.base import NodeConfig, NodeContext, NodeError, NodeRegistry
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.clock import Clock, SystemClock
from flowmon.engine.runtime.executor import LocalExecutor, NodeExecutor
from flowmon.engine.runtime.secret_refs import (
    RedactingLogger,
    SecretMissing,
    SecretResolver,
    redact,
    redact_text,
    resolved_config,
)

log = logging.getLogger(__name__)

_FINAL_NODE_STATUSES = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})


def _node_logger(ctx: NodeContext) -> logging.Logger:
    log = ctx.log
    return log if isinstance(log, logging.Logger) else log.logger


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
    priority: int
    reused: Mapping[str, Any] = field(default_factory=dict)
    emitter: _Emitter
    cancelled: bool = False


class _Emitter:
    """Stamps and publishes one execution's events with gap-free ``seq`` numbers."""

    def __init__(self, execution_id: str, bus: EventBus, clock: Clock) -> None:
        self.execution_id = execution_id
        self._publish = bus.publish  # bound once: emit runs for every event of every execution
        self._now = clock.now
        self._seq = 0

    def emit(self, event_type: EventType, node_id: str | None = None, data: Mapping[str, Any] | None = None) -> None:
        self._seq += 1
        self._publish(
            Event(
                execution_id=self.execution_id,
                seq=self._seq,
                type=event_type,
                ts=self._now(),
                node_id=node_id,
                data=data or {},
            )
        )


class Engine:
    """Runs workflows. At most ``max_concurrent`` executions run; the rest wait, by priority then FIFO.

    Execution inputs and node outputs are held to ``budget`` (:class:`PayloadBudget`): an input over it is
    refused by :meth:`submit` (:class:`PayloadError`), a node whose output is over it fails the attempt.
    """

    def __init__(
        self,
        *,
        bus: EventBus,
        registry: NodeRegistry,
        executor: NodeExecutor | None = None,
        max_concurrent: int = 8,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        rand: Callable[[], float] = random.random,
        id_factory: Callable[[], str] = new_execution_id,
        budget: PayloadBudget | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        """``secrets`` resolves the named secrets a node's config refers to, each time such a node runs."""
        if max_concurrent < 1:
            raise ValueError('max_concurrent must be at least 1')
        self.bus = bus
        self.registry = registry
        self.executor: NodeExecutor = executor or LocalExecutor()
        self.max_concurrent = max_concurrent
        self.clock: Clock = clock or SystemClock()
        self.http = http
        self.rand = rand
        self.budget = budget or PayloadBudget()
        self.secrets = secrets
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
    ) -> str:
        """Queue an execution and return its id; it starts as soon as a slot is free.

        Raises :class:`PayloadError` when ``input`` is over the payload budget (nothing is queued).
        """
        if self._stopping:
            raise RuntimeError('the engine is stopping')
        if input is not None:
            self.budget.check(input, 'the execution input')
        execution_id = self._new_id()
        emitter = _Emitter(execution_id, self.bus, self.clock)
        request = _Request(
            id=execution_id,
            workflow=workflow,
            input={} if input is None else input,
            priority=priority,
            reused=dict(reused or {}),
            emitter=emitter,
        )
        emitter.emit(
            EventType.EXECUTION_QUEUED,
            data={
                'workflow_id': workflow.id,
                'input': request.input,
                'priority': priority,
                'retry_of': retry_of,
                'from_node': from_node,
                'nodes': [node.id for node in workflow.spec.nodes],
                'workflow': workflow.definition(),
            },
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
    ) -> str:
        """Start a new execution from ``previous``.

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
        )

    def cancel(self, execution_id: str) -> bool:
        """Cancel a queued or running execution; False when it is not active here."""
        request = self._queued.pop(execution_id, None)
        if request is not None:
            request.cancelled = True
            request.emitter.emit(EventType.EXECUTION_CANCELLED, data={'reason': 'cancelled while queued'})
            return True
        task = self._running.get(execution_id)
        if task is None:
            return False
        self._stop_reason.setdefault(execution_id, 'cancelled')
        task.cancel()
        return True

    async def stop(self) -> None:
        """Interrupt everything (process shutdown): queued and running executions end ``interrupted``."""
        self._stopping = True
        for request in list(self._queued.values()):
            request.cancelled = True
            request.emitter.emit(EventType.EXECUTION_INTERRUPTED, data={'reason': 'flowmon stopped'})
        self._queued.clear()
        self._queue.clear()
        tasks = list(self._running.items())
        for execution_id, task in tasks:
            self._stop_reason[execution_id] = 'interrupted'
            task.cancel()
        if tasks:
            await asyncio.gather(*(task for _, task in tasks), return_exceptions=True)

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
    """The scheduling of one execution's nodes."""

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
        self.sizes: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self.blocked: set[str] = set()  # skipped because something upstream failed or was cancelled
        self.tasks: dict[asyncio.Task[tuple[str, Any]], str] = {}

    async def execute(self) -> None:
        for node_id in self.workflow.order:
            if node_id in self.request.reused:
                output = self._settle_output(node_id, self.request.reused[node_id])
                self.outputs[node_id] = output
                self.emit(EventType.NODE_COMPLETED, node_id, {'attempt': 0, 'output': output, 'reused': True})
                self._mark(node_id, 'succeeded')
        while True:
            self._schedule_ready()
            if not self.tasks:
                break
            done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                node_id = self.tasks.pop(task)
                outcome, value = task.result()
                if outcome == 'succeeded':
                    self.outputs[node_id] = value
                else:
                    self.errors[node_id] = value
                self._mark(node_id, outcome)

    def finish(self) -> None:
        failed = [node_id for node_id in self.workflow.order if self.status[node_id] == 'failed']
        if failed:
            first = failed[0]
            error = bounded_text(f'node {first!r} failed: {self.errors.get(first)}', MAX_ERROR_CHARS)
            self.emit(EventType.EXECUTION_FAILED, data={'error': error, 'failed_nodes': failed})
            return
        sinks = [node_id for node_id in self.workflow.order if not self.workflow.outgoing[node_id]]
        output = {node_id: self.outputs[node_id] for node_id in sinks if node_id in self.outputs}
        self.emit(EventType.EXECUTION_COMPLETED, data={'output': output})

    async def abort(self, reason: str) -> None:
        """Stop every running node and mark all unfinished nodes cancelled."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for task, node_id in self.tasks.items():
            if not task.cancelled() and task.exception() is None:  # finished just before the cancel
                self.status[node_id] = task.result()[0]
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
        self.emit(EventType.EXECUTION_PROGRESS, data={'done': self.done, 'total': len(self.status)})

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
        if any(self.status[edge.source] in ('pending', 'running') for edge in incoming):
            return None
        broken = [edge.source for edge in incoming if self.status[edge.source] in ('failed', 'cancelled')]
        if broken:
            self.blocked.add(node_id)
            return ('skip', f'upstream {broken[0]!r} {self.status[broken[0]]}')
        blocked = [edge.source for edge in incoming if edge.source in self.blocked]
        if blocked:  # a failure propagates through skipped nodes; an untaken branch does not
            self.blocked.add(node_id)
            return ('skip', f'upstream {blocked[0]!r} skipped after a failure')
        active = [edge.source for edge in incoming if self.status[edge.source] == 'succeeded' and self._taken(edge)]
        if not active:
            untaken = [edge.source for edge in incoming if self.status[edge.source] == 'succeeded']
            reason = f'branch not taken at {untaken[0]!r}' if untaken else 'no upstream node ran'
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
        for source in sources:
            node_input[source] = self.outputs[source]
            self.emit(EventType.DATA_FLOW, source, {'target': node_id, 'bytes': self.sizes.get(source, 0)})
        self.status[node_id] = 'running'
        task = asyncio.get_running_loop().create_task(self._run_node(node_id, node_input), name=f'node {node_id}')
        self.tasks[task] = node_id

    async def _run_node(self, node_id: str, node_input: dict[str, Any]) -> tuple[str, Any]:
        engine = self.engine
        spec = self.workflow.node(node_id)
        node_type = engine.registry.get(spec.type)
        config = self.workflow.configs[node_id]
        names = self.workflow.secrets.get(node_id)
        policy = self.workflow.retry_policy(node_id)
        attempt = 0
        while True:
            attempt += 1
            await engine.bus.wait_ready()
            started = {'attempt': attempt, 'input': node_input} if attempt == 1 else {'attempt': attempt}
            self.emit(EventType.NODE_STARTED, node_id, started)
            ctx = NodeContext(
                execution_id=self.request.id, node_id=node_id, attempt=attempt, http=engine.http, budget=engine.budget
            )
            hidden: tuple[str, ...] = ()  # resolved secret values: never in an event
            trace: str | None = None
            try:
                async with asyncio.timeout(spec.timeout_seconds):
                    if names:
                        config, hidden = await self._with_secrets(node_id, names)
                        ctx.secret_values, ctx.log = hidden, RedactingLogger(_node_logger(ctx), hidden)
                    output = await engine.executor.execute(node_type, config, node_input, ctx)
            except TimeoutError:
                error = f'timed out after {spec.timeout_seconds:g}s'
            except NodeError as exc:
                error = str(exc)
            except Exception as exc:
                error = f'{type(exc).__name__}: {exc}'
                trace = bounded_text(traceback.format_exc(limit=20), MAX_TRACEBACK_CHARS)
            else:
                try:
                    output = self._settle_output(node_id, output, hidden, checked=True)
                except PayloadError as exc:  # over the payload budget: this attempt failed
                    error = str(exc)
                else:
                    self.emit(EventType.NODE_COMPLETED, node_id, {'attempt': attempt, 'output': output})
                    return ('succeeded', output)
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

    def _settle_output(self, node_id: str, output: Any, hidden: tuple[str, ...] = (), *, checked: bool = False) -> Any:
        """Make the output JSON-compatible (with secret values replaced by ``***``) and remember its encoded size
        for data.flow events. A redacted output is what flows on: a secret's value never leaves the node.

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
        if hidden:  # (not a substring test on ``encoded``: JSON escapes some characters of a value)
            output = redact(output, hidden)
            encoded = encode_compact(output)
        if checked:
            budget.check_size(len(encoded), 'output')
        self.sizes[node_id] = len(encoded)
        return output
