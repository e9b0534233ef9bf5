"""A workflow of nine columns in a real Chromium at 1400 x 900, light and dark: the workflow editor's preview, which
fitting would shrink below 50% (its cards unnamed), starts at a legible zoom at the graph's left end, its names drawn
whole inside their cards, to pan along or fit; the compare page, which stacks such graphs at the page's width, shows
them fitted with every card named, and zoomed out below 50% each card's name alone, short, in a larger font. No name
overlaps another or leaves its card. Screenshots go to test-output/screenshots/canvas-named-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import canvas_zoom, node_pixel, sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Browser, Page, expect
from waiting import wait_until

Api = Callable[..., httpx.Response]
NAMES = [
    'Fetch new orders',
    'Validate order lines',
    'Enrich with customer data',
    'Price with discounts',
    'Reserve stock',
    'Charge the card',
    'Write to warehouse',
    'Email the receipt',
    'Record sale in analytics',
]
NINE_COLUMNS = {
    'id': 'e2e-nine-columns',
    'name': 'Nine steps',
    'nodes': [
        *({'id': f's{i}', 'type': 'log', 'name': name, 'config': {'message': 'x'}} for i, name in enumerate(NAMES)),
        {'id': 'notify', 'type': 'log', 'name': 'Notify the sales channel', 'config': {'message': 'x'}},
    ],
    'edges': [
        *({'source': f's{i}', 'target': f's{i + 1}'} for i in range(len(NAMES) - 1)),
        {'source': 's6', 'target': 'notify'},
    ],
}
# Each text drawn on the canvas `root` (a selector): its text and its box on the screen.
TEXTS = """(root) => [...document.querySelectorAll(`${root} [data-testid=dag-canvas] text`)]
  .filter((t) => t.textContent.trim())
  .map((t) => { const r = t.getBoundingClientRect();
    return {text: t.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom}; })"""
# The cards of the canvas in `root` whose box on the screen (from the chart itself) is inside its viewport, with it.
CARDS = """(root) => {
  const dom = document.querySelector(`${root} [data-testid=dag-canvas]`);
  const chart = getElement(dom).chart;
  const series = chart.getOption().series.find((s) => s.id === 'nodes');
  const [w, h] = series.symbolSize;
  const box = dom.getBoundingClientRect();
  const view = dom.closest('[data-testid=dag-viewport]').getBoundingClientRect();
  const k = box.width / dom.offsetWidth;
  return series.data.map((d) => {
    const [x, y] = chart.convertToPixel({seriesId: 'nodes'}, d.value);
    const cx = box.left + x * k, cy = box.top + y * k;
    return {name: d.name, x0: cx - (w / 2) * k, x1: cx + (w / 2) * k, y0: cy - (h / 2) * k, y1: cy + (h / 2) * k};
  }).filter((c) => c.x0 >= view.left && c.x1 <= view.right && c.y0 >= view.top && c.y1 <= view.bottom);
}"""


def _names_problems(page: Page, root: str) -> list[str]:
    """What is wrong with the names on the cards in view of the canvas in ``root`` (nothing: each card is named
    inside its box, in a font at least 8 px high on the screen, clear of the other names)."""
    texts, cards = page.evaluate(TEXTS, root), page.evaluate(CARDS, root)
    problems = [] if cards else ['no card in view']
    for card in cards:
        inside = [
            t
            for t in texts
            if card['x0'] - 1 <= t['x0'] and t['x1'] <= card['x1'] + 1 and card['y0'] - 1 <= t['y0'] <= card['y1']
        ]
        if not inside:
            problems.append(f'{card["name"]}: no name inside its card')
        elif max(t['y1'] - t['y0'] for t in inside) < 9:  # (a line's box is about 1.2 times its font's size)
            problems.append(f'{card["name"]}: a name {inside} less than 8 px high')
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            if a['x0'] < b['x1'] and b['x0'] < a['x1'] and a['y0'] < b['y1'] and b['y0'] < a['y1']:
                problems.append(f'{a["text"]!r} overlaps {b["text"]!r}')
    return problems


def _named(page: Page, root: str) -> None:
    wait_until(
        lambda: not _names_problems(page, root),
        'every card in view to show its name, legible, inside it',
        seen=lambda: (_names_problems(page, root), canvas_zoom(page, root)),
        ignoring=(Exception,),
    )


def _drawn(page: Page, root: str, name: str) -> bool:
    return any(t['text'] == name for t in page.evaluate(TEXTS, root))


def test_nine_columns_name_their_cards_in_the_editor_preview_and_on_the_compare_page(
    browser: Browser, server: Any, call_api: Api, shots: Path
) -> None:
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{NINE_COLUMNS["id"]}', NINE_COLUMNS).status_code in (200, 201)
    a, b = start(server, str(NINE_COLUMNS['id'])), start(server, str(NINE_COLUMNS['id']))
    wait_ended(server, a)
    wait_ended(server, b)
    for scheme in ('light', 'dark'):
        context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme=scheme)
        try:
            _look(context.new_page(), server, scheme, (a, b), shots)
        finally:
            context.close()


def _look(page: Page, server: Any, scheme: str, compared: tuple[str, str], shots: Path) -> None:
    preview, side = '[data-testid=editor-preview]', '[data-testid=compare-side-a]'
    sign_in(page, server, f'/workflows/{NINE_COLUMNS["id"]}/edit')
    # fitted, the preview (about 400 px wide) would be at 20%: it starts at 70%, at the graph's left end
    node_pixel(page, 's0')  # (drawn)
    wait_until(lambda: canvas_zoom(page, preview) >= 0.7, 'the preview to start at a legible zoom')
    _named(page, preview)
    assert _drawn(page, preview, 'Fetch new orders') and _drawn(page, preview, 'Validate order lines')
    page.screenshot(path=str(shots / f'canvas-named-editor-{scheme}.png'))
    page.locator(preview).screenshot(path=str(shots / f'canvas-named-editor-preview-{scheme}.png'))
    x, y = node_pixel(page, 's2')  # the tooltip names a node whole
    page.mouse.move(x, y)
    expect(page.locator('.fm-dag-tip')).to_contain_text('Enrich with customer data')
    # Fit shows the whole graph
    page.locator(f'{preview} [data-testid=dag-fit]').click()
    wait_until(lambda: canvas_zoom(page, preview) < 0.5, 'Fit to show the whole graph')
    page.locator(preview).screenshot(path=str(shots / f'canvas-named-editor-fitted-{scheme}.png'))

    # the compare page stacks a graph of more than three columns at the page's width: fitted, named
    a, b = compared
    sign_in(page, server, f'/compare?a={a}&b={b}')
    wait_until(lambda: page.evaluate(CARDS, side), 'the compared graph to be drawn', ignoring=(Exception,))
    wait_until(lambda: canvas_zoom(page, side) >= 0.5, 'the compared graph to be fitted at 50% or more')
    _named(page, side)
    assert {card['name'] for card in page.evaluate(CARDS, side)} == {*(f's{i}' for i in range(9)), 'notify'}
    page.screenshot(path=str(shots / f'canvas-named-compare-{scheme}.png'), full_page=True)
    # zoomed out below 50%, the cards show their names short, in a font as large as before, cut at their end
    for _ in range(2):
        page.locator(f'{side} [data-testid=dag-zoom-out]').click()
    wait_until(lambda: 0.3 < canvas_zoom(page, side) < 0.5, 'the compared graph to be zoomed out below 50%')
    _named(page, side)
    page.locator(side).screenshot(path=str(shots / f'canvas-named-compare-short-{scheme}.png'))
    drawn = {t['text'] for t in page.evaluate(TEXTS, side)}
    assert any(re.fullmatch(r'Fetch n?…', text) for text in drawn), drawn  # 'Fetch new orders', cut
    assert not any(text.endswith('ms') for text in drawn), drawn  # no card line
