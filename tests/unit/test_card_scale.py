"""The canvas's card sizes (flowmon.web.widgets.dag_view.CardScale): names on the cards of a column of many nodes, on
a stage taller than the canvas; wider cards and names on two lines where a graph's many columns have long names."""

from __future__ import annotations

import itertools
import math

from flowmon.web.graph_layout import DagLayout, layout_graph
from flowmon.web.widgets.dag_view import MAX_NAMED_ROWS, CardScale, auto_height


def _fan_out(width: int) -> DagLayout:
    shards = [f'w{i}' for i in range(width)]
    edges = [('split', shard) for shard in shards] + [(shard, 'join') for shard in shards]
    return layout_graph(['split', *shards, 'join'], edges)


def _chain(length: int) -> DagLayout:
    ids = [f's{i}' for i in range(length)]
    return layout_graph(ids, list(itertools.pairwise(ids)))


def test_a_fan_out_of_a_hundred_keeps_named_cards_on_a_taller_stage() -> None:
    layout = _fan_out(100)
    canvas = auto_height(layout)
    scale = CardScale.for_layout(layout, canvas, longest_name=22)
    assert scale.labels and scale.tall
    assert scale.canvas_height == canvas == 640
    assert scale.stage_height == math.ceil(100.6 * 44)  # 44 px a row
    assert 28 <= scale.card[1] <= 32  # the name and the card line
    assert scale.legible_zoom == 1.0  # small cards: legible at their full size
    # read zoomed in in any case (fitted into view, its names are not drawn): its cards take what its names need
    assert CardScale.for_layout(layout, canvas, longest_name=29).card[0] == math.ceil(29 * 7.2)


def test_a_column_the_canvas_holds_named_stays_within_it() -> None:
    layout = _fan_out(12)
    scale = CardScale.for_layout(layout, auto_height(layout), longest_name=22)
    assert scale.labels and not scale.tall
    assert scale.stage_height == scale.canvas_height
    # a little taller than the canvas (its names legible fitted into view): cards no wider than in the canvas
    layout = _fan_out(20)
    assert CardScale.for_layout(layout, auto_height(layout), longest_name=29).tall
    assert CardScale.for_layout(layout, auto_height(layout), longest_name=29).card[0] == 200


def test_a_column_of_more_than_can_be_named_is_dots_within_the_canvas() -> None:
    layout = _fan_out(MAX_NAMED_ROWS + 1)
    scale = CardScale.for_layout(layout, auto_height(layout), longest_name=22)
    assert not scale.labels and not scale.tall
    assert scale.legible_zoom is None


def test_long_names_on_many_columns_get_wider_cards_and_two_lines() -> None:
    layout = _chain(14)
    scale = CardScale.for_layout(layout, auto_height(layout), longest_name=50)
    assert scale.name_lines == 2
    # half the name and a few characters to break it between words, at 7.2 px a character
    assert scale.card[0] == math.ceil((25 + 4) * 7.2)
    assert scale.card[1] >= 44  # two lines of name and the card line


def test_cards_widen_no_more_than_their_budget_while_the_graph_fits_it() -> None:
    layout = _chain(3)
    assert CardScale.for_layout(layout, auto_height(layout), longest_name=90).card[0] == 200
    assert CardScale.for_layout(layout, auto_height(layout), longest_name=12).card[0] == 140  # the narrowest
    assert CardScale.for_layout(_chain(14), 300, longest_name=200).card[0] == 240  # wider than its budget anyway


def test_short_cards_keep_their_names_on_one_line() -> None:
    scale = CardScale.for_layout(_fan_out(14), 640, longest_name=40)
    assert scale.labels and scale.card[1] < 44
    assert scale.name_lines == 1
    assert scale.card[0] == 200
