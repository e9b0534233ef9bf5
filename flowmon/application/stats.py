"""How long each node of a workflow usually takes, and which nodes of an execution are slower than usual.

A node's statistics are taken over its last :data:`SAMPLE` successful runs in the workflow (``node_runs``: reused
outputs did not run and do not count, nor do runs in imported executions, another instance's history): how many,
the median (p50) and the 95th percentile (p95), linearly interpolated. A node of an execution is *slow* when its
duration (finished, or so far while it runs) is above the p95 of at least :data:`MIN_EARLIER_RUNS` runs in other
executions: its own run never counts towards the baseline it is compared with. Both are the time a node's attempts
ran, added up (``NodeState.ran_ms``, what its card shows): the waits between tries are not the node being slow.

The runs are cached per workflow. The recorder writes an execution's node runs just after it ends and tells
:meth:`NodeStatistics.written`: the runs of an execution that ran here are put into the cached ones as the database
now has them (without reading it again: under a sustained load of one workflow's runs the reads would follow every
write, each slowed by the busy event loop); node runs written otherwise (an import, a recovery) and a deletion (here
or by another process: :meth:`NodeStatistics.deleted`) make the workflow's runs be read again.
Processes sharing a database tell each other through the cluster's change feed (topic ``node-runs``,
:meth:`NodeStatistics.refresh`).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.store.history import History
from flowmon.store.node_stats import NodeRun, NodeRunStats, runs_of
from flowmon.store.recorder import EventRecorder

from .errors import NotFound

log = logging.getLogger(__name__)

__all__ = ['MIN_EARLIER_RUNS', 'SAMPLE', 'NodeRun', 'NodeStatistics', 'NodeStats', 'is_slow', 'percentile']

SAMPLE = 50  # a node's last successful runs that its statistics are taken over
MIN_EARLIER_RUNS = 5  # fewer runs than this say nothing about "usual"
CACHED_WORKFLOWS = 64  # workflows whose runs are kept in memory (least recently used ones go first)
KEEP_DELETED = 1000  # the latest executions deleted, whose runs are never put into the cache again
REREAD_SECONDS = 10.0  # a workflow's cached runs are read again after this long, whatever was put into them


@dataclass(frozen=True, slots=True)
class NodeStats:
    """A node's usual duration: ``count`` runs, their median and 95th percentile in seconds (None without runs)."""

    count: int
    p50_seconds: float | None
    p95_seconds: float | None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> NodeStats:
        ordered = sorted(seconds)
        if not ordered:
            return cls(0, None, None)
        return cls(len(ordered), round(percentile(ordered, 0.5), 6), round(percentile(ordered, 0.95), 6))

    def to_json(self) -> dict[str, Any]:
        return {'count': self.count, 'p50_seconds': self.p50_seconds, 'p95_seconds': self.p95_seconds}


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, linearly interpolated between the closest ranks."""
    if not ordered:
        raise ValueError('no values')
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def is_slow(seconds: float | None, usual: NodeStats | None) -> bool:
    """Whether a duration is above the p95 of a baseline of at least :data:`MIN_EARLIER_RUNS` runs."""
    if seconds is None or usual is None or usual.p95_seconds is None or usual.count < MIN_EARLIER_RUNS:
        return False
    return seconds > usual.p95_seconds


def node_seconds(node: NodeState, now: datetime | None) -> float | None:
    """How long ``node``'s attempts ran, added up (:attr:`~flowmon.engine.core.state.NodeState.ran_ms`, the measure
    of its baseline: the waits between tries left out), or have run so far at ``now`` while it runs or waits to try
    again (None when it has not started, or ``now`` is None)."""
    if node.started_at is None:
        return None
    if node.finished_at is not None:
        ran = node.ran_ms
        return None if ran is None else max(0.0, ran / 1000)
    if now is None or node.status not in ('running', 'retrying'):
        return None
    if not node.attempt_log:  # (no attempt on record: from its start)
        return max(0.0, (now - node.started_at).total_seconds())
    return sum(
        max(0.0, ((attempt.finished_at or now) - attempt.started_at).total_seconds()) for attempt in node.attempt_log
    )


class _Read:
    """A read of a workflow's node runs in flight; ``stale`` once they were forgotten meanwhile."""

    __slots__ = ('stale',)

    def __init__(self) -> None:
        self.stale = False


