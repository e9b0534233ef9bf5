"""Shared by the e2e tests: the API of the session server, signing a page in, runs started and awaited.

Waiting goes through tests/waiting.py (``wait_for`` is its ``wait_until`` under the name these tests used), the
loopback webhook receiver is tests/webhook_receiver.py; both are on the path through tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Page, expect
from waiting import wait_until
from webhook_receiver import Receiver, Reply

Server = Any  # the session server fixture of tests/e2e/conftest.py (url, token, data_dir, ...)
T = TypeVar('T')
TERMINAL = frozenset({'succeeded', 'failed', 'cancelled', 'interrupted'})

wait_for = wait_until  # the name the e2e tests knew it by

# The outermost elements of the page that reach past `width` px from the window's left (the right edge of a phone's
# screen, an open inspector's left edge), not inside a box that clips or scrolls them, nor in the header or a dialog
# (for the failure message: what to fix).
WIDE = """(width) => {
 const clipped = (e) => {
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
   if (getComputedStyle(a).overflowX !== 'visible') return true;
  return false;
 };
 return [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1 && e.getClientRects().length && !clipped(e))
  .filter(e => e.parentElement.getBoundingClientRect().right <= width + 1 && !e.closest('header'))
  .filter(e => !e.closest('.q-menu, .q-dialog, .q-tooltip, .q-notifications, .nicegui-error-popup'))
  .slice(0, 12)
  .map(e=>`${e.tagName.toLowerCase()}.${[...e.classList].join('.')} ${Math.round(e.getBoundingClientRect().right)}`);
}"""

# The classes of the page's elements (as they are now) that no rule of its style sheets names (sorted), leaving out
# the classes that only mark elements for scripts and tests (flowmon's own fm-*, the element names of NiceGUI, Quasar
# and CodeMirror, whose generated classes start with "\u037c", the icons' notranslate) and the body's own (Quasar's
# mode and device): a Tailwind class missing from the compiled sheet (flowmon/web/tailwind) is one of them, unless
# Quasar's or flowmon's own sheet names a class of that name too.
UNSTYLED = """() => {
 const named = new Set();
 const walk = (rules) => { for (const rule of rules) {
  for (const m of (rule.selectorText || '').matchAll(/\\.((?:\\\\.|[\\w-])+)/g))
   named.add(m[1].replace(/\\\\(.)/g, '$1'));
  if (rule.cssRules) walk(rule.cssRules);
  if (rule.styleSheet) walk(rule.styleSheet.cssRules);  // an @import's
 } };
 for (const sheet of [...document.styleSheets, ...document.adoptedStyleSheets]) walk(sheet.cssRules);
 const used = new Set();
 for (const e of document.querySelectorAll('body [class]')) for (const c of e.classList) used.add(c);
 const marker = /^(fm-|nicegui-|q-|cm-|\u037c|material-icons|notranslate$)/;
 return [...used].filter(c => !named.has(c) && !marker.test(c)).sort();
}"""

__all__ = [
    'TERMINAL',
    'UNSTYLED',
    'WIDE',
    'Receiver',
    'Reply',
    'api',
    'dialog_reads_whole',
    'node_pixel',
    'sign_in',
    'start',
    'steady',
    'wait_connected',
    'wait_ended',
    'wait_for',
    'wait_until',
]


def steady(read: Callable[[], T], what: str, *, also: Callable[[], bool] = lambda: True) -> T:
    """What ``read`` reads once it has stayed the same over two looks 0.3 s apart (and ``also`` holds): a page that
    lays itself out (a chart fitting its box, a transition) reaches its final state some frames after it is shown."""
    seen: list[T] = []

    def still() -> tuple[T] | None:
        seen.append(read())
        return (seen[-1],) if len(seen) > 1 and seen[-2] == seen[-1] and also() else None

    value: T = wait_until(still, what, interval=0.3, seen=lambda: seen[-2:])[0]
    return value


def api(server: Server, method: str, path: str, json: Any = None) -> httpx.Response:
    """Call the flowmon HTTP API of ``server`` with its bearer token."""
    headers = {'Authorization': f'Bearer {server.token}'}
    return httpx.request(method, f'{server.url}{path}', json=json, headers=headers, timeout=15.0)


def wait_loaded(server: Server, *workflow_ids: str) -> None:
    """/api/health answers before NiceGUI has run the async start-up (database, workflow files): wait until the
    workflows are there (``workflow_ids``, or any)."""

    def loaded() -> bool:
        response = api(server, 'GET', '/api/workflows')
        ids = {workflow['id'] for workflow in response.json()} if response.status_code == 200 else set()
        return set(workflow_ids) <= ids if workflow_ids else bool(ids)

    wait_until(loaded, 'flowmon to load its workflows', ignoring=(httpx.HTTPError,))


def sign_in(page: Page, server: Server, path: str = '/') -> None:
    """Open ``path`` with the token in the URL (as the start-up link does) and wait for the page's socket."""
    separator = '&' if '?' in path else '?'
    page.goto(f'{path}{separator}token={server.token}')
    wait_connected(page)


def wait_connected(page: Page) -> None:
    """Wait until the page's socket has connected and NiceGUI's handshake is done: the page is built and live.
    (Not ``networkidle``: once socket.io falls back to long polling, which it does when a WebSocket is slow to
    open on a busy machine, the network is never idle.)"""
    page.wait_for_function('() => window.socket && window.socket.connected && window.did_handshake')


