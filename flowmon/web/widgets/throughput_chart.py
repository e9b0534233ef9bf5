"""Executions per minute over the last hour, succeeded and failed stacked (an ECharts bar chart).

The only module that knows this chart's ECharts options. Colours come from the palette; axis and label
colours are mid-greys that read on the light and the dark page alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from nicegui import ui

from flowmon.application.dashboard import MinuteCount
from flowmon.web.theme import status_color

AXIS_COLOR = '#9ca3af'
GRID_LINE_COLOR = 'rgba(148, 163, 184, 0.25)'


class ThroughputChart:
    """Call :meth:`show` with the per-minute series; it redraws only when the numbers changed."""

    def __init__(self, *, min_height: str = '220px') -> None:
        self._shown: tuple[tuple[str, int, int], ...] | None = None
        self.chart = (
            ui.echart(_options([], [], []), renderer='svg')
            .classes('w-full grow')
            .style(f'min-height: {min_height}')
            .mark('throughput-chart')
        )  # grows with its panel (the panel beside it sets the row's height)

    def show(self, series: Sequence[MinuteCount], tz: tzinfo) -> None:
        rows = tuple((m.start.astimezone(tz).strftime('%H:%M'), m.succeeded, m.failed) for m in series)
        if rows == self._shown:
            return
        self._shown = rows
        labels = [label for label, _, _ in rows]
        succeeded = [ok for _, ok, _ in rows]
        failed = [bad for _, _, bad in rows]
        self.chart.options.clear()
        self.chart.options.update(_options(labels, succeeded, failed))
        self.chart.update()


def _options(labels: list[str], succeeded: list[int], failed: list[int]) -> dict[str, Any]:
    def bars(name: str, data: list[int], status: str) -> dict[str, Any]:
        return {
            'name': name,
            'type': 'bar',
            'stack': 'ended',
            'data': data,
            'barCategoryGap': '25%',
            'itemStyle': {'color': status_color(status)},
            'emphasis': {'focus': 'series'},
        }

    return {
        'animation': False,
        'backgroundColor': 'transparent',
        'grid': {'left': 36, 'right': 12, 'top': 28, 'bottom': 24},
        'legend': {
            'top': 0,
            'right': 0,
            'itemWidth': 10,
            'itemHeight': 10,
            'textStyle': {'color': AXIS_COLOR},
            'data': ['succeeded', 'failed'],
        },
        'tooltip': {'trigger': 'axis', 'axisPointer': {'type': 'shadow'}},
        'xAxis': {
            'type': 'category',
            'data': labels,
            'axisLine': {'lineStyle': {'color': AXIS_COLOR}},
            'axisTick': {'show': False},
            'axisLabel': {'color': AXIS_COLOR, 'interval': 9, 'hideOverlap': True},
        },
        'yAxis': {
            'type': 'value',
            'minInterval': 1,
            'axisLabel': {'color': AXIS_COLOR},
            'splitLine': {'lineStyle': {'color': GRID_LINE_COLOR}},
        },
        'series': [bars('succeeded', succeeded, 'succeeded'), bars('failed', failed, 'failed')],
        'graphic': [
            {
                'id': 'empty',
                'type': 'text',
                'left': 'center',
                'top': 'middle',
                'invisible': bool(sum(succeeded) + sum(failed)),
                'style': {'text': 'No executions ended in the last hour', 'fill': AXIS_COLOR, 'fontSize': 13},
            }
        ],
    }
