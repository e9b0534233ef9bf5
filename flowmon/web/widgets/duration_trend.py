"""Each node's duration over its last successful runs: one line per node (an ECharts line chart), drawn once.

Bounded whatever the workflow: at most :data:`MAX_LINES` lines (the nodes with the highest median: where the time
goes) of at most 50 points each (:data:`~flowmon.application.stats.SAMPLE`). Series are named by node id (ids are
letters, digits and ``_.-``: nothing in them is markup for the tooltip); axis and label colours are mid-greys that
read on the light and the dark page alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nicegui import ui

from flowmon.application.stats import NodeRun, NodeStats

MAX_LINES = 8
AXIS_COLOR = '#9ca3af'
GRID_LINE_COLOR = 'rgba(148, 163, 184, 0.25)'
PALETTE = ['#3b82f6', '#22c55e', '#f59e0b', '#ef4444', '#a855f7', '#06b6d4', '#ec4899', '#84cc16']


MIN_RUNS = 2  # a trend needs two points: one run is a lone dot at the chart's edge


def chosen_nodes(runs: Mapping[str, Sequence[NodeRun]], limit: int = MAX_LINES) -> list[str]:
    """The nodes to draw: those with :data:`MIN_RUNS` runs or more, highest median first, at most ``limit``."""
    usual = {node_id: NodeStats.of(run.seconds for run in got) for node_id, got in runs.items() if len(got) >= MIN_RUNS}
    return sorted(usual, key=lambda node_id: -(usual[node_id].p50_seconds or 0.0))[:limit]


def chart_note(runs: Mapping[str, Sequence[NodeRun]], ran: int, limit: int = MAX_LINES) -> str | None:
    """What the chart leaves out of the ``ran`` nodes in the table, when it draws some but not all of them (None when
    it draws all, or none: then the panel says why itself)."""
    eligible = sum(1 for got in runs.values() if len(got) >= MIN_RUNS)
    drawn = min(eligible, limit)
    if drawn == 0 or drawn >= ran:
        return None
    if drawn < eligible:
        of = f'the {eligible} that have succeeded twice or more' if eligible < ran else f'the {ran}'
        return f'The chart shows the {drawn} nodes with the longest median of {of}.'
    return f'The chart shows {drawn} of the {ran} nodes: those that have succeeded twice or more.'


class DurationTrend:
    """The chart, or a note that nothing has run successfully yet."""

    def __init__(self, runs: Mapping[str, Sequence[NodeRun]]) -> None:
        nodes = chosen_nodes(runs)
        self.nodes = nodes
        self.unit: str | None = None
        if not nodes:
            ui.label("No trend yet: each node's durations show here once it has succeeded twice.").classes(
                'text-sm text-grey-7'
            ).mark('duration-trend-empty')
            self.chart: ui.echart | None = None
            return
        # milliseconds when every run took less than a second ("0.0001 s" reads badly), seconds otherwise
        longest = max(run.seconds for node_id in nodes for run in runs[node_id])
        unit, scale, digits = ('ms', 1000.0, 3) if longest < 1 else ('s', 1.0, 3)
        self.unit = unit
        series = [
            {
                'name': node_id,
                'type': 'line',
                'showSymbol': True,
                'symbolSize': 5,
                'data': [
                    [round(run.finished_at.timestamp() * 1000), round(run.seconds * scale, digits)]
                    for run in runs[node_id]
                ],
                'lineStyle': {'width': 1.5},
                'color': PALETTE[index % len(PALETTE)],
            }
            for index, node_id in enumerate(nodes)
        ]
        self.chart = (
            ui.echart(_options(nodes, series, unit), renderer='svg')
            .classes('w-full')
            .style('height: 260px')
            .props('data-testid=duration-trend')
            .mark('duration-trend')
        )


def _options(nodes: list[str], series: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    return {
        'animation': False,
        'backgroundColor': 'transparent',
        'grid': {'left': 8, 'right': 16, 'top': 36, 'bottom': 8, 'containLabel': True},
        'legend': {'top': 0, 'type': 'scroll', 'textStyle': {'color': AXIS_COLOR}, 'data': nodes},
        'tooltip': {'trigger': 'axis'},
        'xAxis': {
            'type': 'time',
            'axisLine': {'lineStyle': {'color': AXIS_COLOR}},
            'axisLabel': {'color': AXIS_COLOR, 'hideOverlap': True},
            'minInterval': 1000,  # (no ticks within a second: runs seconds apart labelled "07:21:13 668")
        },
        'yAxis': {
            'type': 'value',  # (the unit on each label: an axis name would sit under the legend on a phone)
            'axisLabel': {'color': AXIS_COLOR, 'formatter': '{value} ' + unit},  # (unit: 'ms' or 's')
            'splitLine': {'lineStyle': {'color': GRID_LINE_COLOR}},
        },
        'series': series,
    }
