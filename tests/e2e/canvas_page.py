"""A NiceGUI app whose one page holds the DAG canvas and nothing else (tests/e2e/test_canvas_alone.py runs it).

No other element on the page or in the process brings ECharts: whatever the canvas's JavaScript imports must be
declared by the canvas itself. The port comes from ``CANVAS_PORT``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from nicegui import ui

from flowmon.engine import Event, EventType, fold
from flowmon.web.tailwind import tailwind_css
from flowmon.web.widgets.dag_edges import CSS
from flowmon.web.widgets.dag_view import DagView
from flowmon.web.widgets.dag_viewport import CSS as VIEWPORT_CSS

DEFINITION = {
    'id': 'alone',
    'nodes': [
        {'id': 'fetch', 'type': 'transform', 'name': 'Fetch'},
        {'id': 'store', 'type': 'log', 'name': 'Store'},
    ],
    'edges': [{'source': 'fetch', 'target': 'store'}],
}
T0 = datetime(2025, 1, 2, tzinfo=UTC)
EVENTS = [
    (EventType.EXECUTION_QUEUED, None, {'nodes': ['fetch', 'store'], 'workflow_id': 'alone'}),
    (EventType.EXECUTION_STARTED, None, {}),
    (EventType.NODE_STARTED, 'fetch', {'attempt': 1}),
    (EventType.NODE_COMPLETED, 'fetch', {'output': {}}),
    (EventType.DATA_FLOW, 'fetch', {'target': 'store', 'bytes': 2}),
]


def root() -> None:
    state = fold(
        Event(execution_id='x', seq=i, type=kind, ts=T0 + timedelta(seconds=i), node_id=node, data=data)
        for i, (kind, node, data) in enumerate(EVENTS, 1)
    )
    DagView(DEFINITION, height='300px').apply(state)


if __name__ in {'__main__', '__mp_main__'}:
    ui.add_css(tailwind_css(), shared=True)  # as flowmon's pages get Tailwind's classes (no compiler in the browser)
    ui.add_css(CSS + VIEWPORT_CSS, shared=True)
    ui.run(
        root,
        host='127.0.0.1',
        port=int(os.environ['CANVAS_PORT']),
        show=False,
        reload=False,
        title='canvas',
        tailwind=False,
    )
