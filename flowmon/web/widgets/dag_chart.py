"""The DAG canvas element: ECharts in the browser, drawn once, then fed the node items that changed.

``ui.echart`` can only replace a series' data whole, so recolouring one node of 300 re-sent all 300 to every
watching tab, and keeping its Python options true re-wrapped them in observables on every tick. This element
(``dag_chart.js``) builds the chart from options that never change, draws the node items, the ripples of active
nodes and the particles of edges carrying data from a snapshot once the chart exists, and then takes patches
(:mod:`~flowmon.web.widgets.patched`). The node tooltip and card label are formatted in the browser from the
names and types given once (``text``); a node item carries only its status (``s``) and card line (``m``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import nicegui
from nicegui.events import GenericEventArguments

from flowmon.engine.core.state import NODE_STATUSES
from flowmon.web.theme import status_color
from flowmon.web.widgets.patched import PatchedElement

# ECharts as NiceGUI ships it (its own echart element declares the same import name for the same folder), and the
# mixin that puts a chart into a component (lib/fm-chart.js imports it): what a chart component declares.
ECHARTS = {'nicegui-echart': str(Path(nicegui.__file__).parent / 'elements' / 'echart' / 'dist')}
CHART = 'lib/fm-chart.js'
NAMES = 'lib/fm-names.js'  # names cut in their middle (the canvas's cards, the Timeline's axis)
Item = dict[str, Any]


class DagChart(
    PatchedElement,
    component='dag_chart.js',
    dependencies=[CHART, NAMES, 'lib/fm-escape.js'],
    esm=ECHARTS,
):
    """Snapshot: ``{nodes: [item, ...], flow: [...], pulse: [...]}``; patch: ``nodes`` (the items that changed,
    matched by name) and ``flow`` or ``pulse`` (whole series) when they changed."""

    def __init__(
        self,
        options: dict[str, Any],
        items: Iterable[Item],
        *,
        names: Mapping[str, str],
        types: Mapping[str, str],
        card_width: int | None,
        name_lines: int = 1,
        label_zoom: float = 0.0,
        on_node_click: Callable[[str], None],
    ) -> None:
        """``options`` without series data; ``card_width``: px of a labelled card (None: dots without labels);
        ``name_lines``: the lines a name may take on it; ``label_zoom``: the least zoom of the canvas's viewport at
        which the names and card lines are drawn on the cards (below it, short names in a larger font)."""
        super().__init__()
        # one string each: NiceGUI would wrap the nested dicts in observables, per page
        self._props['options'] = json.dumps(options)
        colors = {status: status_color(status) for status in NODE_STATUSES}
        text: dict[str, Any] = {'names': names, 'types': types, 'colors': colors, 'card': card_width}
        text |= {'lines': name_lines, 'labelZoom': label_zoom}
        self._props['text'] = json.dumps(text)
        self._nodes = {item['name']: item for item in items}  # what the chart shows (or will, once drawn)
        self._series: dict[str, list[Any]] = {'flow': [], 'pulse': []}
        self.on('node_click', lambda e: self._node_clicked(e, on_node_click))

    def show(self, items: Iterable[Item], *, flow: list[Any] | None = None, pulse: list[Any] | None = None) -> None:
        """Show the node ``items`` given (each replaces the item of the same name) and the ``flow`` and ``pulse``
        series (each whole; None: as they are)."""
        diff: dict[str, Any] = {}
        changed = [item for item in items if self._nodes.get(item['name']) is not item]
        if changed:
            self._nodes.update((item['name'], item) for item in changed)
            diff['nodes'] = changed
        for key, data in (('flow', flow), ('pulse', pulse)):
            if data is not None and data != self._series[key]:
                diff[key] = self._series[key] = data
        if self.drawn:
            self.send_patch(diff)

    def reveal(self, name: str) -> None:
        """Bring the card of node ``name`` into view, when the chart is drawn and the card is out of view."""
        if self.drawn and name in self._nodes:
            self.run_method('reveal', name)

    def snapshot(self) -> dict[str, Any]:
        return {'nodes': list(self._nodes.values()), **self._series}

    @staticmethod
    def _node_clicked(event: GenericEventArguments, handler: Callable[[str], None]) -> None:
        if isinstance(event.args, str):
            handler(event.args)
