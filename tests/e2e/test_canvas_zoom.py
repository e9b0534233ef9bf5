"""The DAG canvas zooms (wheel, buttons), pans (drag) and fits to view in a real Chromium, with the SVG edge layer
staying on the node cards at every zoom; a 300-node workflow starts fitted into view. Screenshots go to
test-output/screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import sign_in, wait_loaded
from playwright.sync_api import Page, expect
from sample_workflows import chain, log
from waiting import wait_until

Api = Callable[..., httpx.Response]
CHAIN = chain(
    'e2e-zoom', 'Zoom chain', log('a', 'a', name='Alpha'), log('b', 'b', name='Beta'), log('c', 'c', name='Gamma')
)
LAYERS, PER_LAYER = 30, 10
BIG = {
    'id': 'e2e-big',
    'name': 'Three hundred nodes',
    'nodes': [
        {'id': f'n{layer}_{i}', 'type': 'log', 'config': {'message': 'x'}}
        for layer in range(LAYERS)
        for i in range(PER_LAYER)
    ],
    'edges': [
        {'source': f'n{layer}_{i}', 'target': f'n{layer + 1}_{(i + layer) % PER_LAYER}'}
        for layer in range(LAYERS - 1)
        for i in range(PER_LAYER)
    ],
}

# Where the edge into "Gamma" ends (its path runs centre to centre, under the card) and where its arrow head is,
# against the centre of Gamma's name on the card, in screen px; and the zoom. An edge or arrow that moved relative to
# the card would be out of line.
MEASURE = """() => {
  const viewport = document.querySelector('[data-testid=dag-viewport]');
  const name = [...viewport.querySelectorAll('[data-testid=dag-canvas] text')].find(t => t.textContent === 'Gamma');
  const edges = [...viewport.querySelectorAll('.fm-edges path')].map(p => p.getBoundingClientRect());
  const edge = edges.reduce((a, b) => (b.right > a.right ? b : a));
  const arrow = [...viewport.querySelectorAll('.fm-arrow')].pop().getBoundingClientRect();
  const card = name.getBoundingClientRect();
  const cx = card.left + card.width / 2, cy = card.top + card.height / 2;
  return {k: Number(viewport.dataset.zoom), dx: edge.right - cx, dy: (edge.top + edge.bottom) / 2 - cy,
          ax: arrow.right - cx, ay: (arrow.top + arrow.bottom) / 2 - cy, x: card.left, y: card.top};
}"""
INSIDE = """() => {
  const viewport = document.querySelector('[data-testid=dag-viewport]').getBoundingClientRect();
  const stage = document.querySelector('[data-testid=dag-viewport] > div').getBoundingClientRect();
  return stage.left >= viewport.left - 1 && stage.right <= viewport.right + 1 &&
         stage.top >= viewport.top - 1 && stage.bottom <= viewport.bottom + 1;
}"""


def _aligned(page: Page, reference: dict[str, float]) -> dict[str, float]:
    """The edge's end sits where it sat at zoom 1, scaled by the zoom (within a pixel and a half)."""
    now: dict[str, float] = page.evaluate(MEASURE)
    for key in ('dx', 'dy', 'ax', 'ay'):
        assert now[key] == pytest.approx(reference[key] * now['k'], abs=1.5), (key, now, reference)
    return now


def _zoom(page: Page) -> float:
    return float(page.get_by_test_id('dag-viewport').get_attribute('data-zoom') or 'nan')


def test_wheel_drag_and_fit_keep_the_edges_on_the_nodes(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    assert call_api('PUT', '/api/workflows/e2e-zoom', CHAIN).status_code in (200, 201)
    sign_in(page, server, '/workflows/e2e-zoom')
    viewport = page.get_by_test_id('dag-viewport')
    expect(viewport.locator('text', has_text='Gamma').first).to_be_attached()
    expect(viewport).to_have_attribute('data-zoom', '1.000')
    at_one = page.evaluate(MEASURE)
    assert abs(at_one['dx']) < 2 and 0 < at_one['dy'] < 12, at_one  # the edge ends at the card's centre (the name
    assert -80 < at_one['ax'] < -60 and 0 < at_one['ay'] < 12, at_one  # is its upper line), the arrow at its left

    box = viewport.bounding_box()
    assert box is not None
    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.wheel(0, -400)  # zoom in about the pointer
    wait_until(lambda: _zoom(page) > 1.5, 'the wheel to zoom in')
    zoomed = _aligned(page, at_one)
    page.screenshot(path=str(shots / 'canvas-zoomed.png'))

    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.down()
    page.mouse.move(box['x'] + box['width'] / 2 - 120, box['y'] + box['height'] / 2 + 30, steps=6)
    page.mouse.up()
    panned = _aligned(page, at_one)
    assert panned['x'] == pytest.approx(zoomed['x'] - 120, abs=2) and panned['y'] == pytest.approx(
        zoomed['y'] + 30, abs=2
    )

    page.get_by_test_id('dag-zoom-out').click()
    wait_until(lambda: _zoom(page) < zoomed['k'], 'the button to zoom out')
    _aligned(page, at_one)
    page.get_by_test_id('dag-fit').click()
    expect(viewport).to_have_attribute('data-zoom', '1.000')  # a small graph fits at its natural size
    _aligned(page, at_one)
    assert page.evaluate(INSIDE)

    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.wheel(0, -300)
    wait_until(lambda: _zoom(page) > 1.2, 'the wheel to zoom in again')
    viewport.locator('text', has_text='Beta').first.click()  # a zoomed node is still a node: its details open
    expect(page.get_by_test_id('node-config')).to_contain_text('"message": "b"')


def test_a_300_node_workflow_starts_fitted_and_zooms(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    assert call_api('PUT', '/api/workflows/e2e-big', BIG).status_code in (200, 201)
    sign_in(page, server, '/workflows/e2e-big')
    viewport = page.get_by_test_id('dag-viewport')
    wait_until(lambda: 0 < _zoom(page) < 1, 'the wide graph to start fitted into view')
    assert page.evaluate(INSIDE)  # every column in view: nothing to scroll sideways
    assert page.evaluate('document.scrollingElement.scrollWidth') <= page.viewport_size['width'] + 1  # type: ignore[index]
    page.screenshot(path=str(shots / 'canvas-300-fitted.png'))

    fitted = _zoom(page)
    box = viewport.bounding_box()
    assert box is not None
    page.mouse.move(box['x'] + 40, box['y'] + box['height'] / 2)
    page.mouse.wheel(0, -900)
    wait_until(lambda: _zoom(page) > fitted * 3, 'the wheel to zoom into the big graph')
    page.screenshot(path=str(shots / 'canvas-300-zoomed.png'))
    page.get_by_test_id('dag-fit').click()
    wait_until(lambda: _zoom(page) == fitted, 'Fit to bring the whole graph back')
    assert page.evaluate(INSIDE)
