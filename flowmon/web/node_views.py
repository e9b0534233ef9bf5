"""What the execution page shows about each node, worked out once per tick for the nodes that changed.

The canvas (a card per node), the node list (a row per node) and the inspector (one node in full) all follow the
same node states. :class:`NodeViews` turns a state into one :class:`NodeView` per node, looking only at the nodes
whose state object was replaced since the last state (:func:`~flowmon.engine.core.nodemap.changed_keys`), and says
which views changed; each widget then redraws those and no others. A view holds the short texts both the canvas
card and the list row show, so they are formatted here and nowhere else.

Views are named tuples of strings, numbers and datetimes: once a full collection has seen them the garbage
collector stops tracking them, so a page keeps no per-node object it would walk again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from flowmon.engine.core.nodemap import changed_keys
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.web.format import duration


class NodeView(NamedTuple):
    """One node as the pages show it: two equal views look the same on every widget."""

    status: str
    attempts: int
    duration_ms: float | None
    reused: bool
    skip_reason: str | None
    error: str | None
    finished_at: datetime | None
    logged: int  # attempts in the node's attempt log (the inspector lists them)
    worker: str | None  # where a worker node's latest attempt runs or ran: a Dask worker's address, local:<pid>
    card: str  # the canvas card's second line: the duration once finished, else what the node is doing
    detail: str  # the node list's detail: reused, attempts, duration (or why it was skipped)


PENDING = NodeView('pending', 0, None, False, None, None, None, 0, None, 'pending', '')


def node_view(node: NodeState | None) -> NodeView:
    if node is None:
        return PENDING
    took = node.duration_ms
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
    )


class NodeViews:
    """The views of a workflow's nodes, brought up to a state with :meth:`update`."""

    def __init__(self, node_ids: Iterable[str]) -> None:
        self._views = dict.fromkeys(node_ids, PENDING)
        self._nodes: Mapping[str, NodeState] = {}  # the node states the views were last brought up to

    def __getitem__(self, node_id: str) -> NodeView:
        return self._views[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._views

    def update(self, state: ExecutionState | None) -> list[str]:
        """Bring the views up to ``state`` (None: every node pending); returns the ids whose view changed.
        Only nodes whose state object was replaced are looked at, so the same state again costs nothing."""
        nodes = state.nodes if state is not None else {}
        changed = []
        for node_id in changed_keys(nodes, self._nodes):
            if node_id in self._views:
                view = node_view(nodes.get(node_id))
                if view != self._views[node_id]:
                    self._views[node_id] = view
                    changed.append(node_id)
        self._nodes = nodes
        return changed


def _card(node: NodeState, took: float | None) -> str:
    status, attempts = node.status, node.attempts
    if status in ('succeeded', 'failed') and took is not None:
        return f'{duration(took)} · {attempts} tries' if attempts > 1 else duration(took)
    if status == 'succeeded' and node.reused:
        return 'reused'
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
    if took is not None:
        parts.append(duration(took))
    if not parts and node.skip_reason:
        parts.append(node.skip_reason[:40])
    return ' · '.join(parts)
