"""The canvas layout: deterministic, layered by longest dependency path, no two nodes in one place."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from flowmon.web.graph_layout import DagLayout, layout_definition, layout_graph

WORKFLOWS = Path(__file__).resolve().parents[2] / 'data' / 'workflows'


def _positions(layout: DagLayout) -> dict[str, tuple[float, float]]:
    return {node.id: (node.x, node.y) for node in layout.nodes}


def _random_dag(n: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    ids = [f'n{i}' for i in range(n)]
    edges = []
    for i in range(1, n):
        for j in rng.sample(range(i), k=min(i, rng.randint(1, 3))):
            edges.append((ids[j], ids[i]))
    return ids, edges


def _crossings(layout: DagLayout) -> int:
    """Crossings between edges joining adjacent columns (the ones barycenter ordering works on)."""
    place = {node.id: node for node in layout.nodes}
    spans = [(place[s], place[t]) for s, t in layout.edges if place[t].layer == place[s].layer + 1]
    count = 0
    for i, (a1, b1) in enumerate(spans):
        for a2, b2 in spans[i + 1 :]:
            if a1.layer == a2.layer and (a1.y - a2.y) * (b1.y - b2.y) < 0:
                count += 1
    return count


def test_columns_are_the_longest_path_depth() -> None:
    layout = layout_graph(['a', 'b', 'c', 'd'], [('a', 'b'), ('b', 'c'), ('a', 'c'), ('c', 'd')])
    layers = {node.id: node.layer for node in layout.nodes}
    assert layers == {'a': 0, 'b': 1, 'c': 2, 'd': 3}  # c waits for b, so it sits after b, not beside it
    assert layout.layers == 4
    assert all(node.x == node.layer for node in layout.nodes)


def test_every_edge_points_right() -> None:
    ids, edges = _random_dag(120, seed=3)
    layout = layout_graph(ids, edges)
    place = {node.id: node for node in layout.nodes}
    assert all(place[s].x < place[t].x for s, t in layout.edges)


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_no_two_nodes_share_a_position(seed: int) -> None:
    ids, edges = _random_dag(300, seed=seed)
    layout = layout_graph(ids, edges)
    positions = list(_positions(layout).values())
    assert len(layout.nodes) == 300
    assert len(set(positions)) == len(positions)


def test_same_input_same_picture() -> None:
    ids, edges = _random_dag(200, seed=7)
    assert layout_graph(ids, edges) == layout_graph(list(ids), list(edges))


def test_columns_are_centred_on_zero() -> None:
    layout = layout_graph(['root', 'x', 'y', 'z'], [('root', 'x'), ('root', 'y'), ('root', 'z')])
    ys = sorted(node.y for node in layout.nodes if node.layer == 1)
    assert ys == [-1.0, 0.0, 1.0]
    assert layout.position('root') == (0.0, 0.0)


def test_barycenter_untangles_a_crossed_pair() -> None:
    # Defined so that a naive "definition order" layout crosses: a->d and b->c with c defined before d.
    layout = layout_graph(['a', 'b', 'c', 'd'], [('a', 'd'), ('b', 'c')])
    place = _positions(layout)
    assert (place['a'][1] < place['b'][1]) == (place['d'][1] < place['c'][1])
    assert _crossings(layout) == 0


def test_crossing_reduction_helps_on_random_graphs() -> None:
    ids, edges = _random_dag(80, seed=11)
    reduced = layout_graph(ids, edges)
    # The same columns in definition order, without the sweeps, as the baseline.
    baseline_rows: dict[int, list[str]] = {}
    layer_of = {node.id: node.layer for node in reduced.nodes}
    for node_id in ids:
        baseline_rows.setdefault(layer_of[node_id], []).append(node_id)
    baseline = DagLayout(
        nodes=tuple(
            type(reduced.nodes[0])(id=node_id, layer=layer, index=i, x=float(layer), y=i - (len(column) - 1) / 2)
            for layer, column in baseline_rows.items()
            for i, node_id in enumerate(column)
        ),
        edges=reduced.edges,
        layers=reduced.layers,
        rows=reduced.rows,
    )
    assert _crossings(reduced) < _crossings(baseline)


def test_long_edges_do_not_run_through_nodes() -> None:
    # a -> c skips the column of b; c must not sit exactly behind b on a's row with b in the way.
    layout = layout_graph(['a', 'b', 'c', 'd'], [('a', 'b'), ('b', 'c'), ('a', 'd'), ('c', 'd')])
    place = _positions(layout)
    # a->d spans columns 1 and 2: a row is kept free there, so neither b nor c is on the straight line a->d.
    ax, ay = place['a']
    dx, dy = place['d']
    for mid in ('b', 'c'):
        mx, my = place[mid]
        on_line = abs((my - ay) - (dy - ay) * (mx - ax) / (dx - ax)) < 1e-9
        assert not on_line, f'{mid} lies on the long edge a->d'


def test_bad_input_still_lays_out() -> None:
    layout = layout_graph(['a', 'b', 'a'], [('a', 'b'), ('b', 'a'), ('a', 'ghost'), ('a', 'a'), ('a', 'b')])
    assert [node.id for node in layout.nodes] == ['a', 'b']
    assert len(set(_positions(layout).values())) == 2


def test_empty_graph() -> None:
    layout = layout_graph([], [])
    assert layout.nodes == () and layout.layers == 0 and layout.rows == 0


@pytest.mark.parametrize('path', sorted(WORKFLOWS.glob('*.json')), ids=lambda p: p.stem)
def test_example_workflows(path: Path) -> None:
    definition = json.loads(path.read_text())
    layout = layout_definition(definition)
    assert {node.id for node in layout.nodes} == {node['id'] for node in definition['nodes']}
    assert len(set(_positions(layout).values())) == len(layout.nodes)


def test_order_pipeline_reads_left_to_right() -> None:
    layout = layout_definition(json.loads((WORKFLOWS / 'order-pipeline.json').read_text()))
    layers = {node.id: node.layer for node in layout.nodes}
    assert layers['validate_order'] == 0
    assert layers['reserve_inventory'] == layers['charge_payment'] == layers['fraud_check'] == 1
    assert layers['ship_order'] == 3  # after pick_and_pack (column 2)
    assert layers['notify_customer'] == layers['record_analytics'] == 4


def test_a_300_node_workflow_lays_out() -> None:
    """A sanity check that a large graph works, not a timing test (speed is measured in bench/)."""
    ids, edges = _random_dag(300, seed=5)
    layout = layout_graph(ids, edges)
    assert len(layout.nodes) == 300
    assert layout.rows >= max(sum(1 for n in layout.nodes if n.layer == k) for k in range(layout.layers))
