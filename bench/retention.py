"""Pruning a big database while other writers work (issue 12): how long a small write waits behind a step.

The database: 600 finished executions of 200 events of 1 KiB each (120,000 events, 167 MB with the indexes). While
the pruner deletes all of it and gives the space back, a writer commits a small transaction every 10 ms (what a
recorder flush or a saved workflow does) and a reader reads a page of the execution list (see
tests/retention_load.py, which the test of the same pruning on a small database shares). Target: no write waits
more than 50 ms. Reads never wait for a writer (WAL); a slow read means the machine itself stalled the process.
Run it with ``python -m bench retention``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path

from retention_load import prune_under_load

from .harness import percentile
from .report import Row

EXECUTIONS = 600
EVENTS = 200
WAIT_LIMIT_MS = 50.0


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-retention-') as tmp:
        pruned = asyncio.run(prune_under_load(Path(tmp) / 'flowmon.db', EXECUTIONS, EVENTS))
    writes = [seconds * 1000 for seconds in pruned.writes]
    reads = [seconds * 1000 for seconds in pruned.reads]
    deleted, given = pruned.deleted, pruned.given
    size = f'{pruned.size_before / 1e6:.0f} MB'
    return [
        Row(
            measurement=f'Pruning {EXECUTIONS} executions of {EVENTS} events ({size}): delete steps, longest',
            figure=f'{deleted.steps} steps, {deleted.longest_step_ms:.1f} ms',
            note=f'{deleted.events:,} events deleted',
        ),
        Row(
            measurement='Giving the space back (incremental vacuum): steps, longest',
            figure=f'{given.steps} steps, {given.longest_step_ms:.1f} ms',
            note=f'file {pruned.size_before / 1e6:.0f} MB -> {pruned.size_after / 1e6:.1f} MB',
        ),
        Row(
            measurement='A small write every 10 ms meanwhile: wait median / p95 / max',
            figure=f'{statistics.median(writes):.1f} / {percentile(writes, 95):.1f} / {max(writes):.1f} ms',
            target=f'max <= {WAIT_LIMIT_MS:.0f} ms',
            met=max(writes) <= WAIT_LIMIT_MS,
            note=f'{len(writes)} writes',
        ),
        Row(
            measurement='A page of the execution list meanwhile: read median / max',
            figure=f'{statistics.median(reads):.1f} / {max(reads):.1f} ms',
            note=f'{len(reads)} reads; they never wait for a writer',
        ),
    ]
