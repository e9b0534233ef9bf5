"""The Timeline of a run with more nodes than it shows at a time, in a real Chromium: 20 rows in view with a slider
beside them; a node picked in the node list whose row is out of view brings it in (the window keeps its size) and
marks it; where the slider left the window is where a pick starts from; the replay page's chart alike, in dark mode.
Screenshots go to test-output/screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Page, expect
from waiting import wait_until

Api = Callable[..., httpx.Response]
SHARDS = 118  # with the split and the join: 120 nodes
FAN_OUT = {
    'id': 'e2e-timeline-fan-out',
    'name': 'A hundred and eighteen shards',
    'nodes': [
        {'id': 'split', 'type': 'log', 'name': 'Split the batch', 'config': {'message': 'x'}},
        *(
            {'id': f'w{i:03d}', 'type': 'log', 'name': f'Process shard {i}', 'config': {'message': f'shard {i}'}}
            for i in range(SHARDS)
        ),
        {'id': 'join', 'type': 'log', 'name': 'Join the shards', 'config': {'message': 'x'}},
    ],
    'edges': [
        *({'source': 'split', 'target': f'w{i:03d}'} for i in range(SHARDS)),
        *({'source': f'w{i:03d}', 'target': 'join'} for i in range(SHARDS)),
    ],
}
# the Gantt's window of rows ([first, last]), whether its slider shows, and the row names drawn bold
ROWS = """async () => {
 const { echarts } = await import('nicegui-echart');
 const gantt = document.querySelector('[data-testid=replay-gantt]');
 const chart = gantt && echarts.getInstanceByDom(gantt);
 if (!chart) return null;
 const option = chart.getOption();
 const zoom = option.dataZoom[0];
 const bold = option.yAxis[0].data.filter((d) => d?.textStyle?.fontWeight === 'bold').map((d) => d.value);
 return { window: [zoom.startValue, zoom.endValue], slider: zoom.show, bold };
}"""
# the Gantt's row names drawn on its canvas now
DRAWN = """async () => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 return chart.getZr().storage.getDisplayList()
  .filter((e) => (e.type === 'tspan' || e.type === 'text') && !e.ignore && !e.invisible && e.style.text)
  .map((e) => e.style.text);
}"""
# as the slider does when dragged (by percent of the row axis, rows 0 to 119): the window moved to rows 50-69
SLIDE = """async () => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 chart.dispatchAction({ type: 'dataZoom', dataZoomIndex: 0, start: (50 / 119) * 100, end: (69 / 119) * 100 });
}"""


def _rows(page: Page) -> dict[str, Any] | None:
    rows: dict[str, Any] | None = page.evaluate(ROWS)
    return rows


def test_a_picked_node_out_of_the_timelines_window_is_brought_into_it(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{FAN_OUT["id"]}', FAN_OUT).status_code in (200, 201)
    execution = start(server, str(FAN_OUT['id']))
    wait_ended(server, execution)
    sent: list[str] = []  # what the page sends over its socket
    page.on('websocket', lambda ws: ws.on('framesent', lambda frame: sent.append(str(frame))))
    sign_in(page, server, f'/executions/{execution}')
    expect(page.get_by_test_id('replay-gantt')).to_be_visible()
    wait_until(lambda: _rows(page) == {'window': [0, 19], 'slider': True, 'bold': []}, 'the first 20 rows in view')
    assert 'Process shard 18' in page.evaluate(DRAWN) and 'Process shard 115' not in page.evaluate(DRAWN)

    # w115 is row 116 (after the split): picked in the node list, its row comes into view, marked
    page.get_by_test_id('node-w115').click()
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 115')
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 115'], 'its row marked')
    first, last = (_rows(page) or {})['window']
    assert first <= 116 <= last and last - first == 19
    assert 'Process shard 115' in page.evaluate(DRAWN)
    page.get_by_test_id('replay-gantt').scroll_into_view_if_needed()
    page.screenshot(path=str(shots / 'timeline-picked-row.png'))
    page.get_by_role('button', name='Close inspector').click()
    wait_until(lambda: (_rows(page) or {}).get('bold') == [], 'no row marked once the inspector closed')
    page.get_by_test_id('replay-gantt').screenshot(path=str(shots / 'timeline-window.png'))

    # the slider moves the window (the page tells the server where); a node picked inside the new window leaves it
    page.evaluate(SLIDE)
    wait_until(lambda: (_rows(page) or {}).get('window') == [50, 69], 'the slid window')
    wait_until(lambda: any('[50,69]' in frame for frame in sent), 'the window told to the server')
    page.get_by_test_id('node-w055').click()
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 55'], "w055's row marked")
    assert (_rows(page) or {})['window'] == [50, 69]

    # the replay's chart alike, in dark mode
    page.goto(f'/executions/{execution}/replay?at=300')
    wait_until(lambda: _rows(page) == {'window': [0, 19], 'slider': True, 'bold': []}, "the replay's first 20 rows")
    page.get_by_test_id('theme-toggle').click()
    page.get_by_test_id('node-w110').click()
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 110'], 'its row marked on the replay')
    first, last = (_rows(page) or {})['window']
    assert first <= 111 <= last and last - first == 19
    page.get_by_test_id('replay-gantt').scroll_into_view_if_needed()
    page.screenshot(path=str(shots / 'timeline-replay-picked-row-dark.png'))
