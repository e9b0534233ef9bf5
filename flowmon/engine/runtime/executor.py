"""The executor seams: where a node's work actually runs.

The engine raises every event itself, in this process. It runs the work of a node type that runs on the loop
(``runs_on = 'loop'``) through a :class:`NodeExecutor` (:class:`LocalExecutor`: on the engine's event loop), and
the work of one that runs on a worker (``runs_on = 'worker'``) through a :class:`WorkerPool`, which ships a
:class:`WorkerTask` (the node type, its config and input, as data) to another process and calls
:func:`run_task` there. The pools themselves (a local process pool, a Dask cluster) live in
:mod:`flowmon.infra.workers`; the composition root picks one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.payload_values import MAX_TRACEBACK_CHARS, PayloadError, PayloadInvalid, bounded_text
from flowmon.engine.nodes.base import NodeConfig, NodeContext, NodeError, NodeType
from flowmon.engine.runtime.secret_refs import RedactingLogger


class NodeExecutor(Protocol):
    async def execute(
        self, node_type: NodeType, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext
    ) -> Any: ...


class LocalExecutor:
    """Runs node work in-process, on the running event loop."""

    async def execute(self, node_type: NodeType, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        return await node_type.run(config, input, ctx)


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerTask:
    """One attempt of a worker node, as it travels to the worker (pickled: every field is plain data or a class
    the worker can import). ``key`` is unique per attempt (``<execution>-<node>-<attempt>``)."""

    key: str
    node_type: NodeType
    config: NodeConfig
    input: Mapping[str, Any]
    execution_id: str
    node_id: str
    attempt: int
    budget: PayloadBudget
    secret_values: tuple[str, ...] = ()


class WorkerPool(Protocol):
    """Runs worker nodes in other processes.

    :meth:`run` sends the task, calls ``started(worker)`` on the event loop once a worker has taken it (at most
    once), and returns ``(worker, output)``; ``worker`` names where it ran (a Dask worker's address, or
    ``local:<pid>``). The node's failure raises :class:`~flowmon.engine.nodes.base.NodeError` or
    :class:`WorkerError`; a lost worker or an unreachable cluster raises :class:`NodeError` saying so (the engine
    retries it as any failed attempt). Cancelling the awaiting task cancels the work (a computation already
    running may go on, and its result is dropped) and returns at once.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, task: WorkerTask, started: Callable[[str], None]) -> tuple[str, Any]: ...


class WorkerLost(NodeError):
    """The worker running the attempt died, or the connection to the cluster was lost while it ran. ``worker``
    names the worker when it is known (its announcement may not have arrived before it died)."""

    def __init__(self, message: str, worker: str | None = None) -> None:
        super().__init__(message)
        self.worker = worker


class WorkerError(Exception):
    """A node's work failed on a worker with an unexpected exception: its message and traceback, as text (the
    exception itself may not unpickle where flowmon runs)."""

    def __init__(self, error: str, traceback: str | None = None) -> None:
        super().__init__(error, traceback)
        self.error = error
        self.traceback = traceback

    def __str__(self) -> str:
        return self.error


def run_task(task: WorkerTask, worker: str) -> tuple[str, Any]:
    """Run ``task`` in this (worker) process and return ``(worker, output)``; called by the pools' task wrappers.

    ``run`` gets an event loop of its own (``asyncio.run``) and a context without an HTTP client. The output is
    made JSON-compatible and held to the payload budget here, on the worker, so nothing oversized or
    unpicklable travels back; the engine checks it again as it checks every output. Failures come back as
    :class:`NodeError` (expected, no traceback) or :class:`WorkerError` (message and traceback as text).
    """
    ctx = NodeContext(
        execution_id=task.execution_id,
        node_id=task.node_id,
        attempt=task.attempt,
        budget=task.budget,
        secret_values=task.secret_values,
    )
    if task.secret_values:  # the node's log lines hide them on the worker too
        ctx.log = RedactingLogger(logging.getLogger('flowmon.node'), task.secret_values)
    try:
        output = asyncio.run(task.node_type.run(task.config, task.input, ctx))
        return worker, _plain(output, task.budget)
    except NodeError as exc:
        raise NodeError(str(exc)) from None
    except PayloadError as exc:
        raise NodeError(str(exc)) from None
    except Exception as exc:
        trace = bounded_text(traceback.format_exc(limit=20), MAX_TRACEBACK_CHARS)
        raise WorkerError(f'{type(exc).__name__}: {exc}', trace) from None


def _plain(output: Any, budget: PayloadBudget) -> Any:
    """``output`` as JSON-compatible data within the budget (values JSON has no type for become strings, as the
    engine makes them); raises :class:`PayloadError`."""
    try:
        budget.check(output, 'output')
    except PayloadInvalid:
        return json.loads(budget.check(output, 'output', lenient=True))
    return output


__all__ = ['LocalExecutor', 'NodeExecutor', 'WorkerError', 'WorkerLost', 'WorkerPool', 'WorkerTask', 'run_task']
