"""A node type that runs on a worker, and a worker pool the test drives (no processes): a worker takes each task when
the test says so, and its result or error is what the test gives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowmon.engine import NodeConfig, NodeContext, NodeType
from flowmon.engine.runtime.executor import WorkerTask


class Heavy(NodeType):
    """A node type that says it runs on a worker; run here only when the engine has no pool."""

    type_name = 'heavy'
    runs_on = 'worker'

    class Config(NodeConfig):
        n: int = 1

    async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        return {'n': config.n, 'on': 'loop'}


@dataclass
class Job:
    task: WorkerTask
    started: Callable[[str], None]
    future: asyncio.Future[tuple[str, Any]]


@dataclass
class FakePool:
    """Takes each task and waits for the test: ``take`` (a worker starts it), ``finish`` / ``fail``."""

    jobs: dict[str, Job] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, task: WorkerTask, started: Callable[[str], None]) -> tuple[str, Any]:
        job = Job(task, started, asyncio.get_running_loop().create_future())
        self.jobs[task.key] = job
        self.arrived.set()
        try:
            return await job.future
        except asyncio.CancelledError:
            self.cancelled.append(task.key)
            raise

    async def next_job(self, key: str) -> Job:
        while key not in self.jobs:
            self.arrived.clear()
            await self.arrived.wait()
        return self.jobs[key]

    async def take(self, key: str, worker: str) -> Job:
        job = await self.next_job(key)
        job.started(worker)
        return job
