"""Pruning while other work goes on (see tests/retention_load.py): everything old goes, the space goes back to the
file system, and every write and read beside it succeeds. How long the writes wait behind a step is a measurement,
not a test: ``python -m bench retention`` times it on a 167 MB database (target: 50 ms at the most)."""

from __future__ import annotations

from pathlib import Path

from retention_load import prune_under_load

EXECUTIONS = 60
EVENTS = 100


async def test_pruning_beside_a_writer_and_a_reader_deletes_everything_and_gives_the_space_back(
    tmp_path: Path,
) -> None:
    pruned = await prune_under_load(tmp_path / 'flowmon.db', EXECUTIONS, EVENTS)

    assert (pruned.deleted.executions, pruned.deleted.events) == (EXECUTIONS, EXECUTIONS * EVENTS)
    assert pruned.deleted.node_runs == EXECUTIONS
    assert pruned.deleted.steps > 1  # in steps: the writer and the reader had turns between them
    assert pruned.size_after < pruned.size_before / 5  # the space went back to the file system
    assert pruned.writes and pruned.reads  # they worked meanwhile (one that failed would have failed the pruning)
