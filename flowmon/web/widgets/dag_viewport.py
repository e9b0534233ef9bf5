"""The DAG canvas's viewport: zoom (wheel, buttons), pan (drag) and fit to view, in the browser only.

The canvas (the chart and the SVG edge layer under it, see :mod:`~flowmon.web.widgets.dag_view`) goes into this
element as one child, the stage; ``dag_viewport.js`` moves and scales the stage with one CSS transform, so the edges
stay on the node cards at every zoom and nothing is sent to the server while the user looks around. ECharts maps
pointer positions through CSS transforms, so clicks and tooltips keep working zoomed (the node tooltip lives in the
page's body, at its own size whatever the zoom).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nicegui import ui

# Added once for the app (flowmon.web.install_web, in the overrides layer), with the edge layer's CSS.
CSS = """
.fm-viewport { position: relative; overflow: hidden; touch-action: pan-y; cursor: grab; user-select: none; }
.fm-viewport.fm-panning { cursor: grabbing; }
.fm-viewport > :first-child { transform-origin: 0 0; }
.fm-zoom { position: absolute; top: 6px; right: 6px; display: flex; gap: 2px; z-index: 5; cursor: default; }
.fm-zoom button { min-width: 28px; height: 26px; padding: 0 8px; border-radius: 6px; font-size: 13px; line-height: 1;
                  border: 1px solid var(--fm-border, #cbd5e1); background: var(--fm-surface, #fff);
                  color: var(--fm-text, #0f172a); cursor: pointer; opacity: .9; }
.fm-zoom button:hover { opacity: 1; border-color: var(--q-primary); }
"""


class DagViewport(ui.element, component='dag_viewport.js'):
    """Holds the canvas's stage (its one child) at ``height`` (CSS); the browser zooms, pans and fits it.

    ``legible_zoom``: the least zoom at which the names on the graph's cards can be read (None: no names). On a
    narrow screen a graph that fitting would shrink below it starts at that zoom instead, at its left end; and so does
    one that fitting would shrink below ``named_zoom`` (the zoom below which its cards are drawn unnamed; None: it
    starts fitted) in any window.

    ``keep``: a name for the place the canvas is drawn in, when a new canvas replaces it there (the workflow editor's
    preview, redrawn on each valid edit). While the page is open, the view the visitor moved to (zoom, pan, Fit) is
    kept under that name and the canvas drawn next in its place starts from it rather than from its start view: at
    the same zoom, with the node that was nearest the middle of the view (of those it still has) at the same place in
    the viewport, or fitted after a Fit. A canvas that has none of the nodes of the last one starts anew. ``places``:
    where the nodes are drawn, what ``keep`` needs: the chart's margins in px (left, right, top, bottom) and each
    node's centre in percent of the plot area between them (:meth:`~flowmon.web.widgets.dag_edges.PlotArea.percent`).
    """

    def __init__(
        self,
        height: str,
        *,
        legible_zoom: float | None = None,
        named_zoom: float | None = None,
        keep: str | None = None,
        places: tuple[tuple[float, float, float, float], Mapping[str, tuple[float, float]]] | None = None,
    ) -> None:
        super().__init__()
        self.classes('fm-viewport w-full').style(f'height: {height}').props('data-testid=dag-viewport')
        self._props['legible-zoom'] = legible_zoom
        self._props['named-zoom'] = named_zoom
        if keep is not None and places is not None:
            margins, nodes = places
            self._props['keep'] = keep
            # one string: NiceGUI would wrap a nested dict in observables
            self._props['places'] = json.dumps({'area': margins, 'nodes': nodes})
