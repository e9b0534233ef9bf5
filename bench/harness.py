"""The pieces benchmarks share: a persisted engine stack in a temporary database, and timing helpers."""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowmon.engine import Engine, EventBus, Workflow, default_registry, parse_workflow
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History


@dataclass(kw_only=True)
class Stack:
    """Engine, bus, projector and recorder wired as the app wires them (minus the web layer), on a fresh SQLite file.

    The recorder writes the ``executions`` rows from the projector's fold, as in the app: each event is folded
    once, by the projector, and that cost is part of every figure measured on this stack."""

    bus: EventBus
    db: Database
    projector: Projector
    recorder: EventRecorder
    engine: Engine
    history: History
    path: Path

    def workflow(self, definition: dict[str, Any]) -> Workflow:
        return parse_workflow(definition, self.engine.registry)

    async def drain(self) -> None:
        """Wait until every submitted execution has finished and every event (and node run) is committed."""
        await self.engine.wait_idle()
        await self.recorder.drain()


@asynccontextmanager
async def recording(
    path: Path, *, url: str | None = None, configure: Callable[[EventRecorder], None] | None = None
) -> AsyncIterator[tuple[Database, EventBus, Projector, EventRecorder]]:
    """A started database on the SQLite file ``path`` (or at ``url``), a bus, and the projector and the recorder on
    it, wired as the app wires them (``configure`` may adjust the recorder first); stopped (the recorder writing what
    is pending) at the end."""
    db = Database(url or f'sqlite+aiosqlite:///{path}')
    await db.start()
    bus = EventBus()
    projector = Projector(bus)
    recorder = EventRecorder(db, bus, projection=projector)
    if configure is not None:
        configure(recorder)
    await recorder.start()
    projector.start()
    try:
        yield db, bus, projector, recorder
    finally:
        await recorder.stop()
        projector.stop()
        await db.stop()


@asynccontextmanager
async def persisted_stack(*, max_concurrent: int = 8, prefix: str = 'flowmon-bench-') -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        path = Path(tmp) / 'bench.db'
        async with recording(path) as (db, bus, projector, recorder):
            engine = Engine(bus=bus, registry=default_registry(), max_concurrent=max_concurrent)
            try:
                yield Stack(
                    bus=bus,
                    db=db,
                    projector=projector,
                    recorder=recorder,
                    engine=engine,
                    history=History(db),
                    path=path,
                )
            finally:
                await engine.stop()


def queued_data(workflow: dict[str, Any], input: Any) -> dict[str, Any]:
    """The data of an ``execution.queued`` event for a run of ``workflow`` (as the engine's runner writes it)."""
    nodes = [node['id'] for node in workflow['nodes']]
    return {
        'workflow_id': workflow['id'],
        'input': input,
        'priority': 0,
        'retry_of': None,
        'from_node': None,
        'nodes': nodes,
        'workflow': workflow,
    }


async def timed(step: Callable[[], Awaitable[Any]]) -> float:
    """Seconds ``step`` takes, after a full garbage collection so earlier garbage is not billed to it."""
    gc.collect()
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile of ``values``: the nearest rank among them, sorted (NaN when there are none). Every
    benchmark's p95 is this one."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def p50_p95_max(values: Sequence[float]) -> tuple[float, float, float]:
    """The median, p95 and largest of ``values`` (NaN each when there are none)."""
    if not values:
        return float('nan'), float('nan'), float('nan')
    return statistics.median(values), percentile(values, 95), max(values)


def spread(values: Sequence[float]) -> str:
    """'median (min-max)' of microsecond figures, for notes."""
    return f'median {statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}'
