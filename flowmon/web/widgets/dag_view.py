"""The workflow canvas: an ECharts graph coloured by node status, with data flowing along edges.

The only module that knows ECharts option dicts for the DAG. Positions come from
:mod:`flowmon.web.graph_layout` (deterministic, computed in Python); colours from :mod:`flowmon.web.theme`; what a
node's card says from its :class:`~flowmon.web.node_views.NodeView`. :meth:`DagView.apply` takes an
:class:`ExecutionState` (any state: live, or "as of event k" for replay) and sends the browser only the node items
that changed (:mod:`flowmon.web.widgets.dag_chart`). ECharts repaints every series on each update, so the many
static edges are not a series at all: they are an SVG layer underneath (:mod:`flowmon.web.widgets.dag_edges`),
and the chart holds only the nodes, the ripples of active nodes and the particles of edges carrying data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.engine.core.state import ExecutionState
from flowmon.web.graph_layout import DagLayout, layout_definition
from flowmon.web.node_views import NodeView, NodeViews
from flowmon.web.theme import status_color
from flowmon.web.widgets.dag_chart import DagChart, Item
from flowmon.web.widgets.dag_edges import EDGE_COLOR, EdgeLayer, PlotArea
from flowmon.web.widgets.dag_viewport import DagViewport

FLOW_WINDOW_SECONDS = 1.5  # an edge animates while its last data.flow is at most this old
# Effects are animated every frame (costly without a GPU), so they are capped: beyond these counts active nodes
# only glow and edges only turn solid. Dense graphs (dots, or cards on a stage taller than the canvas) get no ripples.
MAX_PULSING = 24
MAX_FLOWING = 30
GLOW_BLUR = 18  # px of glow around active nodes
# A glow (a blur filter) is costly to paint without a GPU (a few hundred glowing nodes took the browser's main
# thread for 200 ms a frame), so nodes glow only while at most this many are active; beyond it colour and size
# say it.
MAX_GLOWING = MAX_PULSING
SELECTED_COLOR = '#6366f1'  # indigo 500: the selection ring
SLOW_COLOR = '#d97706'  # amber 600: the dashed outline of a node slower than usual
FLOW_COLOR = status_color('running')
ACTIVE_STATUSES = frozenset({'running', 'retrying'})
CARD_TEXT = '#0f172a'  # slate 900: readable on every status fill of the palette, in light and dark mode
# The card's name and its card line (status, duration), as ECharts rich text: both in CARD_TEXT at full strength (the
# card line at 80% was 3.7:1 on a running card's blue, 3.9:1 on a failed card's red); the line is smaller, not fainter
CARD_TEXT_STYLES: dict[str, dict[str, Any]] = {
    'name': {'fontSize': 12, 'fontWeight': 600, 'color': CARD_TEXT},
    'meta': {'fontSize': 10, 'color': CARD_TEXT},
}
CARD_WIDTH = 140  # px of a labelled node card, at the least
MAX_CARD_WIDTH = 200  # px of a labelled card at the most: a card widens for longer names up to this
CHAR_PX = 7.2  # px of a character of a card's name, on average (the browser clips names at this rate: dag_chart.js)
COLUMN_GAP = 36  # px between the cards of two columns
# Cards widen for long names only while the graph stays this wide at most: a canvas wider than the page is shown
# fitted into view, smaller, and so are the names on it (its narrowest cards are CARD_WIDTH wide in any case)
WIDTH_BUDGET_PX = 1000
HALF_WIDTH_BUDGET_PX = 560  # the same for a canvas in half a page (two compared side by side, the editor's preview)
MIN_CARD_HEIGHT = 28  # px of a card with its two lines of text
CARD_ROW_SHARE = 0.72  # of a row's height, a card takes this much
# A graph whose rows leave the canvas's height too little for named cards is drawn on a taller stage, this many px a
# row (cards 31 px high), which the canvas starts showing fitted into view, its names to read once zoomed in; a
# column of more nodes than this stays within the canvas, as dots (each named in its tooltip)
NAMED_ROW_PX = 44
MAX_NAMED_ROWS = 300
TWO_LINE_CARD_HEIGHT = 44  # px of a card that holds a name on two lines above its card line
WRAP_SLACK_CHARS = 4  # a name broken between words leaves up to this much of its first line empty
MAX_WIDE_CARD_WIDTH = 240  # px of a card at the most in a graph whose names are read zoomed in (see LABEL_ZOOM)
# A canvas of height 'auto' takes 72 px a row, from 300 to 640 px; up to 720 px where that keeps the names on the
# cards (a column of 15 or 16 nodes, as the fan-out demo's, was drawn as dots by a few pixels)
AUTO_HEIGHT_PX = (300, 640)
AUTO_HEIGHT_FOR_NAMES_PX = 720
# The browser draws the names on the cards from this zoom on (smaller, a 12 px name is less than 6 px high and no one
# reads it): below it a card shows its name alone, short, in a font large enough to read while the card holds one
# (dag_chart.js's shortName), else its status colour alone; the tooltip and the node list name it whole
LABEL_ZOOM = 0.5
# A canvas beside other panels (the execution page's node list) wants room for its graph at this zoom at the least,
# or at full size when its cards are this short (their names are small already): see DagView.legible_width
LEGIBLE_ZOOM = 0.7
SMALL_CARD_HEIGHT = 40


@dataclass(frozen=True, slots=True)
class CardScale:
    """Pixel sizes chosen from the graph's extent: named cards, on a stage taller than the canvas when its columns
    need it, dots only for a column of more than :data:`MAX_NAMED_ROWS` nodes. ``min_width`` keeps a column wide
    enough for its cards, ``stage_height`` its rows tall enough (a larger stage starts fitted into view, to zoom
    into and pan: :mod:`~flowmon.web.widgets.dag_viewport`)."""

    card: tuple[int, int]  # symbol width, height in px
    labels: bool  # names inside the cards; off when the graph is too dense to read them
    column: int  # px between columns at the narrowest
    min_width: int  # px the canvas needs to keep cards apart
    canvas_height: int  # px of the canvas the drawing is shown in
    stage_height: int  # px of the drawing: the canvas's height, or more for a column of many named cards
    name_lines: int = 1  # lines a card's name may take (a longer one is cut in its middle on the last)

    @property
    def tall(self) -> bool:
        """The drawing is taller than the canvas (it starts fitted into view, its cards small)."""
        return self.stage_height > self.canvas_height

    @property
    def legible_zoom(self) -> float | None:
        """The least zoom at which the names on the cards stay legible: :data:`LEGIBLE_ZOOM`, or full size for cards
        shorter than :data:`SMALL_CARD_HEIGHT` (their names are small already); None for dots (no names)."""
        if not self.labels:
            return None
        return 1.0 if self.card[1] < SMALL_CARD_HEIGHT else LEGIBLE_ZOOM

    @staticmethod
    def for_layout(
        layout: DagLayout, height_px: float, longest_name: int = 0, width_budget: int = WIDTH_BUDGET_PX
    ) -> CardScale:
        """``height_px``: the canvas's height. ``longest_name``: characters of the longest node name; cards widen to
        show it whole, up to :data:`MAX_CARD_WIDTH` and while the graph stays within ``width_budget`` px, or up to
        :data:`MAX_WIDE_CARD_WIDTH` in a graph whose names are read zoomed in in any case (too wide or too tall for
        fitting it into view to leave them legible); a card tall enough holds
        a name on two lines. A longer name is cut in its middle on the card, and is whole in its tooltip."""
        canvas = int(height_px)
        stage = canvas
        slots = max(layout.rows + 0.6, 1)
        row_px = stage / slots
        if row_px * CARD_ROW_SHARE < MIN_CARD_HEIGHT and layout.rows <= MAX_NAMED_ROWS:
            stage = math.ceil(slots * NAMED_ROW_PX)
            row_px = stage / slots
        card_h = int(min(46, row_px * CARD_ROW_SHARE))
        labels = card_h >= MIN_CARD_HEIGHT
        lines = 2 if card_h >= TWO_LINE_CARD_HEIGHT else 1
        if labels:
            # a stage so much taller than the canvas that fitted into view its names are not drawn is read zoomed in
            read_zoomed_in = stage * LABEL_ZOOM > canvas
            card = (_card_width(layout, longest_name, lines, width_budget, read_zoomed_in=read_zoomed_in), card_h)
            column = card[0] + COLUMN_GAP
        else:
            dot = int(max(6, min(20, row_px * 0.7)))
            card, column = (dot, dot), max(int(dot * 2.4), 30)
        return CardScale(
            card=card,
            labels=labels,
            column=column,
            min_width=_width(layout, column),
            canvas_height=canvas,
            stage_height=stage,
            name_lines=lines if labels else 1,
        )


def _card_width(layout: DagLayout, longest_name: int, lines: int, width_budget: int, *, read_zoomed_in: bool) -> int:
    """The px width of a named card (see :meth:`CardScale.for_layout`)."""
    # a graph so wide that fitting it into its budget hides the names even on the narrowest cards (or so tall:
    # ``read_zoomed_in``) is read zoomed in in any case: its cards take what their names need
    if read_zoomed_in or _width(layout, CARD_WIDTH + COLUMN_GAP) * LABEL_ZOOM > width_budget:
        widest = MAX_WIDE_CARD_WIDTH
    else:
        widest = min(MAX_CARD_WIDTH, int(width_budget / (layout.layers + 0.3)) - COLUMN_GAP)
    need = math.ceil(longest_name * CHAR_PX)  # on one line
    if need > widest and lines == 2:
        need = math.ceil((longest_name / 2 + WRAP_SLACK_CHARS) * CHAR_PX)
    return max(CARD_WIDTH, min(widest, need))


class DagView:
    """A workflow drawn as a left-to-right DAG; call :meth:`apply` with a state to recolour it."""

    def __init__(
        self,
        workflow_definition: dict[str, Any],
        on_select: Callable[[str], None] | None = None,
        height: str = '420px',
        views: NodeViews | None = None,
        *,
        definition_only: bool = False,
        width_budget: int = WIDTH_BUDGET_PX,
        start_named: bool = False,
        keep_view: str | None = None,
    ) -> None:
        """``height`` is CSS; ``'auto'`` picks one from the graph's tallest column (:func:`auto_height`). ``views``: the
        node views the page shares among its widgets (the page then brings them up to each state and tells
        :meth:`apply` which changed); without, the view keeps its own. ``definition_only``: a workflow, not an
        execution: cards say each node's type where an execution would say ``pending``. ``width_budget``: px the
        graph may take when its cards widen for long names (:data:`HALF_WIDTH_BUDGET_PX` for a canvas in half a
        page). ``start_named``: a graph that fitting into view would shrink below :data:`LABEL_ZOOM` (its cards
        unnamed) starts at the zoom that keeps its names legible, at its left end, to pan along or fit, in any window
        (as on a phone): for a canvas whose cards are read by name, the editor's preview, the compare page's.
        ``keep_view``: the name of the place this canvas is drawn in, where a new one replaces it (the editor's preview,
        on each edit): the view the visitor moved to there is kept for the next (see :class:`DagViewport`'s
        ``keep``)."""
        layout = layout_definition(workflow_definition)  # not kept: see _node_item on what a page holds per node
        self._positions = {node.id: (node.x, node.y) for node in layout.nodes}
        self._order = {node.id: (node.layer, node.index) for node in layout.nodes}
        self._rows, self._layers = layout.rows, layout.layers
        nodes = [node for node in workflow_definition.get('nodes') or () if isinstance(node, Mapping) and 'id' in node]
        self._names = {str(node['id']): str(node.get('name') or node['id']) for node in nodes}
        types = {str(node['id']): str(node.get('type') or '') for node in nodes}
        self._idle_lines = types if definition_only else {}  # the card line of a node that has not run
        branches = {
            (str(edge['source']), str(edge['target'])): edge.get('when')
            for edge in workflow_definition.get('edges') or ()
            if isinstance(edge, Mapping) and 'source' in edge and 'target' in edge
        }
        self._on_select = on_select
        if height == 'auto':
            height = f'{auto_height(layout)}px'
        self.height = height
        longest = max((len(name) for name in self._names.values()), default=0)
        self._scale = CardScale.for_layout(layout, _px(height, 420), longest, width_budget)
        self._views = views if views is not None else NodeViews(self._positions)
        self._selected: str | None = None
        self._state: ExecutionState | None = None
        self._active: set[str] = set()  # running or retrying nodes
        self._glow = True
        self._flowing = False
        self._area = self._plot_area()
        stage_height = f'{self._scale.stage_height}px' if self._scale.tall else height
        named_zoom = LABEL_ZOOM if start_named else None
        places = self._places() if keep_view is not None else None
        with DagViewport(
            height, legible_zoom=self._scale.legible_zoom, named_zoom=named_zoom, keep=keep_view, places=places
        ):
            with (
                ui.element('div')
                .classes('relative')
                .style(f'height: {stage_height}; width: max(100%, {self._scale.min_width}px)')
            ):
                self._edges = EdgeLayer(
                    layout.edges,
                    self._positions,
                    branches,
                    self._area,
                    half_width_px=self._scale.card[0] / 2,
                    half_width_units=self._scale.card[0] / 2 / self._scale.column,
                )
                self.chart = (
                    DagChart(
                        self._options(),
                        [self._node_item(node_id) for node_id in self._positions],
                        names={node_id: self.name_of(node_id) for node_id in self._positions},
                        types={node_id: types.get(node_id, '') for node_id in self._positions},
                        card_width=self._scale.card[0] if self._scale.labels else None,
                        name_lines=self._scale.name_lines,
                        label_zoom=LABEL_ZOOM,
                        on_node_click=self._clicked,
                    )
                    .classes('absolute inset-0')
                    .style('width: 100%; height: 100%')
                    .props('data-testid=dag-canvas')
                )

    @property
    def legible_width(self) -> int:
        """The px of canvas width that shows the whole graph with the names on its cards legible (at the zoom its
        scale calls legible); for a drawing taller than the canvas, which no width shows whole and legible, the
        width it takes fitted into view."""
        scale = self._scale
        if scale.tall:
            return math.ceil(scale.min_width * scale.canvas_height / scale.stage_height)
        return math.ceil(scale.min_width * (scale.legible_zoom or LEGIBLE_ZOOM))

    @property
    def order(self) -> dict[str, tuple[int, int]]:
        """Each node's place in the layout: (column, row within the column)."""
        return dict(self._order)

    def name_of(self, node_id: str) -> str:
        return self._names.get(node_id, node_id)

    def apply(
        self, state: ExecutionState | None, now: datetime | None = None, changed: Iterable[str] | None = None
    ) -> None:
        """Show ``state`` (None: every node pending). ``now`` dates the edge animation; it defaults to the
        state's last event time, which is what a replay wants; the live page passes the wall clock.
        ``changed``: the nodes whose views changed, when the page keeps the views (see ``views``); by default the
        view brings its own views up to ``state``. The same state again only moves the clock: nodes are not
        looked at again."""
        if changed is None:
            changed = self._views.update(state)
        moved = state is not self._state
        self._state = state
        items = self._changed_items(changed)
        pulse = self._pulse() if items else None
        flow = self._flows(state, now or (state.last_ts if state is not None else None))
        self._flowing = bool(flow)
        if moved:
            self._edges.show(state.edges.keys() if state is not None else ())
        self.chart.show(items, flow=flow, pulse=pulse)

    def select(self, node_id: str | None) -> None:
        """Ring ``node_id`` on the canvas and bring it into view when it is out of view (None clears the selection)."""
        if node_id is not None:
            self.chart.reveal(node_id)
        if node_id == self._selected:
            return
        before, self._selected = self._selected, node_id
        self.chart.show([self._node_item(key) for key in (before, node_id) if key in self._positions])

    @property
    def has_active_flows(self) -> bool:
        """True while some edge is animated: the caller should keep calling :meth:`apply` so it stops in time."""
        return self._flowing

    # --- ECharts option building ------------------------------------------------------------------------

    def _plot_area(self) -> PlotArea:
        width, height = self._scale.card
        xs = [x for x, _ in self._positions.values()] or [0.0]
        ys = [y for _, y in self._positions.values()] or [0.0]
        pad_y = 0.55 if self._rows > 1 else 1.0
        pad_x = 0.0 if self._layers > 1 else 0.5
        return PlotArea(
            left=width / 2 + 12,
            right=width / 2 + 12,
            top=height / 2 + 10,
            bottom=height / 2 + 10,
            x_min=min(xs) - pad_x,
            x_max=max(xs) + pad_x,
            y_min=min(ys) - pad_y,
            y_max=max(ys) + pad_y,
        )

    def _places(self) -> tuple[tuple[float, float, float, float], dict[str, tuple[float, float]]]:
        """Where the nodes are drawn (see :class:`DagViewport`'s ``places``)."""
        area = self._area
        nodes = {}
        for node_id, (x, y) in self._positions.items():
            px, py = area.percent(x, y)
            nodes[node_id] = (round(px, 3), round(py, 3))
        return (area.left, area.right, area.top, area.bottom), nodes

    def _options(self) -> dict[str, Any]:
        """The chart's options without data (the chart gets its items with its first snapshot); the node
        tooltip and card label are formatted in the browser (``dag_chart.js``)."""
        width, height = self._scale.card
        area = self._area
        symbol = 'roundRect' if self._scale.labels else 'circle'
        return {
            'animation': False,
            'grid': {'left': area.left, 'right': area.right, 'top': area.top, 'bottom': area.bottom},
            # in the page's body, not in the canvas: the viewport scales the canvas (a 300-node graph fits at 0.2),
            # and a tooltip inside it would be scaled too (11 px high); ECharts removes it with the chart. Placed
            # beside the pointer in screen px and kept in the visible canvas by dag_chart.js (tipPosition)
            'tooltip': {'trigger': 'item', 'enterable': False, 'appendTo': 'body', 'className': 'fm-dag-tip'},
            'xAxis': {'type': 'value', 'show': False, 'min': area.x_min, 'max': area.x_max},
            'yAxis': {'type': 'value', 'show': False, 'inverse': True, 'min': area.y_min, 'max': area.y_max},
            'series': [
                # zlevel orders the series: the effects underneath, the node cards on top
                {
                    'id': 'flow',
                    'type': 'lines',
                    'coordinateSystem': 'cartesian2d',
                    'polyline': True,
                    'silent': True,
                    'zlevel': 1,
                    'effect': {
                        'show': True,
                        'period': 0.8,
                        'symbol': 'circle',
                        'symbolSize': 6,
                        'trailLength': 0.3,
                        'color': FLOW_COLOR,
                    },
                    'lineStyle': {'color': FLOW_COLOR, 'width': 2, 'opacity': 0.55},
                    'data': [],
                },
                {
                    'id': 'pulse',
                    'type': 'effectScatter',
                    'coordinateSystem': 'cartesian2d',
                    'silent': True,
                    'zlevel': 1,
                    'symbol': symbol,
                    'symbolSize': [width, height],
                    'rippleEffect': {
                        'brushType': 'stroke',
                        'scale': 1.35 if self._scale.labels else 2.4,
                        'period': 1.6,
                        'number': 2,
                    },
                    'data': [],
                },
                {
                    'id': 'nodes',
                    'type': 'graph',
                    'coordinateSystem': 'cartesian2d',
                    'zlevel': 2,
                    'symbol': symbol,
                    'symbolSize': [width, height],
                    'emphasis': {'scale': 1.04, 'label': {'show': True}},
                    'itemStyle': {'color': status_color('pending')},
                    'tooltip': {},
                    'label': self._label_style(),
                    'data': [],
                    'links': [],  # edges are the SVG layer underneath (dag_edges)
                },
            ],
        }

    def _label_style(self) -> dict[str, Any]:
        if not self._scale.labels:
            return {'show': False, 'position': 'bottom', 'color': EDGE_COLOR, 'fontSize': 10}
        return {
            'show': True,
            'position': 'inside',
            'color': CARD_TEXT,
            'lineHeight': 15,
            'rich': {
                **CARD_TEXT_STYLES,
            },
        }

    def _node_item(self, node_id: str) -> Item:
        """One graph item, as small as possible: it is sent whenever its node changes. Names, types and the
        tooltip and label layout are sent once (see :class:`DagChart`).

        Items hold only strings, numbers and tuples (positions are tuples), so once a full collection has seen
        them the garbage collector stops tracking them: a page keeps no per-node object it would walk again."""
        view: NodeView = self._views[node_id]
        status = view.status
        item: Item = {'name': node_id, 'value': self._positions[node_id]}
        style: dict[str, Any] = {}
        if status != 'pending':
            item['s'] = status
            item['m'] = f'{view.card} · slow' if view.slow else view.card
            style['color'] = status_color(status)
        elif node_id in self._idle_lines:
            item['m'] = self._idle_lines[node_id]
        if view.slow:  # an outline, the word on the card and the figures in the tooltip
            item['w'] = view.slow
            style |= {'borderColor': SLOW_COLOR, 'borderWidth': 3, 'borderType': 'dashed'}
        if status in ACTIVE_STATUSES:
            if self._glow:
                style |= {'shadowBlur': GLOW_BLUR, 'shadowColor': status_color(status)}
            if not self._scale.labels:  # dots have no ripple: an active one grows and rings itself instead
                item['symbolSize'] = round(self._scale.card[0] * 1.5)
                style |= {'borderColor': '#ffffff', 'borderWidth': 2}
        if node_id == self._selected:
            style |= {'borderColor': SELECTED_COLOR, 'borderWidth': 3, 'borderType': 'solid'}
        if style:
            # pairs, not a dict: a dict holding a dict stays tracked by the garbage collector; the browser
            # turns the pairs back into ECharts' itemStyle object (dag_chart.js)
            item['itemStyle'] = tuple(style.items())
        return item

    def _changed_items(self, changed: Iterable[str]) -> list[Item]:
        """New items for the ``changed`` nodes, and for every active node when the glow turns on or off."""
        keys = [key for key in changed if key in self._positions]
        for key in keys:
            if self._views[key].status in ACTIVE_STATUSES:
                self._active.add(key)
            else:
                self._active.discard(key)
        glow = len(self._active) <= MAX_GLOWING
        if glow != self._glow:  # every active node changes its look
            self._glow = glow
            keys = list(dict.fromkeys([*keys, *self._active]))
        return [self._node_item(key) for key in keys]

    def _flows(self, state: ExecutionState | None, now: datetime | None) -> list[dict[str, Any]]:
        """Edges whose last hand-over is at most FLOW_WINDOW_SECONDS old: a particle runs along them."""
        if state is None or now is None or state.is_terminal:
            return []
        flowing = []
        for (source, target), flow in state.edges.items():
            if flow.last_ts is None or source not in self._positions or target not in self._positions:
                continue
            if abs((now - flow.last_ts).total_seconds()) <= FLOW_WINDOW_SECONDS:
                flowing.append({'coords': self._edges.path(source, target)})
        return flowing[-MAX_FLOWING:]

    def _pulse(self) -> list[dict[str, Any]]:
        if not self._scale.labels or self._scale.tall or not self._active:
            return []
        active = [node_id for node_id in self._positions if node_id in self._active]
        return [
            {'value': self._positions[node_id], 'itemStyle': {'color': status_color(self._views[node_id].status)}}
            for node_id in active[:MAX_PULSING]
        ]

    def _clicked(self, node_id: str) -> None:
        if node_id not in self._positions:
            return
        self.select(node_id)
        if self._on_select is not None:
            self._on_select(node_id)


def auto_height(layout: DagLayout) -> int:
    """The px height of a canvas of height 'auto' for ``layout`` (see :data:`AUTO_HEIGHT_FOR_NAMES_PX`)."""
    low, high = AUTO_HEIGHT_PX
    height = max(low, min(high, layout.rows * 72 + 90))
    named = math.ceil((MIN_CARD_HEIGHT + 0.01) / CARD_ROW_SHARE * max(layout.rows + 0.6, 1))
    return max(height, named) if named <= AUTO_HEIGHT_FOR_NAMES_PX else height


def _width(layout: DagLayout, column: int) -> int:
    return int(column * (layout.layers + 0.3))


def _px(css: str, default: float) -> float:
    try:
        return float(css.removesuffix('px')) if css.endswith('px') else default
    except ValueError:
        return default
