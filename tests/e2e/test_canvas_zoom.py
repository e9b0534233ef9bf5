"""The DAG canvas zooms (wheel, buttons, two-finger pinch), pans (drag, one finger) and fits to view in a real
Chromium, with the SVG edge layer staying on the node cards at every zoom; a 300-node workflow starts fitted into
view. Screenshots go to test-output/screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    Server,
    canvas_zoom,
    click_on_canvas,
    node_pixel,
    sign_in,
    start,
    tap_chart,
    wait_ended,
    wait_loaded,
)
from playwright.sync_api import Browser, Page, expect
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
# the canvas's tooltip for the node shows, drawn at its own size (its box on the screen is its layout size)
TOOLTIP_AT_FULL_SIZE = """(text) => [...document.querySelectorAll('.fm-dag-tip')].some((d) => {
  if (d.style.visibility === 'hidden' || !d.innerText.includes(text)) return false;
  const box = d.getBoundingClientRect();
  return box.height > 30 && Math.abs(box.height - d.offsetHeight) < 1;
})"""
# the shown tooltip's box on the screen
TOOLTIP_BOX = """() => {
  const tip = [...document.querySelectorAll('.fm-dag-tip')].find((d) => d.style.visibility !== 'hidden');
  const box = tip.getBoundingClientRect();
  return {left: box.left, top: box.top, right: box.right, bottom: box.bottom};
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


def _near(box: dict[str, float], **edges: float) -> bool:
    return all(abs(box[edge] - at) < 1.5 for edge, at in edges.items())


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
    wait_until(lambda: canvas_zoom(page) > 1.5, 'the wheel to zoom in')
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
    wait_until(lambda: canvas_zoom(page) < zoomed['k'], 'the button to zoom out')
    _aligned(page, at_one)
    page.get_by_test_id('dag-fit').click()
    expect(viewport).to_have_attribute('data-zoom', '1.000')  # a small graph fits at its natural size
    _aligned(page, at_one)
    assert page.evaluate(INSIDE)

    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.wheel(0, -300)
    wait_until(lambda: canvas_zoom(page) > 1.2, 'the wheel to zoom in again')
    name = viewport.locator('text', has_text='Beta').first.bounding_box()  # a zoomed node is still a node:
    assert name is not None
    click_on_canvas(page, name['x'] + name['width'] / 2, name['y'] + name['height'] / 2, 'Beta')  # its details open
    expect(page.get_by_test_id('node-config')).to_contain_text('"message": "b"')


def test_a_300_node_workflow_starts_fitted_and_zooms(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    assert call_api('PUT', '/api/workflows/e2e-big', BIG).status_code in (200, 201)
    sign_in(page, server, '/workflows/e2e-big')
    viewport = page.get_by_test_id('dag-viewport')
    wait_until(lambda: 0 < canvas_zoom(page) < 1, 'the wide graph to start fitted into view')
    assert page.evaluate(INSIDE)  # every column in view: nothing to scroll sideways
    assert page.evaluate('document.scrollingElement.scrollWidth') <= page.viewport_size['width'] + 1  # type: ignore[index]
    page.screenshot(path=str(shots / 'canvas-300-fitted.png'))
    # the tooltip names a node at its own size, not scaled down with the fitted canvas (it was 11 px high at 0.2)
    x, y = node_pixel(page, 'n0_5')
    page.mouse.move(x, y)
    page.wait_for_function(TOOLTIP_AT_FULL_SIZE, arg='n0_5')
    wait_until(  # (it glides there: ECharts moves its tooltip with a transition)
        lambda: _near(page.evaluate(TOOLTIP_BOX), left=x + 14, top=y + 14),
        'the tooltip right of and below the pointer',
        seen=lambda: (page.evaluate(TOOLTIP_BOX), x, y),
    )
    # at the right edge it goes left of the pointer, inside the canvas (not past the viewport, the page's width)
    x, y = node_pixel(page, 'n29_9')
    page.mouse.move(x, y)
    page.wait_for_function(TOOLTIP_AT_FULL_SIZE, arg='n29_9')
    wait_until(
        lambda: _near(page.evaluate(TOOLTIP_BOX), right=x - 14, top=y + 14),
        'the tooltip left of the pointer',
        seen=lambda: (page.evaluate(TOOLTIP_BOX), x, y),
    )
    page.screenshot(path=str(shots / 'canvas-300-tooltip.png'))

    fitted = canvas_zoom(page)
    box = viewport.bounding_box()
    assert box is not None
    page.mouse.move(box['x'] + 40, box['y'] + box['height'] / 2)
    page.mouse.wheel(0, -900)
    wait_until(lambda: canvas_zoom(page) > fitted * 3, 'the wheel to zoom into the big graph')
    page.screenshot(path=str(shots / 'canvas-300-zoomed.png'))
    page.get_by_test_id('dag-fit').click()
    wait_until(lambda: canvas_zoom(page) == fitted, 'Fit to bring the whole graph back')
    assert page.evaluate(INSIDE)


def test_a_phone_pinches_to_zoom_and_pans_with_one_finger(
    browser: Browser, server: Server, call_api: Api, shots: Path
) -> None:
    """Touch input as a phone sends it (Chromium's own touch pipeline, so the canvas's ``touch-action`` applies): two
    fingers spreading apart zoom about their midpoint, one finger moving sideways pans, and the page itself neither
    zooms nor scrolls sideways. Neither gesture, quick and over a node, opens that node (ECharts makes a click of any
    touch shorter than 300 ms); a tap does."""
    wait_loaded(server)
    assert call_api('PUT', '/api/workflows/e2e-zoom', CHAIN).status_code in (200, 201)
    context = browser.new_context(
        base_url=server.url, viewport={'width': 390, 'height': 844}, has_touch=True, is_mobile=True
    )
    try:
        page = context.new_page()
        sign_in(page, server, '/workflows/e2e-zoom')
        viewport = page.get_by_test_id('dag-viewport')
        expect(viewport.locator('text', has_text='Gamma').first).to_be_attached()
        wait_until(lambda: canvas_zoom(page) > 0, 'the canvas to publish its zoom')
        viewport.scroll_into_view_if_needed()
        before = page.evaluate(MEASURE)
        box = viewport.bounding_box()
        assert box is not None
        cx, cy = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
        cdp = context.new_cdp_session(page)

        def touch(kind: str, *points: tuple[float, float]) -> None:
            touch_points = [{'x': x, 'y': y, 'id': i} for i, (x, y) in enumerate(points)]
            cdp.send('Input.dispatchTouchEvent', {'type': kind, 'touchPoints': touch_points})

        touch('touchStart', (cx - 30, cy), (cx + 30, cy))
        for step in range(1, 7):  # 60 px apart -> 120 px apart, about the same midpoint
            touch('touchMove', (cx - 30 - 5 * step, cy), (cx + 30 + 5 * step, cy))
        touch('touchEnd')
        wait_until(
            lambda: canvas_zoom(page) == pytest.approx(before['k'] * 2, abs=0.01), 'the pinch to double the zoom'
        )
        pinched = page.evaluate(MEASURE)
        # the card moved away from the midpoint by the zoom's factor (the stage point under the fingers stayed there)
        assert pinched['x'] - cx == pytest.approx((before['x'] - cx) * 2, abs=2), (before, pinched)
        assert pinched['y'] - cy == pytest.approx((before['y'] - cy) * 2, abs=2), (before, pinched)
        for key in ('dx', 'dy', 'ax', 'ay'):  # the edge still ends on the card, scaled with it
            assert pinched[key] == pytest.approx(before[key] * 2, abs=1.5), (key, before, pinched)
        page.screenshot(path=str(shots / 'canvas-phone-pinched.png'))
        details = page.get_by_test_id('node-config')
        expect(details).to_have_count(0)  # (the fingers were on "Beta")

        touch('touchStart', (cx, cy))
        for step in range(1, 7):  # one finger, 90 px to the left
            touch('touchMove', (cx - 15 * step, cy))
        touch('touchEnd')
        wait_until(lambda: page.evaluate(MEASURE)['x'] < pinched['x'] - 80, 'one finger to pan the canvas')
        panned = page.evaluate(MEASURE)
        assert panned['x'] == pytest.approx(pinched['x'] - 90, abs=2)
        assert panned['y'] == pytest.approx(pinched['y'], abs=2)
        assert panned['k'] == pinched['k']
        assert page.evaluate('window.visualViewport.scale') == 1  # the page was not zoomed by the pinch
        assert page.evaluate('document.scrollingElement.scrollLeft') == 0
        expect(details).to_have_count(0)

        tap_chart(page, cx, cy)  # a tap on the node under the finger opens it
        expect(details).to_contain_text('"message": "b"')
    finally:
        context.close()


def _box(page: Page, test_id: str) -> dict[str, float]:
    box = page.get_by_test_id(test_id).first.bounding_box()
    assert box is not None, test_id
    return box


def _boxes(page: Page, *test_ids: str) -> list[dict[str, float]]:
    """The boxes of ``test_ids`` read in one frame (the page may still be settling: a late header line moves what is
    below it, and two separate reads could straddle that), once every one of them is on the page."""

    def read() -> list[dict[str, float]] | None:
        found = page.locator(', '.join(f'[data-testid="{test_id}"]' for test_id in test_ids)).evaluate_all(
            'els => Object.fromEntries(els.map(e => [e.dataset.testid, e.getBoundingClientRect().toJSON()]))'
        )
        return [found[test_id] for test_id in test_ids] if all(test_id in found for test_id in test_ids) else None

    return wait_until(read, f'{", ".join(test_ids)} on the page')


def _beside(page: Page) -> tuple[dict[str, float], dict[str, float]] | None:
    canvas, nodes = _boxes(page, 'canvas-panel', 'node-list-panel')
    return (canvas, nodes) if nodes['y'] == canvas['y'] and nodes['x'] > canvas['x'] + canvas['width'] else None


def test_the_execution_page_gives_its_canvas_the_width_that_keeps_the_names_legible(
    browser: Browser, server: Any, shots: Path
) -> None:
    """Beside the node list while the page is wide enough for the graph at 70% of its size (whole for small cards,
    as the fan-out demo's 16 to a column); below the canvas otherwise, where the canvas takes the page's width and
    the list is in as many columns as that holds. The header's buttons go under the progress rather than over its
    figures."""
    fan_out, order = start(server, 'fan-out-demo'), start(server, 'order-pipeline')
    for execution_id in (fan_out, order):
        wait_ended(server, execution_id)
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900})
    try:
        page = context.new_page()
        sign_in(page, server, f'/executions/{order}')
        wait_until(
            lambda: _beside(page),
            'the node list beside the canvas',
            seen=lambda: _boxes(page, 'canvas-panel', 'node-list-panel'),
        )
        wait_until(lambda: canvas_zoom(page) >= 0.7, 'the canvas at 70% or more', seen=lambda: canvas_zoom(page))
        first, second = _box(page, 'node-validate_order'), _box(page, 'node-reserve_inventory')
        assert second['y'] >= first['y'] + first['height']  # one column

        page.goto(f'/executions/{fan_out}')
        wait_until(lambda: canvas_zoom(page) == 1, 'the fan-out demo at its full size', seen=lambda: canvas_zoom(page))
        canvas, nodes = _boxes(page, 'canvas-panel', 'node-list-panel')
        assert nodes['y'] > canvas['y'] + canvas['height'] and nodes['width'] == canvas['width'], (canvas, nodes)
        first, second = _boxes(page, 'node-kickoff', 'node-region_north')
        assert (
            first['y'] == second['y'] and second['x'] > first['x'] + first['width']
        )  # a list in columns, side by side
        page.screenshot(path=str(shots / 'execution-fan-out-1400.png'))

        page.set_viewport_size({'width': 1100, 'height': 800})
        page.goto(f'/executions/{order}')
        wait_until(lambda: canvas_zoom(page) >= 0.7, 'the order pipeline legible', seen=lambda: canvas_zoom(page))
        canvas, nodes = _boxes(page, 'canvas-panel', 'node-list-panel')
        assert nodes['y'] > canvas['y'] + canvas['height'], (canvas, nodes)  # below: beside, it was at 0.43
        timing, rerun = _boxes(page, 'execution-timing', 'rerun-execution')
        assert rerun['y'] >= timing['y'] + timing['height'] or timing['x'] + timing['width'] <= rerun['x'], (
            timing,
            rerun,
        )
        page.screenshot(path=str(shots / 'execution-order-1100.png'))

        page.set_viewport_size({'width': 320, 'height': 700})  # the smallest phones: nothing wider than the screen
        page.reload()
        # fitted, its names would be a third of their size: it starts legible, at the graph's start, to pan along
        wait_until(
            lambda: canvas_zoom(page) == 0.7, 'the order pipeline legible on a phone', seen=lambda: canvas_zoom(page)
        )
        assert page.evaluate('document.scrollingElement.scrollWidth') <= 321
        assert _box(page, 'node-list-panel')['width'] <= 320
        x, y = node_pixel(page, 'validate_order')
        viewport = _box(page, 'dag-viewport')  # (after node_pixel's scroll)
        assert viewport['x'] < x < viewport['x'] + viewport['width'] / 2, (x, viewport)
        assert viewport['y'] < y < viewport['y'] + viewport['height'], (y, viewport)
        page.screenshot(path=str(shots / 'execution-order-320.png'))
        page.get_by_test_id('dag-fit').click()
        wait_until(
            lambda: canvas_zoom(page) < 0.4, 'Fit to show the whole graph, small', seen=lambda: canvas_zoom(page)
        )
        assert page.evaluate(INSIDE)
    finally:
        context.close()
