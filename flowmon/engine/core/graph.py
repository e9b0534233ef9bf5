"""Ordering a workflow's graph: the one topological sort, and the cycle it finds when there is no order.

Works on plain node ids and ``(source, target)`` pairs so that it serves validated workflows (the engine), raw
definitions that may be malformed (replay of an old or imported execution) and drawing (the web layer's layout).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def topological_order(
    ids: Sequence[str], edges: Iterable[tuple[str, str]], *, break_cycles: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Kahn's order of ``ids``, stable in the order given (ties go to the earlier id), and the ids left over.

    Edges naming unknown ids and self-loops are ignored. Ids left over sit on a cycle or behind one; with
    ``break_cycles`` there are none: when nothing is ready, the earliest unplaced id is released as if its
    remaining incoming edges were not there, so any input is ordered.
    """
    known = set(ids)
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in ids}
    indegree = dict.fromkeys(ids, 0)
    for source, target in edges:
        if source in known and target in known and source != target:
            outgoing[source].append(target)
            indegree[target] += 1
    ready = deque(node_id for node_id in ids if indegree[node_id] == 0)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(ids):
        if not ready:
            if not break_cycles:
                break
            ready.append(next(node_id for node_id in ids if node_id not in placed))
        node_id = ready.popleft()
        if node_id in placed:
            continue
        placed.add(node_id)
        order.append(node_id)
        for target in outgoing[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0 and target not in placed:
                ready.append(target)
    return tuple(order), tuple(node_id for node_id in ids if node_id not in placed)


def find_cycle(ids: Sequence[str], edges: Iterable[tuple[str, str]], acyclic: Iterable[str] = ()) -> list[str]:
    """One cycle among ``ids`` as a closed path (``a -> b -> a``); ``acyclic`` ids are known to be on none."""
    skip = set(acyclic)
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for source, target in edges:
        if source in outgoing and target in outgoing:
            outgoing[source].append(target)
    colour: dict[str, int] = {}
    for start in ids:
        if start in skip or start in colour:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node_id, index = stack.pop()
            if index == 0:
                colour[node_id] = 1
                path.append(node_id)
            targets = outgoing[node_id]
            if index < len(targets):
                stack.append((node_id, index + 1))
                target = targets[index]
                if colour.get(target) == 1:
                    return [*path[path.index(target) :], target]
                if target not in colour and target not in skip:
                    stack.append((target, 0))
            else:
                colour[node_id] = 2
                path.pop()
    return sorted(set(ids) - skip)


def definition_graph(definition: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """The node ids and edge pairs of a raw (possibly malformed) definition; malformed entries are ignored."""
    nodes = definition.get('nodes')
    ids = (
        [n['id'] for n in nodes if isinstance(n, Mapping) and isinstance(n.get('id'), str)]
        if isinstance(nodes, list)
        else []
    )
    raw_edges = definition.get('edges')
    edges = [
        (str(edge.get('source')), str(edge.get('target')))
        for edge in (raw_edges if isinstance(raw_edges, list) else [])
        if isinstance(edge, Mapping)
    ]
    return list(dict.fromkeys(ids)), edges


def definition_order(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """Topological order of a raw definition; nodes on a cycle follow in definition order, so every node has a place."""
    ids, edges = definition_graph(definition)
    order, rest = topological_order(ids, edges)
    return (*order, *rest)
