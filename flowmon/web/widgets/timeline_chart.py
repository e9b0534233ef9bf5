"""The replay Gantt chart: one row per node, each attempt a segment on the execution's real time axis.

Segments are coloured by how the attempt ended (theme palette: retried amber, failed red, succeeded green,
still running blue); reuse and skip markers are thin ticks. A vertical cursor marks the replay position and
moves with a small ``setOption`` merge. Clicking a segment calls ``on_span(node_id, position)`` with the
position where that attempt ended (where its outcome, e.g. the error, becomes visible).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui
from nicegui.events import EChartPointClickEventArguments

from flowmon.engine.core.replay_index import ReplayIndex, Span
from flowmon.web.format import duration
from flowmon.web.markup import echarts_tooltip, join, tag
from flowmon.web.theme import outcome_status, status_color

CURSOR_COLOR = '#6366f1'  # indigo 500, like the canvas selection ring
ROW_PX = 26
# Draws one segment: [row, start s, end s, ...] -> a rounded bar, at least 3 px wide so instant attempts show.
RENDER_ITEM = """(params, api) => {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.58;
  const marker = api.value(5) === 1;
  const width = marker ? 3 : Math.max(end[0] - start[0], 3);
  return {type: 'rect', shape: {x: start[0] - (marker ? 1.5 : 0), y: start[1] - height / 2, width: width,
          height: height, r: marker ? 0 : 3}, style: api.style()};
}"""


class TimelineChart:
    """A Gantt chart of ``index``'s node spans; :meth:`show_cursor` moves the position line."""

    def __init__(
        self,
        index: ReplayIndex,
        names: Mapping[str, str],
        on_span: Callable[[str, int], Any] | None = None,
    ) -> None:
        self._on_span = on_span
        spans = index.spans()
        self._rows = [node_id for node_id in index.node_order if node_id in spans]
        self._duration = index.duration_s or 0.001
        self._updates = 0
        data = [
            _item(row, span, self._duration)
            for row, node_id in enumerate(self._rows)
            for span in spans.get(node_id, [])
        ]
        labels = [names.get(node_id, node_id) for node_id in self._rows]
        height = max(140, len(self._rows) * ROW_PX + 56)
        self.chart = (
            ui.echart(
                {
                    'animation': False,
                    'grid': {'left': 8, 'right': 18, 'top': 8, 'bottom': 28, 'containLabel': True},
                    'tooltip': {'trigger': 'item', 'confine': True},
                    'xAxis': {
                        'type': 'value',
                        'min': 0,
                        'max': round(self._duration, 3),
                        'axisLabel': {':formatter': '(v) => v + " s"', 'color': '#94a3b8'},
                        'splitLine': {'lineStyle': {'color': 'rgba(148,163,184,0.18)'}},
                    },
                    'yAxis': {
                        'type': 'category',
                        'data': labels,
                        'inverse': True,
                        'axisTick': {'show': False},
                        'axisLine': {'show': False},
                        'axisLabel': {'color': '#94a3b8', 'width': 150, 'overflow': 'truncate'},
                    },
                    'series': [
                        {
                            'id': 'spans',
                            'type': 'custom',
                            ':renderItem': RENDER_ITEM,
                            'encode': {'x': [1, 2], 'y': 0},
                            'data': data,
                        },
                        {
                            'id': 'cursor',
                            'type': 'line',
                            'data': [],
                            'silent': True,
                            'markLine': {
                                'silent': True,
                                'symbol': 'none',
                                'animation': False,
                                'label': {'show': False},
                                'lineStyle': {'color': CURSOR_COLOR, 'width': 2, 'type': 'solid'},
                                'data': [{'xAxis': 0}],
                            },
                        },
                    ],
                },
                on_point_click=self._clicked,
            )
            .classes('w-full')
            .style(f'height: {height}px')
            .props('data-testid=replay-gantt')
            .mark('replay-gantt')
        )

    @property
    def rows(self) -> list[str]:
        return list(self._rows)

    def show_cursor(self, seconds: float) -> None:
        """Move the cursor line to ``seconds`` since the first event."""
        value = round(max(0.0, seconds), 3)
        series = self.chart.options['series'][1]
        if series['markLine']['data'] == [{'xAxis': value}]:
            return
        series['markLine']['data'] = [{'xAxis': value}]
        self._updates += 1
        if self._updates <= 2:  # the chart may not be mounted yet: a props update waits for it
            self.chart.update()
        else:
            patch = {'series': [{'id': 'cursor', 'markLine': {'data': [{'xAxis': value}]}}]}
            self.chart.run_chart_method('setOption', patch)

    def _clicked(self, event: EChartPointClickEventArguments) -> None:
        if event.series_type != 'custom' or self._on_span is None or not isinstance(event.value, list):
            return
        row, start, end = int(event.value[0]), int(event.value[3]), event.value[4]
        if not 0 <= row < len(self._rows):
            return
        self._on_span(self._rows[row], int(end) if isinstance(end, int | float) and end >= 0 else start)


def _item(row: int, span: Span, duration_s: float) -> dict[str, Any]:
    end_s = span.end_s if span.end_s is not None else duration_s
    marker = span.outcome in ('reused', 'skipped')
    color = status_color(outcome_status(span.outcome))
    took = duration((end_s - span.start_s) * 1000)
    title = f'{span.node_id} · attempt {span.attempt}' if span.attempt else span.node_id
    lines = [f'{span.outcome} · {took}' if not marker else span.outcome]
    if span.error:
        lines.append(span.error[:160])
    lines.append(f'events {span.start}-{span.end or "…"}')
    tip = join([tag('b', title), *(join([tag('br'), tag('span', line)]) for line in lines)])
    return {
        'value': [row, round(span.start_s, 4), round(end_s, 4), span.start, span.end if span.end is not None else -1,
                  1 if marker else 0],
        'itemStyle': {'color': color, 'opacity': 0.55 if span.outcome == 'running' else 1},
        'tooltip': {'formatter': echarts_tooltip(tip)},
    }  # fmt: skip
