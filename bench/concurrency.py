"""1,000 concurrent executions of a 10-node workflow, persistence on: all succeed; wall time and memory.

Issue 2: all succeed, peak RSS reported. The engine admits all 1,000 at once (``max_concurrent=1000``);
they run on the real bus with the SQLite recorder. Timed from the first ``submit`` until every execution
has finished and the recorder has flushed. Success is checked three ways: the terminal event each
execution published, the ``executions`` and ``node_runs`` rows, and every execution's state folded from
its stored events (``History.load_state``), which must be ``succeeded`` with all 10 nodes ``succeeded``.

Memory: the benchmark runs in a fresh interpreter (``python -m bench.concurrency --json``), so earlier
benchmarks' heaps neither inflate its peak nor hide its growth. The kernel's peak-RSS mark (``VmHWM``) is
reset just before the run (``/proc/self/clear_refs``); growth is that peak minus RSS before the run.
Without /proc, getrusage's ``ru_maxrss`` (process lifetime) is reported instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from flowmon.engine import Event, EventType
from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS
from flowmon.store.tables import ExecutionRow, NodeRunRow

from .harness import Stack, p50_p95_max, persisted_stack
from .report import Row

EXECUTIONS = 1_000
CRITICAL_PATH_S = 0.05  # fetch 20 ms + fraud 20 ms + notify 10 ms


def definition() -> dict[str, Any]:
    """An order check: fetch, three parallel branches of two steps, join, notify, done (10 nodes)."""

    def delay(node_id: str, ms: int) -> dict[str, Any]:
        return {'id': node_id, 'type': 'delay', 'config': {'seconds': ms / 1000}}

    return {
        'id': 'bench-order-check',
        'name': 'Order check (10 nodes)',
        'nodes': [
            delay('fetch', 20),
            delay('price', 10),
            delay('tax', 5),
            delay('stock', 15),
            delay('reserve', 5),
            delay('fraud', 20),
            {'id': 'score', 'type': 'transform', 'config': {'expression': '{risk: `0.1`, order: input.order}'}},
            {'id': 'join', 'type': 'transform', 'config': {'expression': '{order: input.order, risk: score.risk}'}},
            delay('notify', 10),
            {'id': 'done', 'type': 'log', 'config': {'message': 'order checked', 'level': 'debug'}},
        ],
        'edges': [
            {'source': 'fetch', 'target': 'price'},
            {'source': 'fetch', 'target': 'stock'},
            {'source': 'fetch', 'target': 'fraud'},
            {'source': 'price', 'target': 'tax'},
            {'source': 'stock', 'target': 'reserve'},
            {'source': 'fraud', 'target': 'score'},
            {'source': 'tax', 'target': 'join'},
            {'source': 'reserve', 'target': 'join'},
            {'source': 'score', 'target': 'join'},
            {'source': 'join', 'target': 'notify'},
            {'source': 'notify', 'target': 'done'},
        ],
    }


def memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process in KiB; empty where /proc is not available."""
    try:
        status = Path('/proc/self/status').read_text()
    except OSError:
        return {}
    return {key: int(m.group(1)) for key in ('VmRSS', 'VmHWM') if (m := re.search(rf'^{key}:\s+(\d+)', status, re.M))}


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        Path('/proc/self/clear_refs').write_text('5')
    except OSError:
        return False
    return True


def lifetime_peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == 'darwin' else peak / 1024  # bytes on macOS, KiB on Linux


@dataclass(frozen=True)
class Result:
    wall_s: float
    admitted: int
    terminal: dict[str, int]
    rows_succeeded: int
    node_runs_succeeded: int
    folded_succeeded: int
    durations_s: list[float]
    events: int
    rss_before_kib: int | None
    rss_peak_kib: int | None
    peak_is_this_run: bool
    max_backlog: int
    lifetime_peak_mib: float


async def measure(executions: int = EXECUTIONS) -> Result:
    async with persisted_stack(max_concurrent=executions, prefix='flowmon-bench-concurrency-') as stack:
        workflow = stack.workflow(definition())
        terminal: Counter[str] = Counter()

        def on_terminal(event: Event) -> None:
            terminal[str(event.type)] += 1

        stack.bus.subscribe(on_terminal, types=[str(t) for t in TERMINAL_EXECUTION_EVENTS])
        written = stack.recorder.written
        gc.collect()
        before = memory_kib().get('VmRSS')
        peak_is_this_run = reset_peak_rss()
        max_backlog = 0

        async def watch_backlog() -> None:
            nonlocal max_backlog
            while True:
                max_backlog = max(max_backlog, stack.recorder.backlog)
                await asyncio.sleep(0.01)

        watcher = asyncio.get_running_loop().create_task(watch_backlog())
        started = time.perf_counter()
        ids = [stack.engine.submit(workflow, {'order': i}) for i in range(executions)]
        admitted = stack.engine.running_count
        await stack.drain()
        wall_s = time.perf_counter() - started
        watcher.cancel()
        peak = memory_kib().get('VmHWM')
        events = stack.recorder.written - written
        rows_succeeded, node_runs_succeeded = await _stored_successes(stack)
        folded_succeeded, durations = await _fold_all(stack, ids)
    return Result(
        wall_s=wall_s,
        admitted=admitted,
        terminal=dict(terminal),
        rows_succeeded=rows_succeeded,
        node_runs_succeeded=node_runs_succeeded,
        folded_succeeded=folded_succeeded,
        durations_s=durations,
        events=events,
        rss_before_kib=before,
        rss_peak_kib=peak,
        peak_is_this_run=peak_is_this_run,
        max_backlog=max_backlog,
        lifetime_peak_mib=lifetime_peak_mib(),
    )


