"""The Gantt chart of the replay and live pages: one row per node, each attempt a segment on the execution's real
time axis, which starts when the execution was created (queued).

Above the rows a lane shows the execution's wait in the queue, from its creation to its start (or to now while it
still waits, or to its end when it ended before starting): a dashed box labelled "queued 1.3 s", with a faint band
behind the rows over the same time, so the empty space before the first segment says what it was.

Segments are coloured by how the attempt ended (theme palette: retried amber, failed red, succeeded green,
still running blue); reuse and skip markers are thin ticks. A vertical cursor marks the replay position and
moves by a patch (:mod:`~flowmon.web.widgets.patched`), a small ``setOption`` merge in the browser. Clicking a
segment calls ``on_span(node_id, position)`` with the position where that attempt ended (where its outcome, e.g.
the error, becomes visible).

A run with more nodes than ``WINDOW_LANES`` shows that many rows at a time, with a slider on the right to move through
them (an ECharts dataZoom on the row axis, the window's size locked), so the time axis stays under the rows in view.
The node picked on the page (:meth:`TimelineChart.select`) has its row marked, and the window moves to it, keeping its
size, when it is out of the window.

On a narrow window the open inspector is a sheet over the bottom 45% of it (style.py's .fm-inspector): while a node is
picked the window holds as many rows as the room above the sheet takes (the browser says that room, ``room``), so the
chart is seen whole above it, and a row clicked where the sheet comes is lifted above it (the page scrolls).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from flowmon.engine.core.replay_index import ReplayIndex, Span
from flowmon.engine.core.state import ExecutionState
from flowmon.web.format import duration
from flowmon.web.markup import echarts_tooltip, join, tag
from flowmon.web.theme import outcome_status, status_color
from flowmon.web.widgets.dag_chart import CHART, ECHARTS, NAMES
from flowmon.web.widgets.node_list import SHEET
from flowmon.web.widgets.patched import PatchedElement

CURSOR_COLOR = '#6366f1'  # indigo 500, like the canvas selection ring
# node names and time labels: slate 500, 4.8:1 on white; the browser puts the page's muted grey in its place, which
# follows dark mode (timeline_chart.js)
AXIS_TEXT = '#64748b'
ROW_PX = 26
GRID_TOP = 8
LANE_PX = 22  # the queue's lane above the rows
WINDOW_LANES = 20  # a chart with more rows shows this many at a time, with a slider to move through them
SHEET_LANES = 4  # the fewest rows the window holds above the inspector's sheet, however little room a screen has
CHROME_PX = 56  # the chart's height besides its rows and the queue's lane (the time axis, the margins)
GRID_RIGHT = 24  # room on the right for the last time label, which ends at the axis' end
SLIDER_PX = 18  # the slider's room on the right of the rows, when it is shown (timeline_chart.js's SLIDER)


@dataclass(frozen=True, slots=True)
class QueueWait:
    """The execution's wait in the queue, from its creation (0 s on the time axis) for ``seconds``: until it
    ``started``, until now while it is still ``waiting``, or until it ``ended`` without starting (cancelled while
    queued, or interrupted)."""

    seconds: float
    until: Literal['started', 'waiting', 'ended']


def queue_wait(state: ExecutionState | None, now: datetime | None = None) -> QueueWait | None:
    """How long ``state`` waited in the queue; ``now`` for one still waiting (else its last event's time). None when
    its creation is not known (a history that does not begin with ``execution.queued``)."""
    if state is None or state.created_at is None:
        return None
    started, finished = state.started_at, state.finished_at
    end: datetime | None
    if state.is_terminal and finished is not None and (started is None or started >= finished):
        until: Literal['started', 'waiting', 'ended'] = 'ended'
        end = finished
    elif started is None:
        until, end = 'waiting', now or state.last_ts
    else:
        until, end = 'started', started
    if end is None:
        return None
    return QueueWait(max(0.0, (end - state.created_at).total_seconds()), until)


class TimelineChart(
    PatchedElement,
    component='timeline_chart.js',
    dependencies=[CHART, NAMES, SHEET],
    esm=ECHARTS,
    default_classes='w-full',
):
    """A Gantt chart of ``index``'s node spans; :meth:`show_cursor` moves the position line, :meth:`select` marks a
    node's row and brings it into view.

    The chart (``timeline_chart.js``, which draws the segments) is built once from its options; on the replay page
    the cursor, the picked row and the window are its moving parts. On the live page :meth:`grow` redraws the
    segments as the run goes. Snapshot and patch: ``{cursor: seconds, picked: row or -1, window: [first row, last
    row] or None}``, with ``{labels, data, max, queue, top}`` once grown (``queue``: the queue lane's item or None,
    ``top``: the grid's top margin, with room for the lane), and ``lift: true`` in the patch of a node picked by a
    click on its segment. The browser says where its slider moved the window (``window``) and, on a narrow window,
    how many px the chart has above the inspector's sheet (``room``, null on a wide one)."""

    def __init__(
        self,
        index: ReplayIndex | None,
        names: Mapping[str, str],
        on_span: Callable[[str, int], Any] | None = None,
    ) -> None:
        """``index``: the whole history (replay), its wait in the queue drawn from its final state; None for a chart
        that :meth:`grow` fills as a run goes."""
        super().__init__()
        self._on_span = on_span
        self._names = names
        self._grown: dict[str, Any] | None = None  # what grow() drew since the options were built
        self._cursor = 0.0
        self._picked: str | None = None  # the node picked on the page, whose row is marked
        self._room: int | None = None  # px for the chart above the inspector's sheet (None: no sheet on this screen)
        self._clicking = False  # a click on a segment is picking its node
        spans = index.spans() if index is not None else {}
        self._rows = [node_id for node_id in (index.node_order if index else ()) if node_id in spans]
        self._window = lane_window(None, len(self._rows), self._lanes())
        self._duration = (index.duration_s if index else 0.0) or 0.001
        self._queue = queue_wait(index.final) if index is not None else None
        labels, data = self._layout(spans)
        # one string: NiceGUI would wrap the nested option dicts (every span) in observables, per page
        self._props['options'] = json.dumps(_options(self._duration, labels, data, self._queue, self._window))
        self._fit_height()
        self.props('data-testid=replay-gantt').mark('replay-gantt')
        self.on('span_click', lambda e: self._clicked(e.args))
        self.on('window', lambda e: self._slid(e.args), throttle=0.2)
        self.on('room', lambda e: self._roomed(e.args))

    @property
    def rows(self) -> list[str]:
        return list(self._rows)

    def show_cursor(self, seconds: float) -> None:
        """Move the cursor line to ``seconds`` since the first event."""
        value = round(max(0.0, seconds), 3)
        if value != self._cursor:
            self._cursor = value
            self.send_patch({'cursor': value})

    def select(self, node_id: str | None) -> None:
        """Mark ``node_id``'s row (None: no row) and, when it is out of the window, move the window to it (the
        window holds fewer rows while a node is picked on a narrow window: the room above the inspector's sheet)."""
        self._picked = node_id
        diff: dict[str, Any] = {'picked': self._picked_row(), **self._fit_window()}
        if self._clicking and node_id is not None:
            diff['lift'] = True
        self.send_patch(diff)

    def grow(self, spans: Mapping[str, Sequence[Span]], duration_s: float, queue: QueueWait | None = None) -> None:
        """Draw ``spans`` (rows in their order) over ``duration_s`` seconds, the cursor at its end: a run that is
        still going, whose open attempts reach to now, after its wait in the ``queue``. One patch with every segment
        (callers pace it)."""
        self._rows = list(spans)
        window, self._window = self._window, lane_window(self._window, len(self._rows), self._lanes())
        self._duration = max(duration_s, 0.001)
        self._queue = queue
        labels, data = self._layout(spans)
        self._grown = {
            'labels': labels,
            'data': data,
            'max': axis_end(self._duration),
            'queue': _queue_item(queue),
            'top': _grid_top(queue),
        }
        self._cursor = axis_end(self._duration)
        self._fit_height()
        # (the window only when it changed: one the slider moved a moment ago may not have been reported yet)
        moved = {'window': self._window} if self._window != window else {}
        self.send_patch({**self._grown, 'picked': self._picked_row(), **moved, 'cursor': self._cursor})

    def snapshot(self) -> dict[str, Any]:
        return {**(self._grown or {}), 'picked': self._picked_row(), 'window': self._window, 'cursor': self._cursor}

    def _picked_row(self) -> int:
        """The picked node's row, -1 when no node is picked or it has no row (it never ran)."""
        return self._rows.index(self._picked) if self._picked in self._rows else -1

    def _layout(self, spans: Mapping[str, Sequence[Span]]) -> tuple[list[str], list[dict[str, Any]]]:
        data = [
            _item(row, span, self._duration)
            for row, node_id in enumerate(self._rows)
            for span in spans.get(node_id, [])
        ]
        return [self._names.get(node_id, node_id) for node_id in self._rows], data

    def _lanes(self) -> int:
        """The window's size: WINDOW_LANES, or while a node is picked on a narrow window as many rows as the room
        above the inspector's sheet takes (SHEET_LANES at least)."""
        if self._picked is None or self._room is None:
            return WINDOW_LANES
        lane = LANE_PX if self._queue is not None else 0
        return max(SHEET_LANES, min(WINDOW_LANES, (self._room - CHROME_PX - lane) // ROW_PX))

    def _fit_window(self) -> dict[str, Any]:
        """The window sized to :meth:`_lanes` and moved to the picked row when it is out of it (the chart's height
        with it); the patch that says so, when it changed."""
        row = self._picked_row()
        window = lane_window(self._window, len(self._rows), self._lanes())
        window = reveal(window, row, len(self._rows)) if row >= 0 else window
        if window == self._window:
            return {}
        size = _size(self._window, len(self._rows))
        self._window = window
        if _size(window, len(self._rows)) != size:
            self._fit_height()
        return {'window': window}

    def _fit_height(self) -> None:
        lane = LANE_PX if self._queue is not None else 0
        rows = min(len(self._rows), self._lanes())
        self.style(f'height: {max(140, rows * ROW_PX + CHROME_PX + lane)}px')

    def _clicked(self, value: object) -> None:
        """A segment was clicked: ``value`` is its item's value (row, start s, end s, first event, last event)."""
        if self._on_span is None or not isinstance(value, list) or len(value) < 5:
            return
        row, start, end = value[0], value[3], value[4]
        if not isinstance(row, int) or not 0 <= row < len(self._rows) or not isinstance(start, int):
            return
        self._clicking = True
        try:
            self._on_span(self._rows[row], int(end) if isinstance(end, int | float) and end >= 0 else start)
        finally:
            self._clicking = False

    def _slid(self, value: object) -> None:
        """The slider moved the window: ``value`` is [first row, last row] as the browser shows them now."""
        if self._window is None or not isinstance(value, list) or len(value) != 2:
            return
        first, last = value
        if type(first) is int and type(last) is int and 0 <= first <= last < len(self._rows):
            # (kept at its size: the slider moves it)
            self._window = lane_window((first, last), len(self._rows), self._lanes())

    def _roomed(self, value: object) -> None:
        """The browser says how many px the chart has above the inspector's sheet on its screen (null: no sheet, a
        wide window): while a node is picked the window takes that room."""
        room = value.get('px') if isinstance(value, dict) else None
        self._room = room if type(room) is int and 0 <= room <= 100_000 else None
        if self._picked is not None:
            self.send_patch(self._fit_window())


def lane_window(window: tuple[int, int] | None, rows: int, lanes: int = WINDOW_LANES) -> tuple[int, int] | None:
    """The rows in view of a chart with ``rows`` rows that showed ``window``: None when they all fit in ``lanes``,
    else ``lanes`` of them, from the top at first, then where the window was (within the rows)."""
    if rows <= lanes:
        return None
    first = min(window[0], rows - lanes) if window is not None else 0
    return first, first + lanes - 1


def reveal(window: tuple[int, int] | None, row: int, rows: int) -> tuple[int, int] | None:
    """``window`` (the rows in view of ``rows``) when ``row`` is in it or every row is in view, else a window of its
    size that has ``row`` in its middle, as near as the first and the last row allow."""
    if window is None or window[0] <= row <= window[1]:
        return window
    size = window[1] - window[0] + 1
    first = max(0, min(row - size // 2, rows - size))
    return first, first + size - 1


def _options(
    duration_s: float,
    labels: list[str],
    data: list[dict[str, Any]],
    queue: QueueWait | None,
    window: tuple[int, int] | None,
) -> dict[str, Any]:
    """The chart without its cursor and marks; the segments' and the queue's shapes and the axis labels are drawn
    by ``timeline_chart.js``, which also moves the window (``window``: the rows in view, None when all are)."""
    return {
        'animation': False,
        # room on the right for the last time label (the run's length, e.g. "12.345 s"), and for the slider of a
        # chart that shows some of its rows at a time (moved by timeline_chart.js's rowWindow)
        'grid': {'left': 8, 'right': _grid_right(window), 'top': _grid_top(queue), 'bottom': 28, 'containLabel': True},
        'dataZoom': [
            {
                'id': 'rows',
                'type': 'slider',
                'yAxisIndex': 0,
                **_window_range(window),
                'zoomLock': True,  # the window keeps its size: it moves
                'width': 12,
                'right': 6,
                'top': _grid_top(queue),
                'bottom': 28,
                'showDetail': False,
                'showDataShadow': False,
                'brushSelect': False,
                # rows out of the window are left out where they are drawn (timeline_chart.js's inRows): the queue's
                # item has no row to filter by
                'filterMode': 'none',
            }
        ],
        'tooltip': {'trigger': 'item', 'confine': True},
        'xAxis': {
            'type': 'value',
            'min': 0,
            'max': axis_end(duration_s),
            # the run's length always labels the axis' end; a label that would touch it or another is left out, and a
            # narrow chart has fewer ticks (timeline_chart.js)
            'axisLabel': {'color': AXIS_TEXT, 'hideOverlap': True, 'showMaxLabel': True, 'alignMaxLabel': 'right'},
            'splitLine': {'lineStyle': {'color': 'rgba(148,163,184,0.18)'}},
        },
        'yAxis': {
            'type': 'category',
            'data': labels,
            'inverse': True,
            'axisTick': {'show': False},
            'axisLine': {'show': False},
            # (the font the browser measures a name in to cut it in its middle: timeline_chart.js's NAME_FONT)
            'axisLabel': {'color': AXIS_TEXT, 'width': 150, 'overflow': 'truncate', 'fontFamily': 'sans-serif'},
        },
        'series': [
            {'id': 'spans', 'type': 'custom', 'encode': {'x': [1, 2], 'y': 0}, 'data': data},
            # under the segments (z), which are drawn over its band; its text in the axes' grey (themed in the browser)
            {
                'id': 'queue',
                'type': 'custom',
                'z': 1,
                'encode': {'x': [0, 1]},
                'itemStyle': {'color': AXIS_TEXT},
                'data': [item] if (item := _queue_item(queue)) else [],
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
            # the picked node's row, a band behind its segments (timeline_chart.js draws it)
            {
                'id': 'picked',
                'type': 'custom',
                'z': 1,
                'silent': True,
                'tooltip': {'show': False},
                'encode': {'y': 0},
                'data': [],
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


def _size(window: tuple[int, int] | None, rows: int) -> int:
    """How many rows ``window`` shows of ``rows`` (None: all)."""
    return rows if window is None else window[1] - window[0] + 1


def _grid_right(window: tuple[int, int] | None) -> int:
    return GRID_RIGHT + (SLIDER_PX if window is not None else 0)


def _window_range(window: tuple[int, int] | None) -> dict[str, Any]:
    """The slider's part of the options: shown over the rows in ``window``, hidden over all rows without one."""
    if window is None:
        return {'show': False, 'start': 0, 'end': 100}
    return {'show': True, 'startValue': window[0], 'endValue': window[1]}


def _grid_top(queue: QueueWait | None) -> int:
    return GRID_TOP + (LANE_PX if queue is not None else 0)


def axis_end(seconds: float) -> float:
    """The time axis' end for a run of ``seconds``: rounded up to the millisecond, so that no segment (drawn to a
    tenth of one) ends past it."""
    return math.ceil(round(seconds * 1000, 6)) / 1000


def _queue_item(queue: QueueWait | None) -> dict[str, Any] | None:
    """The queue lane's one item: value [0, until s], its label as ``name`` and a tooltip that says what ended it."""
    if queue is None:
        return None
    took = duration(queue.seconds * 1000)
    line = {
        'started': f'{took} from its creation until it started',
        'waiting': f'{took} so far: still waiting for a free slot to start',
        'ended': f'{took}: it ended before it started',
    }[queue.until]
    tip = join([tag('b', 'Waiting in the queue'), tag('br'), tag('span', line)])
    return {
        'name': f'queued {took}',
        'value': [0, round(queue.seconds, 4)],
        'tooltip': {'formatter': echarts_tooltip(tip)},
    }
