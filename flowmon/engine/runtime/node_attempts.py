"""The run of one node of an execution: its attempts, with the retry policy's delays between them and the node's
timeout on each; the node's work on the loop (through the executor) or on a worker (announced when a worker takes
it); the values of the secrets its config names; and the settling of its output (made JSON-compatible, redacted,
held to the payload budget and encoded once).

:class:`NodeAttempts` is the base of :class:`~flowmon.engine.runtime.execution.ExecutionRun`, which walks the
execution's graph and starts each node it decides to run here (:meth:`NodeAttempts._run_node`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from flowmon.engine.core.events import EventType
from flowmon.engine.core.payload import encode_compact, json_string
from flowmon.engine.core.payload_values import (
    MAX_ERROR_CHARS,
    MAX_TRACEBACK_CHARS,
    PayloadError,
    PayloadInvalid,
    bounded_text,
)
from flowmon.engine.model import describe_config_error
from flowmon.engine.nodes.base import NodeConfig, NodeContext, NodeError, NodeType
from flowmon.engine.runtime.executor import LocalExecutor, WorkerError, WorkerLost, WorkerPool, WorkerTask
from flowmon.engine.runtime.secret_refs import RedactingLogger, SecretMissing, redact, redact_text, resolved_config

if TYPE_CHECKING:
    from flowmon.engine.runtime.scheduler import Engine, ExecutionRequest


def _node_logger(ctx: NodeContext) -> logging.Logger:
    log = ctx.log
    return log if isinstance(log, logging.Logger) else log.logger


@dataclass(slots=True, eq=False, repr=False)
class _WorkerStart:
    """The ``node.started`` of one attempt of a worker node, raised once: when a worker takes the task (the pool
    calls :meth:`announce` on the loop), or by the engine when the attempt ends first (:meth:`ensure`). Once the
    attempt's wait is over a late announcement is ignored, so no ``node.started`` follows the attempt's end."""

    run_: NodeAttempts
    node_id: str
    attempt: int
    node_input: dict[str, Any]
    input_json: str
    emitted: bool = False
    open: bool = True

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


class NodeAttempts:
    """The running of one execution's nodes, one attempt after another (the base of ``ExecutionRun``).

    Every node output is encoded once (:meth:`_settle_output`: to hold it to the budget and to size
    ``data.flow``); the events that carry it are built around that text (``Event.data_json``), so no one
    downstream encodes the payload again.
    """

    def __init__(self, engine: Engine, request: ExecutionRequest) -> None:
        self.engine = engine
        self.request = request
        self.workflow = request.workflow
        self.emit = request.emitter.emit
        self.encoded: dict[str, str] = {}  # each output as compact JSON, encoded once by _settle_output

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
            message = describe_config_error(exc, spec, self.engine.registry) + ' (with the values of its secrets)'
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
