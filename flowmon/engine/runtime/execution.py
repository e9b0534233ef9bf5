"""The run loop of one execution: the walk of its graph. :class:`ExecutionRun` completes the nodes a rerun reuses,
decides each node once its upstream has finished (run it, or skip it: a branch not taken, a failure upstream),
starts the ones to run (each in a task of its own, its attempts run by its base,
:class:`~flowmon.engine.runtime.node_attempts.NodeAttempts`), keeps the progress, and ends the execution: with
its output, with the failure of a node, or cancelling what is unfinished (:meth:`ExecutionRun.abort`).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowmon.engine.core.events import EventType
from flowmon.engine.core.payload import json_object, json_string
from flowmon.engine.core.payload_values import MAX_ERROR_CHARS, bounded_text
from flowmon.engine.model import EdgeSpec
from flowmon.engine.runtime.node_attempts import NodeAttempts

if TYPE_CHECKING:
    from flowmon.engine.runtime.scheduler import Engine, ExecutionRequest

_FINAL_NODE_STATUSES = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})


class ExecutionRun(NodeAttempts):
    """The scheduling of one execution's nodes (the attempts of each: :class:`NodeAttempts`)."""

    def __init__(self, engine: Engine, request: ExecutionRequest) -> None:
        super().__init__(engine, request)
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
        """Stop every running node and mark all unfinished nodes cancelled. The execution being cancelled again
        meanwhile (a cancel after a time-out, the process stopping during a cancel) does not cut this short: the
        nodes are cancelled again (one that let a cancel pass gets another) and waited for, as the first cancel waits
        for them, and each unfinished one is still told."""
        tasks = list(self.tasks.values())  # (a node that finished has recorded its outcome and left this)
        for task in tasks:
            task.cancel()
        if tasks:
            stopped = asyncio.gather(*tasks, return_exceptions=True)
            while not stopped.done():
                try:
                    await asyncio.shield(stopped)
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None:
                        current.uncancel()
                    for task in tasks:
                        task.cancel()
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