class NodeStatistics:
    """Per-node statistics of workflows (``GET /api/workflows/{id}/stats``, the slow flags and the duration trend)."""

    def __init__(
        self,
        *,
        runs: NodeRunStats,
        recorder: EventRecorder,
        history: History,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runs = runs
        self._clock = clock
        # workflow id -> when its cached runs were first read: what was put into them since cannot drift from the
        # database for longer than REREAD_SECONDS (a deletion whose news was lost, a write racing a paced deletion)
        self._read_at: dict[str, float] = {}
        self._recorder = recorder
        self._history = history
        # workflow id -> node id -> its latest SAMPLE + 1 runs, newest first (one more than the sample: a baseline
        # leaves the execution's own run out and still has SAMPLE)
        self._cache: OrderedDict[str, dict[str, tuple[NodeRun, ...]]] = OrderedDict()
        # workflow id -> the executions its cached runs belong to (one deleted: the workflow's runs are read again)
        self._executions: dict[str, set[str]] = {}
        # workflow id -> its reads in flight, each marked stale when the workflow's runs are forgotten meanwhile
        # (an entry only while a read is in flight: not one per workflow ever run)
        self._reading: dict[str, list[_Read]] = {}
        # the latest executions deleted: node runs of one written after its deletion (the write deletes them again at
        # once, in its transaction) must not enter the cache
        self._gone: OrderedDict[str, None] = OrderedDict()
        # Called with the workflows whose node runs this process wrote (processes sharing a database: the others
        # then forget theirs, see :meth:`refresh`).
        self.announce: Callable[[Collection[str]], None] = lambda _workflow_ids: None
        recorder.node_run_listeners.append(self.written)

    def written(self, workflow_ids: Collection[str], ran: Sequence[ExecutionState] | None = None) -> None:
        """Node runs of these workflows were written here: those of ``ran`` (the final states of executions that ran
        here, their first rows) are put into the cached runs; without ``ran``, the workflows' runs are read again
        when next asked."""
        try:
            if ran is None:
                self._drop(workflow_ids)
            else:
                self._take(runs_of(ran))
        except Exception:  # (what cannot be put in is read again)
            log.exception('node statistics: could not take in the runs just written')
            self._drop(workflow_ids)
        self.announce(workflow_ids)

    async def refresh(self, workflow_id: str | None) -> None:
        """Another process wrote node runs of ``workflow_id`` (None: of any workflow): read them again when asked."""
        self._drop({*self._cache, *self._reading} if workflow_id is None else [workflow_id])

    def deleted(self, execution_id: str | None) -> None:
        """An execution was deleted (None: some may have been, unheard): the runs cached with it in them are read again
        when next asked, and so are the runs being read now."""
        if execution_id is None:
            self._drop({*self._cache, *self._reading})
            return
        self._gone[execution_id] = None
        while len(self._gone) > KEEP_DELETED:
            self._gone.popitem(last=False)
        self._drop(
            [workflow_id for workflow_id, executions in self._executions.items() if execution_id in executions]
            + list(self._reading)
        )

    def _take(self, runs: Mapping[str, Mapping[str, Sequence[NodeRun]]]) -> None:
        """Put runs just written into the cached runs of their workflows, as a read would now find them (newest
        first, ``SAMPLE + 1`` a node; a node not cached is read when asked). Reads in flight are not kept: they may
        have read before the write."""
        for workflow_id, by_node in runs.items():
            for read in self._reading.get(workflow_id, ()):
                read.stale = True
            cached = self._cache.get(workflow_id)
            if cached is None:
                continue
            taken = dict(cached)
            for node_id, new in by_node.items():
                held = taken.get(node_id)
                if held is None:
                    continue
                known = {run.execution_id for run in held}  # (a read that came after the write has it already)
                fresh = [run for run in new if run.execution_id not in known and run.execution_id not in self._gone]
                if fresh:
                    newest = sorted((*fresh, *held), key=lambda run: run.finished_at, reverse=True)
                    taken[node_id] = tuple(newest[: SAMPLE + 1])
            self._cache[workflow_id] = taken
            # the executions of the runs kept (those that fell out of the sample no longer matter when deleted): a
            # workflow that runs on a schedule does not add one for every run while its runs stay cached
            self._executions[workflow_id] = {run.execution_id for runs in taken.values() for run in runs}

    def _drop(self, workflow_ids: Collection[str]) -> None:
        for workflow_id in workflow_ids:
            self._cache.pop(workflow_id, None)
            self._executions.pop(workflow_id, None)
            self._read_at.pop(workflow_id, None)
            for read in self._reading.get(workflow_id, ()):
                read.stale = True

    async def nodes(self, workflow_id: str) -> dict[str, NodeStats]:
        """Every node of the stored workflow with its statistics over its last :data:`SAMPLE` successful runs;
        raises NotFound for an unknown workflow."""
        node_ids = await self._node_ids(workflow_id)
        runs = await self._latest(workflow_id, node_ids)
        return {node_id: NodeStats.of(run.seconds for run in runs.get(node_id, ())[:SAMPLE]) for node_id in node_ids}

    async def baselines(
        self, workflow_id: str | None, node_ids: Iterable[str], *, excluding: str | None = None, fresh: bool = False
    ) -> dict[str, NodeStats]:
        """What "usual" is for the given nodes of an execution of ``workflow_id``: each node's last :data:`SAMPLE`
        successful runs in other executions than ``excluding``, as stored (a run that ended a moment ago may not count
        yet: see :meth:`_latest`); ``fresh``: counting those (for a reader that keeps what it reads, as a page does
        as it opens)."""
        if not workflow_id:
            return {}
        wanted = list(node_ids)
        runs = await self._latest(workflow_id, wanted, settle=fresh)
        return {
            node_id: NodeStats.of(
                [run.seconds for run in runs.get(node_id, ()) if run.execution_id != excluding][:SAMPLE]
            )
            for node_id in wanted
        }

    async def slow_nodes(self, state: ExecutionState, now: datetime | None = None) -> frozenset[str]:
        """The nodes of ``state`` that are slower than usual; a running node counts its time so far, up to ``now``
        (by default: the wall clock while the execution runs, its last event once it has ended)."""
        if not state.nodes or not state.workflow_id:
            return frozenset()
        if now is None:
            now = state.last_ts if state.is_terminal else utcnow()
        usual = await self.baselines(state.workflow_id, state.nodes, excluding=state.id)
        return frozenset(
            node_id for node_id, node in state.nodes.items() if is_slow(node_seconds(node, now), usual.get(node_id))
        )

    async def trend(self, workflow_id: str) -> dict[str, list[NodeRun]]:
        """Per node of the stored workflow, its last :data:`SAMPLE` successful runs, oldest first (what a duration
        chart draws); raises NotFound for an unknown workflow."""
        node_ids = await self._node_ids(workflow_id)
        runs = await self._latest(workflow_id, node_ids)
        return {node_id: list(reversed(runs.get(node_id, ())[:SAMPLE])) for node_id in node_ids}

    async def _node_ids(self, workflow_id: str) -> list[str]:
        stored = await self._history.get_workflow(workflow_id)
        if stored is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        return [str(node['id']) for node in stored.definition.get('nodes') or () if isinstance(node, Mapping)]

    async def _latest(
        self, workflow_id: str, node_ids: Sequence[str], *, settle: bool = True
    ) -> dict[str, tuple[NodeRun, ...]]:
        """The cached runs of ``node_ids``, reading the ones not cached yet; with ``settle``, after writing the node
        runs of executions that have ended (read your writes). Without, the runs as stored: the recorder writes an
        execution's node runs within about a flush interval of its end, which a baseline of 50 runs can wait for; a
        reader then never waits for a busy recorder (``GET /api/executions/{id}`` beside a sustained load)."""
        if settle and (self._recorder.node_runs_due(workflow_id) or self._recorder.has_unwritten):
            await self._recorder.settle()  # runs that just ended: writing them makes this forget the cached runs
        if self._clock() - self._read_at.get(workflow_id, math.inf) > REREAD_SECONDS:
            self._drop([workflow_id])
        cached = self._cache.get(workflow_id, {})
        missing = [node_id for node_id in dict.fromkeys(node_ids) if node_id not in cached]
        if missing:
            mark = _Read()
            reads = self._reading.setdefault(workflow_id, [])
            reads.append(mark)
            try:
                if settle:
                    await self._recorder.settle()  # read your writes: the node runs of executions that just ended
                read = await self._runs.latest(workflow_id, missing, SAMPLE + 1)
            finally:
                reads.remove(mark)
                if not reads:
                    del self._reading[workflow_id]
            gone = self._gone  # (rows a deletion in several steps has not reached yet)
            fresh = {
                node_id: tuple(run for run in read.get(node_id, ()) if run.execution_id not in gone)
                for node_id in missing
            }
            if mark.stale:  # forgotten meanwhile: good for this answer, not for keeping, and nor is what was cached
                others = [node_id for node_id in dict.fromkeys(node_ids) if node_id not in fresh]
                again = await self._runs.latest(workflow_id, others, SAMPLE + 1) if others else {}
                return {**fresh, **{node_id: tuple(again.get(node_id, ())) for node_id in others}}
            cached = {**self._cache.get(workflow_id, {}), **fresh}
            self._cache[workflow_id] = cached
            self._read_at.setdefault(workflow_id, self._clock())
            self._executions.setdefault(workflow_id, set()).update(
                run.execution_id for runs in fresh.values() for run in runs
            )
            while len(self._cache) > CACHED_WORKFLOWS:
                evicted = self._cache.popitem(last=False)[0]
                self._executions.pop(evicted, None)
                self._read_at.pop(evicted, None)
        if workflow_id in self._cache:
            self._cache.move_to_end(workflow_id)
        return cached
