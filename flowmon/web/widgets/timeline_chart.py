"""The replay Gantt chart: one row per node, each attempt a segment on the execution's real time axis.

Segments are coloured by how the attempt ended (theme palette: retried amber, failed red, succeeded green,
still running blue); reuse and skip markers are thin ticks. A vertical cursor marks the replay position and
moves by a patch (:mod:`~flowmon.web.widgets.patched`), a small ``setOption`` merge in the browser. Clicking a
segment calls ``on_span(node_id, position)`` with the position where that attempt ended (where its outcome, e.g.
the error, becomes visible).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from flowmon.engine.core.replay_index import ReplayIndex, Span
from flowmon.web.format import duration
from flowmon.web.markup import echarts_tooltip, join, tag
from flowmon.web.theme import outcome_status, status_color
from flowmon.web.widgets.dag_chart import CHART, ECHARTS
from flowmon.web.widgets.patched import PatchedElement

CURSOR_COLOR = '#6366f1'  # indigo 500, like the canvas selection ring
ROW_PX = 26


class TimelineChart(
    PatchedElement, component='timeline_chart.js', dependencies=[CHART], esm=ECHARTS, default_classes='w-full'
):
    """A Gantt chart of ``index``'s node spans; :meth:`show_cursor` moves the position line.

    The chart (``timeline_chart.js``, which draws the segments) is built once from its options; the cursor is its
    one moving part. Snapshot and patch: ``{cursor: seconds}``."""

    def __init__(
        self,
        index: ReplayIndex,
        names: Mapping[str, str],
        on_span: Callable[[str, int], Any] | None = None,
    ) -> None:
        super().__init__()
        self._on_span = on_span
        spans = index.spans()
        self._rows = [node_id for node_id in index.node_order if node_id in spans]
        self._duration = index.duration_s or 0.001
        self._cursor = 0.0
        data = [
            _item(row, span, self._duration)
            for row, node_id in enumerate(self._rows)
            for span in spans.get(node_id, [])
        ]
        labels = [names.get(node_id, node_id) for node_id in self._rows]
        # one string: NiceGUI would wrap the nested option dicts (every span) in observables, per page
        self._props['options'] = json.dumps(_options(self._duration, labels, data))
        self.style(f'height: {max(140, len(self._rows) * ROW_PX + 56)}px').props('data-testid=replay-gantt')
        self.mark('replay-gantt')
        self.on('span_click', lambda e: self._clicked(e.args))

    @property
    def rows(self) -> list[str]:
        return list(self._rows)

    def show_cursor(self, seconds: float) -> None:
        """Move the cursor line to ``seconds`` since the first event."""
        value = round(max(0.0, seconds), 3)
        if value != self._cursor:
            self._cursor = value
            self.send_patch({'cursor': value})

    def snapshot(self) -> dict[str, Any]:
        return {'cursor': self._cursor}

    def _clicked(self, value: object) -> None:
        """A segment was clicked: ``value`` is its item's value (row, start s, end s, first event, last event)."""
        if self._on_span is None or not isinstance(value, list) or len(value) < 5:
            return
        row, start, end = value[0], value[3], value[4]
        if not isinstance(row, int) or not 0 <= row < len(self._rows) or not isinstance(start, int):
            return
        self._on_span(self._rows[row], int(end) if isinstance(end, int | float) and end >= 0 else start)


def _options(duration_s: float, labels: list[str], data: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart without its cursor; the segments' shape and the axis labels are drawn by ``timeline_chart.js``."""
    return {
        'animation': False,
        'grid': {'left': 8, 'right': 18, 'top': 8, 'bottom': 28, 'containLabel': True},
        'tooltip': {'trigger': 'item', 'confine': True},
        'xAxis': {
            'type': 'value',
            'min': 0,
            'max': round(duration_s, 3),
            'axisLabel': {'color': '#94a3b8'},
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
            {'id': 'spans', 'type': 'custom', 'encode': {'x': [1, 2], 'y': 0}, 'data': data},
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
    }


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
