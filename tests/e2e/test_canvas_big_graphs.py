"""Big graphs on the canvas in a real Chromium: a fan-out with more nodes in one column than the canvas's height holds
starts fitted into view with its cards unnamed, and zooming in shows the names of the cards in view legibly, where a
click on one still opens that node, and a node picked in the node list is brought into view; a chain of many columns
of long names shows them whole on its cards once zoomed in. Screenshots go to test-output/screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import canvas_zoom, click_on_canvas, node_pixel, sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Page, expect
from waiting import wait_until

Api = Callable[..., httpx.Response]
FAN = 60
FAN_OUT = {
    'id': 'e2e-fan-out',
    'name': 'Sixty shards',
    'nodes': [
        {'id': 'split', 'type': 'log', 'name': 'Split the batch', 'config': {'message': 'x'}},
        *(
            {
                'id': f'w{i:02d}',
                'type': 'log',
                'name': f'Process shard {i} of the batch',
                'config': {'message': f'shard {i}'},
            }
            for i in range(FAN)
        ),
        {'id': 'join', 'type': 'log', 'name': 'Join the shards', 'config': {'message': 'x'}},
    ],
    'edges': [
        *({'source': 'split', 'target': f'w{i:02d}'} for i in range(FAN)),
        *({'source': f'w{i:02d}', 'target': 'join'} for i in range(FAN)),
    ],
}
DEEP = 14
LONG_NAMES = {
    'id': 'e2e-long-names',
    'name': 'Fourteen steps',
    'nodes': [
        {
            'id': f's{i}',
            'type': 'log',
            'name': f'Normalise customer addresses step {i} of the import',
            'config': {'message': 'x'},
        }
        for i in range(DEEP)
    ],
    'edges': [{'source': f's{i}', 'target': f's{i + 1}'} for i in range(DEEP - 1)],
}
# the card texts drawn on the canvas that hold `text`, each with its height on the screen
DRAWN = """(text) => [...document.querySelectorAll('[data-testid=dag-canvas] text')]
  .filter((t) => t.textContent.includes(text)).map((t) => t.getBoundingClientRect().height)"""
INSIDE = """() => {
  const viewport = document.querySelector('[data-testid=dag-viewport]').getBoundingClientRect();
  const stage = document.querySelector('[data-testid=dag-viewport] > div').getBoundingClientRect();
  return stage.top >= viewport.top - 1 && stage.bottom <= viewport.bottom + 1;
}"""


def _zoom_in_at(page: Page, node_id: str, least: float) -> None:
    """Wheel in over ``node_id`` until the zoom is ``least`` or more (the node stays under the pointer)."""
    while canvas_zoom(page) < least:
        before = canvas_zoom(page)
        x, y = node_pixel(page, node_id)
        page.mouse.move(x, y)
        page.mouse.wheel(0, -300)
        wait_until(lambda: canvas_zoom(page) > before, 'the wheel to zoom in')  # noqa: B023 (used at once)


def test_a_wide_fan_out_names_its_cards_once_zoomed_in(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{FAN_OUT["id"]}', FAN_OUT).status_code in (200, 201)
    execution = start(server, str(FAN_OUT['id']))
    wait_ended(server, execution)
    sign_in(page, server, f'/executions/{execution}')
    node_pixel(page, 'w07')  # (drawn)
    # the whole column in view, its cards too small to name: no name is drawn on them (the tooltip names them)
    wait_until(lambda: 0 < canvas_zoom(page) < 0.5, 'the tall graph to start fitted into view')
    assert page.evaluate(INSIDE)
    wait_until(lambda: page.evaluate(DRAWN, 'Process shard 7 of the batch') == [], 'no name drawn at the fitted zoom')
    # the node list stays beside the canvas, naming every node
    canvas, nodes = (
        page.get_by_test_id('canvas-panel').bounding_box(),
        page.get_by_test_id('node-list-panel').bounding_box(),
    )
    assert canvas is not None and nodes is not None and nodes['x'] > canvas['x'] + canvas['width'] - 1
    page.screenshot(path=str(shots / 'canvas-fan-out-fitted.png'))

    _zoom_in_at(page, 'w07', 1.0)
    wait_until(
        lambda: any(height >= 12 for height in page.evaluate(DRAWN, 'Process shard 7 of the batch')),
        'the card to show its name, legible',
        seen=lambda: (page.evaluate(DRAWN, 'Process shard 7 of the batch'), canvas_zoom(page)),
    )
    page.get_by_test_id('dag-viewport').screenshot(path=str(shots / 'canvas-fan-out-zoomed.png'))
    # a named card is still the node: a click on its name opens it
    name = page.locator('[data-testid=dag-canvas] text', has_text='Process shard 7 of the batch').first.bounding_box()
    assert name is not None
    click_on_canvas(page, name['x'] + name['width'] / 2, name['y'] + name['height'] / 2, 'Process shard 7 of the batch')
    inspector = page.get_by_test_id('inspector')
    expect(inspector).to_contain_text('Process shard 7 of the batch')
    expect(inspector).to_contain_text('w07')
    page.locator('button:has(i:text-is("dark_mode"))').first.click()  # (the cards keep their fills and text)
    expect(page.locator('body.body--dark')).to_have_count(1)
    page.get_by_test_id('dag-viewport').screenshot(path=str(shots / 'canvas-fan-out-zoomed-dark.png'))

    # only the cards near the view are named (ECharts lays out every name it is given on every draw)
    assert page.evaluate(DRAWN, 'Process shard 59 of the batch') == []

    page.get_by_test_id('dag-fit').click()  # zoomed out again the names go
    wait_until(lambda: page.evaluate(DRAWN, 'Process shard 7 of the batch') == [], 'the names to go at the fitted zoom')
    _zoom_in_at(page, 'w59', 1.0)  # and zoomed in elsewhere, the cards there are named
    wait_until(lambda: page.evaluate(DRAWN, 'Process shard 59 of the batch'), 'the name of a card brought into view')
    assert page.evaluate(DRAWN, 'Process shard 7 of the batch') == []

    # a node picked in the node list whose card is out of view: the canvas moves (at its zoom) to show it
    zoom = canvas_zoom(page)
    assert not _in_view(page, 'w07')
    page.get_by_test_id('node-w07').click()
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 7 of the batch')
    wait_until(lambda: _in_view(page, 'w07'), "the picked node's card to come into view")
    wait_until(lambda: page.evaluate(DRAWN, 'Process shard 7 of the batch'), 'its name drawn where it now is')
    assert canvas_zoom(page) == zoom
    page.get_by_test_id('dag-viewport').screenshot(path=str(shots / 'canvas-fan-out-revealed.png'))


def _in_view(page: Page, node_id: str) -> bool:
    """Whether the centre of ``node_id``'s card is inside the canvas's viewport."""
    x, y = node_pixel(page, node_id)
    box = page.get_by_test_id('dag-viewport').bounding_box()
    assert box is not None
    return box['x'] <= x <= box['x'] + box['width'] and box['y'] <= y <= box['y'] + box['height']


def test_long_names_on_many_columns_are_whole_once_zoomed_in(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{LONG_NAMES["id"]}', LONG_NAMES).status_code in (200, 201)
    sign_in(page, server, f'/workflows/{LONG_NAMES["id"]}')
    node_pixel(page, 's7')
    wait_until(lambda: 0 < canvas_zoom(page) < 1, 'the wide graph to start fitted into view')
    _zoom_in_at(page, 's7', 1.0)
    # the name on two lines, none of it cut: "step 7" tells this card from the others
    wait_until(
        lambda: page.evaluate(DRAWN, 'Normalise customer addresses') and page.evaluate(DRAWN, 'step 7 of the import'),
        'the whole name on the card',
        seen=lambda: page.evaluate(
            "() => [...document.querySelectorAll('[data-testid=dag-canvas] text')].map((t) => t.textContent)"
        ),
    )
    assert not page.locator('[data-testid=dag-canvas] text', has_text='…').count()
    page.get_by_test_id('dag-viewport').screenshot(path=str(shots / 'canvas-long-names-zoomed.png'))
