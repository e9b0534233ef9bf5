"""``python -m bench [name ...]``: run the benchmarks, print the results table and write bench/RESULTS.md.

Each benchmark is a function returning a list of :class:`bench.report.Row`; to add one, write a module with
such a function and add it to :data:`BENCHMARKS`. With no names every benchmark runs, in order, in this one
process, and ``bench/RESULTS.md`` is rewritten. With names only those run and the table is printed; pass
``--write`` to write RESULTS.md anyway (or ``--output PATH`` to write elsewhere).

The exit status is 1 when a benchmark crashes (or, with ``--strict``, when a target is missed); a missed
target alone is a result to report, not a failure of the run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import (
    bulk_actions,
    concurrency,
    engine_overhead,
    postgres,
    reads_under_load,
    recorder_throughput,
    replay,
    retention,
    search,
    ui_latency,
    webhooks,
    workers,
)
from .report import Row, Section, machine_info, markdown, table

RESULTS = Path(__file__).resolve().parent / 'RESULTS.md'


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: Callable[[], list[Row]]


# flowmon's parts in this process, on asyncio's own event loop
IN_PROCESS: Sequence[Benchmark] = (
    Benchmark('engine', 'Engine overhead per node vs an asyncio floor (issue 2)', engine_overhead.run),
    Benchmark('recorder', 'Recorder throughput vs raw aiosqlite executemany (issue 2)', recorder_throughput.run),
    Benchmark('concurrency', '1,000 concurrent executions of a 10-node workflow (issue 2)', concurrency.run),
    Benchmark('replay', 'Replay of a 100,000-event execution (issue 4)', replay.run),
    Benchmark('search', 'Search by content over 100,000 executions (issue 15)', search.run),
    Benchmark('retention', 'Pruning a 167 MB database beside a writer and a reader (issue 12)', retention.run),
    Benchmark('webhooks', 'Webhook delivery throughput and retry firing lag (issue 5)', webhooks.run),
    Benchmark('postgres', 'PostgreSQL: recorder vs raw asyncpg, live view of another process (issue 13)', postgres.run),
)
# the real app as a subprocess (``python app.py``, on uvloop), driven through its API or in Chromium
THROUGH_THE_APP: Sequence[Benchmark] = (
    Benchmark('reads', 'API reads while executions keep running (read-your-writes under load)', reads_under_load.run),
    Benchmark('bulk', 'Bulk cancel, rerun and delete of 500 executions through the API', bulk_actions.run),
    Benchmark('ui', 'Live page in Chromium: event-to-screen latency, CPU per tab, 20 tabs (issue 3)', ui_latency.run),
    Benchmark('workers', 'Worker nodes: 1 vs 2 processes, API health meanwhile, per-node cost (issue 14)', workers.run),
)
BENCHMARKS: Sequence[Benchmark] = (*IN_PROCESS, *THROUGH_THE_APP)


def main(argv: Sequence[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(prog='python -m bench', description=__doc__.split('\n\n')[0])
    parser.add_argument('names', nargs='*', metavar='name', help=f'benchmarks to run (default all): {", ".join(names)}')
    parser.add_argument('--write', action='store_true', help='write the results file even when running a subset')
    parser.add_argument('--output', type=Path, default=None, help=f'results file (default: {RESULTS})')
    parser.add_argument('--strict', action='store_true', help='exit 1 when a target is missed')
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in names]
    if unknown:
        parser.error(f'unknown benchmark {", ".join(map(repr, unknown))}; choose from {", ".join(names)}')
    selected = [b for b in BENCHMARKS if not args.names or b.name in args.names]

    machine = machine_info()
    sections = [_run(benchmark) for benchmark in selected]
    rows = [row for section in sections for row in section.rows]
    print()
    print(table(rows))
    print()
    print(' | '.join(f'{key}: {value}' for key, value in machine.items()))

    output = args.output or (RESULTS if not args.names or args.write else None)
    if output is not None:
        command = 'make bench' if not args.names else f'python -m bench {" ".join(args.names)}'
        output.write_text(markdown(sections, machine, command=command), encoding='utf-8')
        print(f'written to {output}')
    crashed = any(section.error for section in sections)
    missed = any(row.met is False for row in rows)
    return 1 if crashed or (args.strict and missed) else 0


def _run(benchmark: Benchmark) -> Section:
    print(f'== {benchmark.name}: {benchmark.title}', flush=True)
    started = time.perf_counter()
    error = None
    try:
        rows = benchmark.run()
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        error = f'{type(exc).__name__}: {exc}'
        rows = [Row(measurement=f'{benchmark.title}', figure='crashed', target='runs', met=False, note=error)]
    seconds = time.perf_counter() - started
    for row in rows:
        print(f'   {row.measurement}: {row.figure}' + (f' (target {row.target}: {row.verdict})' if row.target else ''))
    print(f'   ({seconds:.1f} s)', flush=True)
    return Section(name=benchmark.title, rows=rows, seconds=seconds, error=error)


if __name__ == '__main__':
    sys.exit(main())
