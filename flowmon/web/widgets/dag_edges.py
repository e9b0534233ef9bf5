"""The static edge layer under the DAG canvas: one SVG of curves plus arrow heads, patched, never redrawn.

ECharts redraws every series on every ``setOption``; with hundreds of edges that alone costs tens of
milliseconds a frame. Edges hardly change (only whether data has passed along them), so they live in
plain SVG beneath the chart's transparent canvas, positioned over exactly the chart's plot area
(same margins, same axis bounds, ``preserveAspectRatio="none"``), drawn once in the browser (``dag_edges.js``), and
an edge that first carries data is restyled by a patch that toggles one class: O(changed), no re-render.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowmon.web.widgets.patched import PatchedElement

EDGE_COLOR = '#94a3b8'  # slate 400: visible on white and on the dark page
# A branch's label on its edge is text: the pages' muted grey (4.5:1 on their surfaces in both modes); this one where a
# page has no such variable (EDGE_COLOR was 2.6:1 on white)
BRANCH_TEXT = '#5b6270'

# Added once for the app (flowmon.web.install_web, in the overrides layer), not sent with every canvas.
CSS = f"""
.fm-edges {{ position: absolute; pointer-events: none; will-change: transform; }}
.fm-edges svg {{ position: absolute; inset: 0; width: 100%; height: 100%; overflow: visible; }}
.fm-edges path {{ fill: none; stroke: {EDGE_COLOR}; stroke-width: 1.5px; stroke-dasharray: 4 4; opacity: .6;
                  vector-effect: non-scaling-stroke; }}
.fm-edges path.c {{ stroke-dasharray: none; opacity: .95; }}
.fm-arrow {{ position: absolute; width: 0; height: 0; border-left: 8px solid {EDGE_COLOR};
            border-top: 4.5px solid transparent; border-bottom: 4.5px solid transparent; }}
.fm-branch {{ position: absolute; transform: translate(-50%, -100%); font-size: 10px; line-height: 1;
             color: var(--fm-muted, {BRANCH_TEXT}); white-space: nowrap; }}
"""


@dataclass(frozen=True, slots=True)
class PlotArea:
    """Where the chart draws: margins in px and the axis bounds in layout units (y grows downwards)."""

    left: float
    right: float
    top: float
    bottom: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def percent(self, x: float, y: float) -> tuple[float, float]:
        return (
            100 * (x - self.x_min) / (self.x_max - self.x_min),
            100 * (y - self.y_min) / (self.y_max - self.y_min),
        )


class EdgeLayer(PatchedElement, component='dag_edges.js'):
    """Curves from each source to each target, with an arrow at the left side of every target with inputs.

    The drawing is static and goes into the props once (``geometry``); what changes is which edges data has passed
    along. Snapshot: ``{carried: [edge index, ...]}``; patch: ``{carried: [...], cleared: [...]}``."""

    def __init__(
        self,
        edges: Sequence[tuple[str, str]],
        positions: Mapping[str, tuple[float, float]],
        branches: Mapping[tuple[str, str], bool | None],
        area: PlotArea,
        *,
        half_width_px: float,
        half_width_units: float,
    ) -> None:
        super().__init__()
        self._edges = list(edges)
        self._index = {edge: i for i, edge in enumerate(self._edges)}
        self._positions = positions
        self._half_units = half_width_units
        self._carried: frozenset[int] = frozenset()
        self._props['geometry'] = json.dumps(self._geometry(branches, area, half_width_px))
        self.classes('fm-edges').style(
            f'left: {area.left}px; right: {area.right}px; top: {area.top}px; bottom: {area.bottom}px'
        )

    def show(self, carried: Collection[tuple[str, str]]) -> None:
        """Draw the ``carried`` edges (those data has passed along) solid, the others dashed."""
        indices = frozenset(self._index[edge] for edge in carried if edge in self._index)
        if indices == self._carried:
            return
        added, removed = sorted(indices - self._carried), sorted(self._carried - indices)
        self._carried = indices
        if self.drawn:
            self.send_patch({'carried': added, 'cleared': removed})

    def snapshot(self) -> dict[str, Any]:
        return {'carried': sorted(self._carried)}

    def path(self, source: str, target: str) -> list[list[float]]:
        """The edge's course as points in layout units (for the animated flow overlay)."""
        (x1, y1), (x2, y2) = self._positions[source], self._positions[target]
        a, b = x1 + self._half_units, x2 - self._half_units
        middle = (a + b) / 2
        points = [[x1, y1], [a, y1]]
        for step in range(1, 12):  # the drawn cubic: from (a, y1) via (middle, y1), (middle, y2) to (b, y2)
            t = step / 12
            x = a * (1 - t) ** 3 + 3 * middle * (1 - t) * t + b * t**3
            y = y1 + (y2 - y1) * t * t * (3 - 2 * t)
            points.append([round(x, 4), round(y, 4)])
        points += [[b, y2], [x2, y2]]
        return points

    def _geometry(
        self, branches: Mapping[tuple[str, str], bool | None], area: PlotArea, half_width_px: float
    ) -> dict[str, Any]:
        """What ``dag_edges.js`` draws: the SVG's view box, each edge's path (in layout units, stretched over the
        plot area), the branch labels and the arrow heads (in percent of the plot area)."""
        paths, labels = [], []
        targets: set[str] = set()
        for source, target in self._edges:
            (x1, y1), (x2, y2) = self._positions[source], self._positions[target]
            a, b = x1 + self._half_units, x2 - self._half_units
            middle = (a + b) / 2
            paths.append(f'M{x1:g} {y1:g}H{_n(a)}C{_n(middle)} {y1:g} {_n(middle)} {y2:g} {_n(b)} {y2:g}H{x2:g}')
            targets.add(target)
            when = branches.get((source, target))
            if when is not None:
                left, top = area.percent(middle, (y1 + y2) / 2)
                labels.append([round(left, 3), round(top, 3), 'yes' if when else 'no'])
        arrows = [[round(v, 3) for v in area.percent(*self._positions[target])] for target in sorted(targets)]
        width, height = area.x_max - area.x_min, area.y_max - area.y_min
        return {
            'viewBox': f'{area.x_min:g} {area.y_min:g} {width:g} {height:g}',
            'paths': paths,
            'labels': labels,
            'arrows': arrows,
            'arrowOffset': half_width_px + 9,  # px left of the target's centre: the card's edge and the head
        }


def _n(value: float) -> str:
    return f'{value:.3f}'.rstrip('0').rstrip('.')
