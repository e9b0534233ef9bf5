"""What the execution page shows about each node, worked out once per tick for the nodes that changed.

The canvas (a card per node), the node list (a row per node) and the inspector (one node in full) all follow the
same node states. :class:`NodeViews` turns a state into one :class:`NodeView` per node, looking only at the nodes
whose state object was replaced since the last state (:func:`~flowmon.engine.core.nodemap.changed_keys`), and says
which views changed; each widget then redraws those and no others. A view holds the short texts both the canvas
card and the list row show, so they are formatted here and nowhere else.

A view also says whether the node is slower than usual (``slow``: "slower than usual: 1.9 s, p95 1.2 s", empty
otherwise), from the baselines the page gives (:meth:`NodeViews.set_baselines`, each node's runs in other executions,
see :mod:`flowmon.application.stats`). A running node can become slow while nothing happens to it, so
:meth:`NodeViews.clock` looks again at the running nodes that have a baseline to compare with (and at no others).

Views are named tuples of strings, numbers and datetimes: once a full collection has seen them the garbage
collector stops tracking them, so a page keeps no per-node object it would walk again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from flowmon.application.stats import MIN_EARLIER_RUNS, NodeStats, is_slow, node_seconds
from flowmon.engine.core.nodemap import changed_keys
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.web.format import duration, durations_apart

ACTIVE = frozenset({'running', 'retrying'})


class NodeView(NamedTuple):
    """One node as the pages show it: two equal views look the same on every widget."""

    status: str
    attempts: int
    duration_ms: float | None  # the time its attempts ran (NodeState.ran_ms): the waits between tries left out
    reused: bool
    skip_reason: str | None
    error: str | None
    finished_at: datetime | None
    logged: int  # attempts in the node's attempt log (the inspector lists them)
    worker: str | None  # where a worker node's latest attempt runs or ran: a Dask worker's address, local:<pid>
    card: str  # the canvas card's second line: the duration once finished, else what the node is doing
    detail: str  # the node list's detail: reused, attempts, duration (or why it was skipped)
    slow: str = ''  # "slower than usual: 1.9 s, p95 1.2 s" when it is, else empty


PENDING = NodeView('pending', 0, None, False, None, None, None, 0, None, 'pending', '')


def node_view(node: NodeState | None, usual: NodeStats | None = None, now: datetime | None = None) -> NodeView:
    """What the widgets show of ``node``; ``usual``: its baseline, ``now``: the time a running node is measured to."""
    if node is None:
        return PENDING
    took = node.ran_ms  # the time its tries ran: "2 ms · 2 tries", not the backoff between them
    return NodeView(
        status=node.status,
        attempts=node.attempts,
        duration_ms=took,
        reused=node.reused,
        skip_reason=node.skip_reason,
        error=node.error,
        finished_at=node.finished_at,
        logged=len(node.attempt_log),
        worker=node.worker,
        card=_card(node, took),
        detail=_detail(node, took),
        slow=slow_text(node_seconds(node, now), usual),
    )


def slow_text(seconds: float | None, usual: NodeStats | None) -> str:
    """ "slower than usual: 1.9 s, p95 1.2 s" when ``seconds`` is above the baseline's p95, else empty."""
    if usual is None or usual.p95_seconds is None or not is_slow(seconds, usual):
        return ''
    assert seconds is not None
    took, p95 = durations_apart(seconds * 1000, usual.p95_seconds * 1000)  # (both '<1 ms' or '1.2 s' would read alike)
    return f'slower than usual: {took}, p95 {p95}'


class NodeViews:
    """The views of a workflow's nodes, brought up to a state with :meth:`update`."""

    def __init__(self, node_ids: Iterable[str]) -> None:
        self._views = dict.fromkeys(node_ids, PENDING)
        self._nodes: Mapping[str, NodeState] = {}  # the node states the views were last brought up to
        self._usual: dict[str, NodeStats] = {}  # baselines with enough runs to call a node slow
        self._now: datetime | None = None  # the time running nodes were last measured to

    def __getitem__(self, node_id: str) -> NodeView:
        return self._views[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._views

    def update(self, state: ExecutionState | None, now: datetime | None = None) -> list[str]:
        """Bring the views up to ``state`` (None: every node pending); returns the ids whose view changed.
        Only nodes whose state object was replaced are looked at, so the same state again costs nothing. ``now``:
        what a running node's time so far is measured to (for the slow flag)."""
        nodes = state.nodes if state is not None else {}
        self._now = now
        changed = []
        for node_id in changed_keys(nodes, self._nodes):
            if node_id in self._views and self._remake(node_id, nodes.get(node_id)):
                changed.append(node_id)
        self._nodes = nodes
        return changed

    def clock(self, now: datetime | None) -> list[str]:
        """The clock moved to ``now``: the running nodes that have a baseline are measured again (one may have become
        slower than usual); returns the ids whose view changed."""
        self._now = now
        if not self._usual or now is None:
            return []
        nodes = self._nodes
        return [
            node_id
            for node_id in self._usual
            if (node := nodes.get(node_id)) is not None and node.status in ACTIVE and self._remake(node_id, node)
        ]

    def set_baselines(self, baselines: Mapping[str, NodeStats]) -> list[str]:
        """What "usual" is for each node (runs of other executions); returns the ids whose view changed."""
        self._usual = {
            node_id: usual
            for node_id, usual in baselines.items()
            if node_id in self._views and usual.count >= MIN_EARLIER_RUNS
        }
        return [
            node_id for node_id, node in self._nodes.items() if node_id in self._views and self._remake(node_id, node)
        ]

    def _remake(self, node_id: str, node: NodeState | None) -> bool:
        view = node_view(node, self._usual.get(node_id), self._now)
        if view == self._views[node_id]:
            return False
        self._views[node_id] = view
        return True


def _card(node: NodeState, took: float | None) -> str:
    status, attempts = node.status, node.attempts
    if status == 'succeeded' and node.reused:  # carried over, not run: its zero duration would read "<1 ms"
        return 'reused'
    if status in ('succeeded', 'failed') and took is not None:
        return f'{duration(took)} · {attempts} tries' if attempts > 1 else duration(took)
    if status == 'retrying':
        return f'retrying after try {attempts}'
    if status == 'running' and attempts > 1:
        return f'running · try {attempts}'
    return status


def _detail(node: NodeState, took: float | None) -> str:
    parts = []
    if node.reused:
        parts.append('reused')
    if node.attempts:
        parts.append(f'{node.attempts} attempt' + ('s' if node.attempts != 1 else ''))
    if took is not None and not node.reused:
        parts.append(duration(took))
    if not parts and node.skip_reason:
        parts.append(node.skip_reason[:40])
    return ' · '.join(parts)
