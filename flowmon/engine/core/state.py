"""Execution state: what is known about an execution as of its last applied event, and about each of its nodes.

:class:`ExecutionState` (its :class:`NodeState` per node, each node's :class:`Attempt` log, an :class:`EdgeFlow` per
edge) is what the pages, the API and the store read. States are immutable, and made only by the one reducer,
:func:`flowmon.engine.core.reducer.apply` (and its :func:`~flowmon.engine.core.reducer.fold`), from
:func:`initial_state` and the execution's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EXECUTION_STATUSES = ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')
NODE_STATUSES = ('pending', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled')
TERMINAL_NODE_STATUSES = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})
TERMINAL_EXECUTION_STATUSES = frozenset({'succeeded', 'failed', 'cancelled', 'interrupted'})


class _Timed:
    """What starts and may finish: its duration once it has (None until then)."""

    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_ms(self) -> float | None:
        return _ms(self.started_at, self.finished_at)


@dataclass(frozen=True, kw_only=True)
class Attempt(_Timed):
    """One try at running a node."""

    n: int
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str = (
        'running'  # running | succeeded | failed | retried (failed, and another attempt followed) | cancelled
    )
    error: str | None = None
    start_seq: int = 0  # the node.started event that began it
    end_seq: int | None = None  # the event that ended it (None while it runs)
    worker: str | None = None  # where a worker node's attempt ran: a Dask worker's address or local:<pid>


@dataclass(frozen=True, kw_only=True)
class NodeState(_Timed):
    """What is known about one node of an execution."""

    id: str
    status: str = 'pending'
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    reused: bool = False
    skip_reason: str | None = None
    next_retry_in: float | None = None
    attempt_log: tuple[Attempt, ...] = ()
    settled_seq: int | None = None  # the event that gave the node its final status (completed, failed, skipped, ...)
    worker: str | None = None  # where the latest attempt of a worker node ran (node.started / node.completed)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_NODE_STATUSES

    @property
    def ran_ms(self) -> float | None:
        """How long its attempts ran, added up once it has finished (None until then, as :attr:`duration_ms`): the
        waits between tries are left out, where :attr:`duration_ms` spans them, from the first start to the end. The
        same as :attr:`duration_ms` for a node tried once, or that has no attempt on record.

        Summed once for a node's log and times, not at each read (the summary of a run of 500 nodes tried up to 100
        times each summed 50,000 attempts: 38 ms a summary, each replay step and API read). The reducer makes a node's
        next state from a copy of its fields, this remembered sum included: it is used only while the log and the
        times it was summed from are the very ones the node holds."""
        log, started, finished = self.attempt_log, self.started_at, self.finished_at
        known = self.__dict__.get('_ran')
        if known is not None and known[0] is log and known[1] is started and known[2] is finished:
            return known[3]
        ran = self._ran_ms()
        self.__dict__['_ran'] = (log, started, finished, ran)
        return ran

    def _ran_ms(self) -> float | None:
        span = self.duration_ms
        log = self.attempt_log
        if span is None or len(log) < 2:
            return span
        total = 0.0
        for attempt in log:
            took = attempt.duration_ms
            if took is None:  # an attempt left open (not once the node has finished): the span is what is known
                return span
            total += took
        return round(total, 3)


@dataclass(frozen=True, kw_only=True)
class EdgeFlow:
    """Data handed over along one edge so far."""

    count: int = 0
    bytes: int = 0
    last_seq: int = 0
    last_ts: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionState(_Timed):
    """An execution as of its last applied event."""

    id: str
    workflow_id: str | None = None
    status: str = 'queued'
    input: Any = None
    output: Any = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    retry_of: str | None = None
    from_node: str | None = None
    priority: int = 0
    trigger: Mapping[str, Any] | None = None  # how it was started (flowmon.engine.core.provenance)
    workflow_hash: str | None = None  # the content hash of the definition it ran (flowmon.engine.core.snapshot)
    nodes: Mapping[str, NodeState] = field(default_factory=dict)
    edges: Mapping[tuple[str, str], EdgeFlow] = field(default_factory=dict)
    done: int = 0
    last_seq: int = 0
    last_ts: datetime | None = None

    @property
    def total(self) -> int:
        return len(self.nodes)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_EXECUTION_STATUSES

    @property
    def succeeded(self) -> int:
        """How many nodes succeeded (counted on each call: ``done`` also counts failed, skipped and cancelled)."""
        return sum(1 for node in self.nodes.values() if node.status == 'succeeded')

    @property
    def ended_succeeded(self) -> int | None:
        """:attr:`succeeded` once the execution has ended; None while it has not."""
        return self.succeeded if self.status in TERMINAL_EXECUTION_STATUSES else None


def initial_state(execution_id: str) -> ExecutionState:
    """The state before any event: an execution known only by its id."""
    return ExecutionState(id=execution_id)


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


__all__ = [
    'EXECUTION_STATUSES',
    'NODE_STATUSES',
    'TERMINAL_EXECUTION_STATUSES',
    'TERMINAL_NODE_STATUSES',
    'Attempt',
    'EdgeFlow',
    'ExecutionState',
    'NodeState',
    'initial_state',
]
