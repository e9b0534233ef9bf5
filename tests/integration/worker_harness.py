"""An engine on a real worker pool, observed through its events: shared by test_local_pool.py and
test_dask_cluster.py. Waits are polls with a deadline (the work runs in other processes)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker_api import python

from flowmon.engine import Engine, Event, EventBus, ExecutionState, fold, parse_workflow
from flowmon.engine.nodes import NodeServices, load_registry
from flowmon.engine.runtime.executor import WorkerPool

ALLOWED = ('flowmon_demo_nodes', 'worker_functions')
__all__ = ['ALLOWED', 'Harness', 'alive', 'kill', 'marker_pid', 'python', 'until']


class Harness:
    def __init__(self, workers: WorkerPool) -> None:
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        self.registry = load_registry(NodeServices(python_modules=ALLOWED))
        self.workers = workers
        self.engine = Engine(bus=self.bus, registry=self.registry, workers=workers)

    def submit(self, nodes: list[dict[str, Any]], input: Any = None) -> str:
        workflow = parse_workflow({'id': 'wf', 'name': 'Workers', 'nodes': nodes}, self.registry)
        return self.engine.submit(workflow, input)

    def state(self, execution_id: str) -> ExecutionState:
        state = fold([event for event in self.events if event.execution_id == execution_id])
        assert state is not None
        return state

    def of(self, execution_id: str, node_id: str, type_: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if e.execution_id == execution_id and e.node_id == node_id and (type_ is None or str(e.type) == type_)
        ]

    async def cancel_at_once(self, execution_id: str, node_id: str) -> None:
        """Cancel the execution: it and ``node_id`` end cancelled, the node's ``node.cancelled`` at once (within
        5 s on a loaded machine; the nodes cancelled here compute for a minute)."""
        asked = datetime.now(UTC)
        assert self.engine.cancel(execution_id)
        state = await self.finished(execution_id)
        assert (state.status, state.nodes[node_id].status) == ('cancelled', 'cancelled')
        (cancelled,) = self.of(execution_id, node_id, 'node.cancelled')
        assert (cancelled.ts - asked).total_seconds() < 5.0

    async def finished(self, execution_id: str, timeout: float = 60) -> ExecutionState:
        await until(lambda: self.state(execution_id).is_terminal, timeout, f'execution {execution_id} to end')
        return self.state(execution_id)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f'gave up waiting for {what}'
        await asyncio.sleep(0.02)


async def marker_pid(marker: Path, timeout: float = 30) -> int:
    """The pid a ``hang_once`` call wrote once it began computing."""
    await until(lambda: marker.exists() and marker.read_text(encoding='utf-8') != '', timeout, f'{marker} to appear')
    return int(marker.read_text(encoding='utf-8'))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
