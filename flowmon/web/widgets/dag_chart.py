"""The DAG canvas element: ECharts in the browser, fed O(changed) patches.

``ui.echart`` can only replace a series' data whole, so recolouring one node of 300 re-sent all 300 to every
watching tab, and keeping its Python options true re-wrapped them in observables on every tick. This element
is drawn once from its options (see ``dag_chart.js``) and afterwards receives only the node items that
changed. It says ``ready`` when its chart exists in the browser (also after a re-mount), so that no patch is
sent into the void: :class:`~flowmon.web.widgets.dag_view.DagView` then sends what changed since the build.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments


class DagChart(ui.element, component='dag_chart.js'):
    def __init__(
        self, options: dict[str, Any], *, on_node_click: Callable[[str], None], on_ready: Callable[[], None]
    ) -> None:
        super().__init__()
        # one string: NiceGUI would wrap the nested option dicts (every node item) in observables, per page
        self._props['options'] = json.dumps(options)
        self.on('node_click', lambda e: self._node_clicked(e, on_node_click))
        self.on('ready', lambda _: on_ready())

    def patch(self, diff: dict[str, Any]) -> None:
        """Apply ``diff`` in the browser: ``nodes`` (changed items, matched by name), ``flow``, ``pulse``."""
        self.run_method('patch', diff)

    @staticmethod
    def _node_clicked(event: GenericEventArguments, handler: Callable[[str], None]) -> None:
        if isinstance(event.args, str):
            handler(event.args)