async def _stored_successes(stack: Stack) -> tuple[int, int]:
    executions = ExecutionRow.__table__  # type: ignore[attr-defined]
    node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]
    async with stack.db.engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).where(executions.c.status == 'succeeded'))
        nodes = await conn.scalar(select(func.count()).where(node_runs.c.status == 'succeeded'))
    return int(rows or 0), int(nodes or 0)


async def _fold_all(stack: Stack, ids: list[str]) -> tuple[int, list[float]]:
    """How many executions fold to succeeded with every node succeeded, and their durations."""
    succeeded = 0
    durations: list[float] = []
    for execution_id in ids:
        state = await stack.history.load_state(execution_id)
        if state is None:
            continue
        if state.status == 'succeeded' and all(node.status == 'succeeded' for node in state.nodes.values()):
            succeeded += 1
        if state.duration_ms is not None:
            durations.append(state.duration_ms / 1000)
    return succeeded, durations


def rows(result: Result, executions: int = EXECUTIONS) -> list[Row]:
    nodes = executions * len(definition()['nodes'])
    all_ok = (
        result.terminal == {str(EventType.EXECUTION_COMPLETED): executions}
        and result.rows_succeeded == executions
        and result.node_runs_succeeded == nodes
        and result.folded_succeeded == executions
    )
    out = [
        Row(
            measurement=f'{executions:,} concurrent executions of a 10-node workflow: succeeded',
            figure=f'{result.folded_succeeded:,} / {executions:,}',
            target='all',
            met=all_ok,
            note=(
                f'{result.admitted:,} admitted at once (max_concurrent={executions}); terminal events '
                f'{dict(result.terminal)}; executions rows succeeded {result.rows_succeeded:,}; node_runs '
                f'succeeded {result.node_runs_succeeded:,} of {nodes:,}; folded from stored events: '
                f'{result.folded_succeeded:,} succeeded with every node succeeded.'
            ),
        ),
        Row(
            measurement=f'{executions:,} concurrent executions: wall time (submit -> all flushed)',
            figure=f'{result.wall_s:.2f} s',
            note=(
                f'{result.events:,} events recorded ({result.events / result.wall_s:,.0f} /s), '
                f'{nodes / result.wall_s:,.0f} nodes/s; the longest path of delays is {CRITICAL_PATH_S * 1000:.0f} ms; '
                f'largest recorder backlog seen {result.max_backlog:,} events.'
            ),
        ),
    ]
    if result.durations_s:
        p50, p95, _ = p50_p95_max(result.durations_s)
        out.append(
            Row(
                measurement='Execution duration under that load (started -> finished), median / p95',
                figure=f'{p50 * 1000:.0f} / {p95 * 1000:.0f} ms',
                note=f'from the folded states; the longest path of delays is {CRITICAL_PATH_S * 1000:.0f} ms.',
            )
        )
    if result.rss_peak_kib is not None and result.rss_before_kib is not None:
        scope = 'this benchmark' if result.peak_is_this_run else 'the process so far (clear_refs not permitted)'
        growth = (result.rss_peak_kib - result.rss_before_kib) / 1024
        out.append(
            Row(
                measurement=f'Peak RSS during the {executions:,} executions',
                figure=f'{result.rss_peak_kib / 1024:.0f} MiB',
                note=(
                    f'VmHWM after the run, reset just before it; peak of {scope}. RSS before the run '
                    f'{result.rss_before_kib / 1024:.0f} MiB, so +{growth:.0f} MiB; '
                    "(getrusage's ru_maxrss is not used: Linux carries the parent's peak over fork + exec.)"
                ),
            )
        )
    else:
        out.append(
            Row(measurement='Peak RSS (process lifetime, getrusage)', figure=f'{result.lifetime_peak_mib:.0f} MiB')
        )
    return out


def run() -> list[Row]:
    """Measure in a fresh interpreter (see the module docstring) and turn its figures into rows."""
    child = subprocess.run(
        [sys.executable, '-m', 'bench.concurrency', '--json'],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f'the benchmark process exited {child.returncode}: {child.stderr.strip()[-2000:]}')
    return rows(Result(**json.loads(child.stdout.strip().splitlines()[-1])))


if __name__ == '__main__':
    if '--json' in sys.argv[1:]:
        print(json.dumps(dataclasses.asdict(asyncio.run(measure()))))
    else:
        from .report import table

        print(table(run()))