# How far a part of a dialog's card is hidden: [cut (scrollWidth - clientWidth), px past the card's right edge]
PAST_THE_CARD = """(e, card) => [e.scrollWidth - e.clientWidth,
 Math.round(e.getBoundingClientRect().right - card.getBoundingClientRect().right)]"""
DIALOG_OPENED = "!document.querySelector('.q-dialog [class*=q-transition--][class*=-active]')"  # done zooming in


def dialog_reads_whole(page: Page, shows: str, screenshot: str) -> None:
    """The open dialog shows ``shows`` and every part of it within its card (nothing cut, nothing past its edge);
    screenshot it to ``screenshot`` and close it with Escape."""
    card = page.locator('.q-dialog .q-card')
    expect(card).to_contain_text(shows)
    page.wait_for_function(DIALOG_OPENED)
    page.screenshot(path=screenshot)
    for part in card.locator(':scope > *').all():
        cut, past = part.evaluate(PAST_THE_CARD, card.element_handle())
        assert cut <= 0 and past <= 0, (part.inner_text()[:80], cut, past)
    page.keyboard.press('Escape')
    expect(page.locator('.q-dialog')).to_have_count(0)


def start(server: Server, workflow_id: str, body: Any = None) -> str:
    """Start a run of ``workflow_id``; its id."""
    response = api(server, 'POST', f'/api/workflows/{workflow_id}/executions', json=body or {})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def wait_ended(server: Server, execution_id: str) -> dict[str, Any]:
    """Wait until the execution is terminal; its summary."""
    seen: dict[str, Any] = {}

    def ended() -> dict[str, Any] | None:
        seen.update(api(server, 'GET', f'/api/executions/{execution_id}').json())
        return dict(seen) if seen.get('status') in TERMINAL else None

    return wait_until(ended, f'execution {execution_id} to end', seen=lambda: seen.get('status'))


def node_pixel(page: Page, node_id: str) -> tuple[float, float]:
    """The page coordinates of a node's centre, asked from the ECharts instance itself."""
    canvas = page.get_by_test_id('dag-canvas')
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    # the chart draws its nodes once the server has answered the canvas's "ready" (widgets/patched.py): the canvas is
    # visible, and the viewport fitted, before that; wait until the node is drawn
    point = page.wait_for_function(
        """(nodeId) => {
            const dom = document.querySelector('[data-testid="dag-canvas"]');
            const chart = dom && getElement(dom)?.chart;
            const series = chart?.getOption()?.series?.find((s) => s.id === 'nodes');
            const item = series?.data?.find((d) => d.name === nodeId);
            if (!item) return null;
            const [x, y] = chart.convertToPixel({seriesId: 'nodes'}, item.value);
            return [x, y, dom.offsetWidth, dom.offsetHeight];
        }""",
        arg=node_id,
    ).json_value()
    box = canvas.bounding_box()
    assert box is not None
    # the canvas may be zoomed (a CSS transform): its box on the page is its own size times the zoom
    x, y, width, height = point
    return box['x'] + x * box['width'] / width, box['y'] + y * box['height'] / height


# the canvas's tooltip (ECharts'), in the page's body (outside the zoomed canvas: see dag_view.py)
TOOLTIP_SHOWS = """(text) => [...document.querySelectorAll('.fm-dag-tip')]
    .some((d) => d.style.visibility !== 'hidden' && d.style.display !== 'none' && d.innerText.includes(text))"""


def click_on_canvas(page: Page, x: float, y: float, names: str) -> None:
    """Click the canvas at ``(x, y)`` on the item whose tooltip says ``names``. ECharts finds the item under the
    pointer when the pointer moves over it, and a click only hits what the last move found (a loaded machine can
    handle the move after a click sent at once): move, wait until it has (its tooltip shows), then click."""
    page.mouse.move(x, y)
    page.wait_for_function(TOOLTIP_SHOWS, arg=names)
    page.mouse.down()
    page.mouse.up()


def canvas_zoom(page: Page, root: str = '') -> float:
    """The zoom of the canvas (inside ``root``, a CSS selector, when the page has several): its viewport's data-zoom."""
    return float(page.locator(f'{root} [data-testid=dag-viewport]'.strip()).get_attribute('data-zoom') or 'nan')


# From now on, when the page last saw a touch start and end (window.__taps; Date.now(), as ECharts reads them)
TAP_TIMES = """() => {
 if (!window.__taps) {
  for (const type of ['touchstart', 'touchend'])
   window.addEventListener(type, () => { window.__taps[type] = Date.now(); }, { capture: true });
 }
 window.__taps = {};
}"""
# ECharts takes a tap for a click only when it handles the touch's end within 300 ms of its start
TAP_MS = 300


def tap_chart(page: Page, x: float, y: float) -> None:
    """Tap [x, y] on a chart as a finger does. A browser starved of the CPU (both cores busy) can handle a tap's
    touchend more than 300 ms after its touchstart, which ECharts does not take for a click (nor the click the browser
    sends after it, within 700 ms of a touch): a tap a person would make again, and so is this one then (twice at
    most). A tap ECharts took (or may have: the page's times are its own, a few ms off) is not made again."""
    for _ in range(3):
        page.evaluate(TAP_TIMES)
        page.touchscreen.tap(x, y)
        taps = page.evaluate('window.__taps')
        if not taps.get('touchend', 0) - taps.get('touchstart', 0) > TAP_MS + 20:
            return
    raise AssertionError(f'three taps each handled more than {TAP_MS} ms apart: {taps}')
