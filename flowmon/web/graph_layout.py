"""Deterministic left-to-right layout of a workflow graph, for drawing it.

Columns are dependency depth (the longest path from a root), rows are the position within a column,
ordered by a few barycenter sweeps so that edges cross less. The same definition always gives the same
picture, which keeps the canvas stable between page loads and makes the layout testable. Pure: no
NiceGUI, no I/O; works on plain node ids and edge pairs so that it takes any graph, valid or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowmon.engine.core.graph import topological_order

SWEEPS = 4  # down-and-up barycenter passes; enough for workflow-sized graphs, cheap for 2,000 nodes


@dataclass(frozen=True, kw_only=True, slots=True)
class PlacedNode:
    """One node's place: ``layer`` is the column, ``index`` the row within it; ``x``/``y`` are drawing units
    (one unit between columns and between rows; each column is centred vertically on ``y == 0``)."""

    id: str
    layer: int
    index: int
    x: float
    y: float


@dataclass(frozen=True, kw_only=True, slots=True)
class DagLayout:
    """Positions for every node of a graph, plus its edges (in definition order)."""

    nodes: tuple[PlacedNode, ...]
    edges: tuple[tuple[str, str], ...]
    layers: int
    rows: int  # the tallest column, counting the room kept free for edges that skip columns

    def position(self, node_id: str) -> tuple[float, float]:
        node = self._by_id()[node_id]
        return node.x, node.y

    def _by_id(self) -> dict[str, PlacedNode]:
        return {node.id: node for node in self.nodes}


def layout_definition(definition: Mapping[str, Any]) -> DagLayout:
    """Lay out a workflow definition dict (``{"nodes": [{"id": ...}], "edges": [{"source", "target"}]}``)."""
    node_ids = [str(node['id']) for node in definition.get('nodes') or () if isinstance(node, Mapping)]
    edges = [
        (str(edge['source']), str(edge['target']))
        for edge in definition.get('edges') or ()
        if isinstance(edge, Mapping) and 'source' in edge and 'target' in edge
    ]
    return layout_graph(node_ids, edges)


def layout_graph(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> DagLayout:
    """Lay out ``node_ids`` (definition order breaks every tie) joined by ``edges``.

    Edges naming unknown nodes, self-loops and duplicates are ignored; a cycle (never in a validated
    workflow) is broken at the edge that closes it, so any input yields a layout.
    """
    order = list(dict.fromkeys(node_ids))
    known = set(order)
    clean = [(source, target) for source, target in dict.fromkeys(edges) if source in known and target in known]
    clean = [(source, target) for source, target in clean if source != target]
    depth = _longest_path_depths(order, clean)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node_id in order:
        columns[depth[node_id]].append(node_id)
    rank = {node_id: i for i, node_id in enumerate(order)}
    chained = _route_long_edges(columns, [(s, t) for s, t in clean if depth[s] < depth[t]], depth, rank)
    _reduce_crossings(columns, chained, rank)
    placed = [
        PlacedNode(id=node_id, layer=layer, index=index, x=float(layer), y=index - (len(column) - 1) / 2)
        for layer, column in enumerate(columns)
        for index, node_id in enumerate(column)
        if node_id in known
    ]
    placed.sort(key=lambda node: rank[node.id])
    return DagLayout(
        nodes=tuple(placed),
        edges=tuple(clean),
        layers=len(columns),
        rows=max((len(column) for column in columns), default=0),
    )


def _longest_path_depths(order: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Depth of each node = length of the longest path reaching it (roots are 0), along a topological order in
    which a cycle is broken at the edge that closes it."""
    sorted_ids, _ = topological_order(order, edges, break_cycles=True)
    position = {node_id: i for i, node_id in enumerate(sorted_ids)}
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in order}
    for source, target in edges:
        if position[source] < position[target]:
            outgoing[source].append(target)
    depth = dict.fromkeys(order, 0)
    for node_id in sorted_ids:
        for target in outgoing[node_id]:
            depth[target] = max(depth[target], depth[node_id] + 1)
    return depth


def _route_long_edges(
    columns: list[list[str]], edges: Sequence[tuple[str, str]], depth: Mapping[str, int], rank: dict[str, int]
) -> list[tuple[str, str]]:
    """Give every edge that skips columns a placeholder in each column it crosses, and return the chain.

    Placeholders take a row, so a long edge runs through free space instead of straight through the nodes
    of the columns it passes; they are sorted like nodes and dropped from the result.
    """
    chained: list[tuple[str, str]] = []
    for source, target in edges:
        previous = source
        for layer in range(depth[source] + 1, depth[target]):
            placeholder = f'\x00{source}\x00{target}\x00{layer}'  # NUL never appears in a node id
            columns[layer].append(placeholder)
            rank[placeholder] = len(rank)
            chained.append((previous, placeholder))
            previous = placeholder
        chained.append((previous, target))
    return chained


def _reduce_crossings(columns: list[list[str]], edges: Sequence[tuple[str, str]], rank: Mapping[str, int]) -> None:
    """Reorder each column in place by the mean row of its neighbours in the column before (then after)."""
    predecessors: dict[str, list[str]] = {}
    successors: dict[str, list[str]] = {}
    for source, target in edges:
        successors.setdefault(source, []).append(target)
        predecessors.setdefault(target, []).append(source)
    y = _rows(columns)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(columns)) if downward else range(len(columns) - 2, -1, -1)
        neighbours = predecessors if downward else successors
        for layer in indices:
            column = columns[layer]
            current = {node_id: i for i, node_id in enumerate(column)}

            def barycenter(node_id: str) -> float:
                linked = [y[other] for other in neighbours.get(node_id, ())]  # noqa: B023 (used at once)
                return sum(linked) / len(linked) if linked else y[node_id]

            column.sort(key=lambda node_id: (barycenter(node_id), current[node_id], rank[node_id]))
            y.update(_rows([column]))


def _rows(columns: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each node's vertical position with every column centred on zero."""
    return {node_id: index - (len(column) - 1) / 2 for column in columns for index, node_id in enumerate(column)}
