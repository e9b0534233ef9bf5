"""What the workflow page's duration chart says it leaves out of the node table."""

from __future__ import annotations

from datetime import UTC, datetime

from flowmon.application.stats import NodeRun
from flowmon.web.widgets.duration_trend import MAX_LINES, chart_note, chosen_nodes

AT = datetime(2026, 1, 1, tzinfo=UTC)


def runs(**counts: int) -> dict[str, list[NodeRun]]:
    """``counts`` successful runs of each node, the n-th node taking n seconds."""
    return {
        node_id: [NodeRun(f'e{i}', float(n), AT) for i in range(count)]
        for n, (node_id, count) in enumerate(counts.items(), start=1)
    }


def test_no_note_when_the_chart_draws_every_node_or_none() -> None:
    assert chart_note(runs(a=2, b=3), ran=2) is None
    assert chart_note(runs(a=1, b=1), ran=2) is None  # no chart: the panel says why itself


def test_nodes_that_succeeded_once_are_named_as_left_out() -> None:
    trend = runs(a=2, b=1, c=1)
    assert chosen_nodes(trend) == ['a']
    assert chart_note(trend, ran=3) == 'The chart shows 1 of the 3 nodes: those that have succeeded twice or more.'


def test_past_the_line_limit_the_slowest_are_drawn() -> None:
    many = runs(**{f'n{i}': 2 for i in range(MAX_LINES + 2)})
    assert len(chosen_nodes(many)) == MAX_LINES
    assert chart_note(many, ran=MAX_LINES + 2) == (
        f'The chart shows the {MAX_LINES} nodes with the longest median of the {MAX_LINES + 2}.'
    )
    mixed = {**many, 'once': runs(x=1)['x']}
    assert chart_note(mixed, ran=MAX_LINES + 3) == (
        f'The chart shows the {MAX_LINES} nodes with the longest median of the {MAX_LINES + 2} that have succeeded '
        'twice or more.'
    )
