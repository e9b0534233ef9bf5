"""Worker nodes (issue 14): speed-up with a second worker process, API health while they compute, per-node cost.

- **Speed-up**: 16 independent ``python`` nodes, each computing for 0.25 s of CPU time
  (``flowmon_demo_nodes.work:spin``), run by the engine on one worker process and then on two, on a Dask
  ``LocalCluster`` (processes, one thread each) and on flowmon's local pool. Each configuration runs the workflow
  once to warm up, then the median of three runs is taken. Target: two processes at least 1.7x faster than one.
- **Health**: the real app (``python app.py``, not pinned) runs the same workflow three times in a row, first on its
  local pool of two processes, then on a cluster of ``dask scheduler`` + ``dask worker --nworkers 2`` processes,
  while a thread times ``GET /api/health`` every 50 ms. Target: p95 under 50 ms.
- **Per-node cost**: a chain of 40 trivial ``python`` nodes (``spin`` for 0 s), each waiting for the one before,
  run on the loop (no worker: a local call through the engine), on the local pool and on the Dask cluster; the
  figure is wall time per node, and the overhead is the difference to the loop. 200 independent trivial nodes
  give the amortised cost with many in flight.

Run it with ``python -m bench workers``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dask
from distributed import LocalCluster
from started import started

from flowmon.engine import Engine, EventBus, ExecutionState, fold, parse_workflow
from flowmon.engine.nodes import NodeServices, load_registry
from flowmon.engine.runtime.executor import WorkerPool
from flowmon.infra.workers.dask import DaskWorkers
from flowmon.infra.workers.local import LocalProcessPool

from .harness import p50_p95_max
from .report import Row
from .ui_latency import _health_poller, _server

NODES = 16
NODE_CPU_SECONDS = 0.25
SPEEDUP_TARGET = 1.7
HEALTH_TARGET_MS = 50.0
CHAIN = 40
FAN_OUT = 200
SPIN = 'flowmon_demo_nodes.work:spin'
ALLOWED = ('flowmon_demo_nodes',)


class _Runner:
    """An engine on ``workers`` (None: node work on the loop), running workflows and timing them."""

    def __init__(self, workers: WorkerPool | None) -> None:
        self.bus = EventBus()
        self.events: list[Any] = []
        self.bus.subscribe(self.events.append)
        self.registry = load_registry(NodeServices(python_modules=ALLOWED))
        self.engine = Engine(bus=self.bus, registry=self.registry, workers=workers)
        self.last = ''

    def core_shares(self, cpu_seconds: float) -> list[float]:
        """For each node of the last run: ``cpu_seconds`` over its wall time from node.started to node.completed,
        the share of a core its process got (1.0: a core to itself)."""
        began: dict[str, Any] = {}
        shares = []
        for event in self.events:
            if event.execution_id != self.last:
                continue
            if str(event.type) == 'node.started':
                began[event.node_id] = event.ts
            elif str(event.type) == 'node.completed':
                shares.append(cpu_seconds / max((event.ts - began[event.node_id]).total_seconds(), 1e-6))
        return shares

    async def run(self, nodes: list[dict[str, Any]], edges: list[dict[str, str]], input: Any) -> float:
        """Seconds from submit until the execution ended (it must succeed)."""
        workflow = parse_workflow({'id': 'bench', 'name': 'bench', 'nodes': nodes, 'edges': edges}, self.registry)
        started = time.perf_counter()
        execution_id = self.last = self.engine.submit(workflow, input)
        await self.engine.wait_idle()
        seconds = time.perf_counter() - started
        state: ExecutionState | None = fold([e for e in self.events if e.execution_id == execution_id])
        if state is None or state.status != 'succeeded':
            raise RuntimeError(f'the benchmark workflow did not succeed: {state and state.error}')
        return seconds


def _fan_out(count: int) -> list[dict[str, Any]]:
    return [{'id': f'n{i:03d}', 'type': 'python', 'config': {'callable': SPIN}} for i in range(count)]


def _chain(count: int) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    nodes = _fan_out(count)
    return nodes, [{'source': a['id'], 'target': b['id']} for a, b in itertools.pairwise(nodes)]


@asynccontextmanager
async def _dask(workers: int) -> AsyncIterator[DaskWorkers]:
    with dask.config.set({'distributed.scheduler.allowed-failures': 0}):
        async with LocalCluster(
            n_workers=workers, processes=True, threads_per_worker=1, asynchronous=True, dashboard_address=None
        ) as cluster:
            async with started(DaskWorkers(cluster.scheduler_address)) as pool:
                yield pool


@asynccontextmanager
async def _local(processes: int) -> AsyncIterator[LocalProcessPool]:
    async with started(LocalProcessPool(processes)) as pool:
        # its processes start with the first node that runs on a worker: these, then wait for all of them
        await _Runner(pool).run(_fan_out(processes), [], {'seconds': 0})
        while len(pool.workers) < processes:
            await asyncio.sleep(0.05)
        yield pool


async def _cpu_seconds(pool: WorkerPool) -> tuple[float, float]:
    """Median seconds of three runs of the 16 nodes, and the median share of a core a node got meanwhile."""
    runner = _Runner(pool)
    await runner.run(_fan_out(4), [], {'seconds': 0.01})  # warm up: first tasks import the function's module
    times, shares = [], []
    for _ in range(3):
        times.append(await runner.run(_fan_out(NODES), [], {'seconds': NODE_CPU_SECONDS}))
        shares += runner.core_shares(NODE_CPU_SECONDS)
    return statistics.median(times), statistics.median(shares)


async def _speedups() -> dict[str, list[tuple[float, float]]]:
    """Per path: (seconds, core share) with one process, then with two."""
    figures: dict[str, list[tuple[float, float]]] = {}
    for name, make in (('Dask LocalCluster', _dask), ('local pool', _local)):
        figures[name] = []
        for processes in (1, 2):
            async with make(processes) as pool:
                figures[name].append(await _cpu_seconds(pool))
    return figures


async def _per_node() -> dict[str, tuple[float, float]]:
    """(seconds per node in a chain, seconds per node of a fan-out) for the loop, the local pool and Dask."""
    nodes, edges = _chain(CHAIN)
    figures: dict[str, tuple[float, float]] = {}
    makers: list[tuple[str, Callable[[], Any]]] = [
        ('loop', lambda: _nothing()),
        ('local pool', lambda: _local(2)),
        ('Dask LocalCluster', lambda: _dask(2)),
    ]
    for name, make in makers:
        async with make() as pool:
            runner = _Runner(pool)
            await runner.run(_fan_out(4), [], {'seconds': 0})
            chain = statistics.median([await runner.run(nodes, edges, {'seconds': 0}) for _ in range(3)]) / CHAIN
            fan = await runner.run(_fan_out(FAN_OUT), [], {'seconds': 0}) / FAN_OUT
            figures[name] = (chain, fan)
    return figures


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield None


class _CliCluster:
    """``dask scheduler`` + ``dask worker --nworkers 2`` from this environment, on free ports."""

    def __init__(self, directory: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        self.address = f'tcp://127.0.0.1:{port}'
        dask_cli = str(Path(sys.executable).with_name('dask'))
        env = {**os.environ, 'DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES': '0'}
        self.log = directory / 'dask.log'
        with self.log.open('wb') as log:
            self.scheduler = subprocess.Popen(
                [dask_cli, 'scheduler', '--host', '127.0.0.1', '--port', str(port), '--no-dashboard',
                 '--dashboard-address', '127.0.0.1:0'],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.worker = subprocess.Popen(
                [dask_cli, 'worker', self.address, '--nworkers', '2', '--nthreads', '1', '--host', '127.0.0.1',
                 '--no-dashboard'],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.log.read_text(errors='replace').count('Registered to:') < 2:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f'the Dask cluster did not start:\n{self.log.read_text(errors="replace")[-2000:]}')
            time.sleep(0.1)

    def stop(self) -> None:
        for process in (self.worker, self.scheduler):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _health_while_computing(**env: str) -> list[float]:
    """/api/health latencies (ms) while the real app runs the 16-node workflow three times."""
    definition = {'id': 'cpu', 'name': '16 CPU-bound nodes', 'nodes': _fan_out(NODES)}
    samples: list[tuple[float, float]] = []
    with _server(pin=False, FLOWMON_PYTHON_MODULES=','.join(ALLOWED), **env) as server:
        server.client.put('/api/workflows/cpu', json=definition).raise_for_status()
        for _ in range(3):
            response = server.client.post('/api/workflows/cpu/executions', json={'input': {'seconds': 0.01}})
            server.wait_ended(response.json()['id'])  # warm-up: the workers import the function's module
            stop = threading.Event()
            poller = threading.Thread(target=_health_poller, args=(server.url, stop, samples))
            started = server.client.post('/api/workflows/cpu/executions', json={'input': {'seconds': NODE_CPU_SECONDS}})
            poller.start()
            try:
                server.wait_ended(started.json()['id'])
            finally:
                stop.set()
                poller.join()
            if server.client.get(f'/api/executions/{started.json()["id"]}').json()['status'] != 'succeeded':
                raise RuntimeError('the health benchmark workflow did not succeed')
    return [latency for _, latency in samples]


def _health_rows() -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-dask-') as tmp:
        cluster = _CliCluster(Path(tmp))
        try:
            measured = {
                'local pool (FLOWMON_WORKERS=2)': _health_while_computing(FLOWMON_WORKERS='2'),
                'Dask cluster (2 worker processes)': _health_while_computing(FLOWMON_DASK_SCHEDULER=cluster.address),
            }
        finally:
            cluster.stop()
    for where, latencies in measured.items():
        median, p95, worst = p50_p95_max(latencies)
        rows.append(
            Row(
                measurement=f'GET /api/health p95 while 16 CPU-bound python nodes run, {where}',
                figure=f'{p95:.1f} ms',
                target=f'< {HEALTH_TARGET_MS:g} ms',
                met=p95 < HEALTH_TARGET_MS,
                note=f'{len(latencies)} requests every 50 ms over three runs of the workflow through the real app '
                f'(not pinned to a core); median {median:.1f} ms, max {worst:.1f} ms.',
            )
        )
    return rows


def _run_async(factory: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(factory())  # type: ignore[arg-type]


def run() -> list[Row]:
    rows: list[Row] = []
    for name, ((one, share_one), (two, share_two)) in _run_async(_speedups).items():
        speedup = one / two
        rows.append(
            Row(
                measurement=f'16 python nodes of 0.25 s CPU, 1 vs 2 worker processes, {name}',
                figure=f'{speedup:.2f}x ({one:.2f} s -> {two:.2f} s)',
                target=f'>= {SPEEDUP_TARGET:g}x',
                met=speedup >= SPEEDUP_TARGET,
                note=f'{name}: median of three runs after a warm-up run, submit to end of the execution. A node '
                f'(0.25 s of CPU) got a median {share_one:.0%} of a core with one process and {share_two:.0%} with two '
                '(100 %: a core to itself; the rest went to other work on the machine).',
            )
        )
    rows += _health_rows()
    per_node = _run_async(_per_node)
    loop_chain, loop_fan = per_node['loop']
    for name in ('local pool', 'Dask LocalCluster'):
        chain, fan = per_node[name]
        rows.append(
            Row(
                measurement=f'Per-node overhead of the {name} path over a local call (a chain of {CHAIN} nodes)',
                figure=f'{(chain - loop_chain) * 1000:.2f} ms',
                note=f'{name}: {chain * 1000:.2f} ms per node in a chain, {fan * 1000:.2f} ms per node amortised over '
                f'{FAN_OUT} in flight; on the loop (the engine calling the function in process): '
                f'{loop_chain * 1000:.3f} ms and {loop_fan * 1000:.3f} ms.',
            )
        )
    return rows
