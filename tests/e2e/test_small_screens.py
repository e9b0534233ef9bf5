"""Every page at 390 x 844 (a phone) in a real Chromium: nothing makes the page wider than the screen (tables scroll
inside their card, the canvas fits itself into view), and the header's navigation collapses into a menu that still
navigates; an endpoint with a 120-character URL keeps the webhooks and delivery pages within the screen, its URL
clear of its figures (and within its column on a desktop). On every page each class an element has is styled: named by
a rule of the page's style sheets (Tailwind's, compiled ahead of time, among them). Screenshots of every page go to
test-output/screenshots/narrow-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import UNSTYLED, WIDE, dialog_reads_whole, sign_in, start, steady, wait_connected, wait_ended, wait_loaded
from playwright.sync_api import Browser, Page, expect

from flowmon.web.theme import STATUS_COLORS
from flowmon.web.widgets.trigger_label import IMPORTED, TRIGGERS, UNKNOWN

Api = Callable[..., httpx.Response]
WIDTH, HEIGHT = 390, 844
LONG_NAME = {  # a name far wider than a phone, in the lists and the headings
    'id': 'e2e-long-name',
    'name': 'A workflow whose name is much longer than a phone is wide, ' * 2
    + 'WithAVeryLongWordThatCannotBreakAnywhere',
    'nodes': [{'id': 'only', 'type': 'log', 'config': {'message': 'x'}}],
    'edges': [],
}


def resize(page: Page, width: int, height: int) -> None:
    """The page at ``width``, laid out as a load at that width lays it out: narrower than Quasar's breakpoint, once
    the saved views have left the page's side (a moment after the resize: they slide away)."""
    page.set_viewport_size({'width': width, 'height': height})
    if width < 1024:
        page.wait_for_function("getComputedStyle(document.querySelector('.q-page-container')).paddingLeft === '0px'")


@pytest.fixture
def phone(browser: Browser, server: Any) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={'width': WIDTH, 'height': HEIGHT}, is_mobile=True)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _pages(server: Any, call_api: Api) -> dict[str, str]:
    wait_loaded(server, 'order-pipeline', 'inbound-order')
    assert call_api('PUT', '/api/workflows/e2e-long-name', LONG_NAME).status_code in (200, 201)
    a, b = start(server, 'order-pipeline'), start(server, 'order-pipeline')
    failed = start(server, 'broken-etl')  # its name leaves room for the id on its line, not for the copy button too
    for run in (a, b, failed):
        wait_ended(server, run)
    delivery = call_api('POST', '/api/webhooks/deliveries', {'url': 'http://127.0.0.1:9/narrow', 'body': {'a': 1}})
    assert delivery.status_code == 202, delivery.text
    return {
        'dashboard': '/',
        'workflow': '/workflows/order-pipeline',
        'workflow-trigger': '/workflows/inbound-order',
        'workflow-long-name': '/workflows/e2e-long-name',
        'workflow-new': '/workflows/new',
        'workflow-edit': '/workflows/order-pipeline/edit',
        'executions': '/executions',
        'execution': f'/executions/{a}',
        'execution-failed': f'/executions/{failed}',
        'replay': f'/executions/{a}/replay',
        'compare': f'/compare?a={a}&b={b}',
        'webhooks': '/webhooks',
        'delivery': f'/webhooks/deliveries/{delivery.json()["id"]}',
        'secrets': '/secrets',
    }


def test_every_page_fits_390_px(phone: Page, server: Any, call_api: Api, shots: Path) -> None:
    pages = _pages(server, call_api)
    sign_in(phone, server)
    expect(phone.get_by_test_id('nav-menu')).to_be_visible()
    too_wide, unstyled = {}, {}
    for name, path in pages.items():
        phone.goto(path)
        wait_connected(phone)
        expect(phone.locator('.fm-page').first).to_be_visible()
        # (charts and the canvas lay out once their box has its size)
        width = steady(lambda: phone.evaluate('document.scrollingElement.scrollWidth'), f'{name} laid out')
        phone.screenshot(path=str(shots / f'narrow-{name}.png'), full_page=True)
        if width > WIDTH + 1:
            too_wide[name] = (width, phone.evaluate(WIDE, WIDTH))
        if name in ('execution', 'execution-failed'):
            _id_beside_its_copy_button(phone, name)
        if classes := phone.evaluate(UNSTYLED):
            unstyled[name] = classes
    assert not too_wide, '\n'.join(f'{name}: {width} px, {wide}' for name, (width, wide) in too_wide.items())
    assert not unstyled, f'classes no style sheet names (a Tailwind class missing from `make tailwind`?): {unstyled}'

    phone.goto('/login')  # the sign-in page, signed out
    phone.context.clear_cookies()
    phone.goto('/login')
    expect(phone.get_by_role('button', name=re.compile('Sign in', re.IGNORECASE))).to_be_visible()
    assert phone.evaluate('document.scrollingElement.scrollWidth') <= WIDTH + 1
    assert phone.evaluate(UNSTYLED) == []
    phone.screenshot(path=str(shots / 'narrow-login.png'), full_page=True)


# Each of the workflow page's buttons: [label, left, top, right, bottom].
BUTTONS = """(ids) => ids.map(id => { const r = document.querySelector(`[data-testid=${id}]`).getBoundingClientRect();
 return [id, r.left, r.top, r.right, r.bottom]; })"""


def test_the_workflow_page_has_room_for_delete_and_rotate(browser: Browser, server: Any, shots: Path) -> None:
    """Delete… beside Edit and the runs, Rotate secret… beside Reveal secret: each button on one line of its own
    height, none over another, the page no wider than the screen; at 1440 px, then on the same page narrowed to a
    phone's width (the buttons' rows wrap by CSS alone, laid out on a resize as on a load)."""
    wait_loaded(server, 'inbound-order')
    context = browser.new_context(base_url=server.url, viewport={'width': 1440, 'height': 900})
    page = context.new_page()
    try:
        sign_in(page, server, '/workflows/inbound-order')
        wait_connected(page)
        ids = ['delete-workflow', 'edit-workflow', 'run-with-input', 'trigger-rotate']
        for width in (1440, WIDTH):
            resize(page, width, 900)
            for test_id in ids:
                expect(page.get_by_test_id(test_id)).to_be_visible()
            expect(page.get_by_text('Reveal secret')).to_be_visible()
            boxes = page.evaluate(BUTTONS, ids)
            for name, left, top, right, bottom in boxes:
                assert bottom - top < 40 and left >= 0 and right <= width, (name, 'wrapped or cut', boxes)
            for (a, *one), (b, *other) in pairwise(boxes):
                apart = one[2] <= other[0] or other[2] <= one[0] or one[3] <= other[1] or other[3] <= one[1]
                assert apart, (a, b, 'overlap', boxes)
            assert page.evaluate('document.scrollingElement.scrollWidth') <= width + 1
            page.screenshot(path=str(shots / f'workflow-actions-{width}.png'), full_page=True)
    finally:
        context.close()


def test_a_revealed_trigger_secret_reads_whole_on_a_phone(phone: Page, server: Any, shots: Path) -> None:
    """The secret wraps (breaking anywhere) instead of being cut with an ellipsis: all of it can be read."""
    wait_loaded(server, 'inbound-order')
    sign_in(phone, server, '/workflows/inbound-order')
    wait_connected(phone)
    phone.get_by_text('Reveal secret').click()
    secret = phone.locator('.fm-secret')
    expect(secret).not_to_contain_text('•')
    sizes = secret.evaluate('e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().right]')
    assert sizes[0] <= sizes[1] and sizes[2] <= WIDTH, ('cut or past the screen', sizes)
    assert phone.evaluate('document.scrollingElement.scrollWidth') <= WIDTH + 1
    phone.screenshot(path=str(shots / 'narrow-trigger-secret-revealed.png'), full_page=True)


# The execution's short id and its copy button (the button follows the id), each as [left, top, right, bottom].
ID_AND_COPY = """() => {
 const copy = document.querySelector('button[aria-label="Copy execution id"]'), id = copy.previousElementSibling;
 return [id, copy].map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });
}"""


def _id_beside_its_copy_button(page: Page, where: str) -> None:
    """The copy button sits on the id's line, right of it: it does not wrap away onto a line of its own."""
    expect(page.get_by_role('button', name='Copy execution id')).to_be_visible()
    boxes = page.evaluate(ID_AND_COPY)
    (_, id_top, id_right, id_bottom), (copy_left, copy_top, _, copy_bottom) = boxes
    assert copy_top < id_bottom and id_top < copy_bottom, (where, "not on the id's line", boxes)
    assert id_right <= copy_left <= id_right + 16, (where, 'not beside the id', boxes)


NAME_CELL = """() => {
 const row = document.querySelector('[data-testid=execution-row]'), table = row.closest('.fm-table');
 const cell = row.querySelector('.fm-what').getBoundingClientRect(), box = table.getBoundingClientRect();
 const name = row.querySelector('.fm-name').getBoundingClientRect();
 return {cell: cell.width, name_right: name.right, name_width: name.width, table_right: box.right};
}"""


@pytest.mark.parametrize('width', [WIDTH, 1024])
def test_the_execution_list_keeps_room_for_the_workflow_name(browser: Browser, server: Any, width: int) -> None:
    """A table narrower than its columns (a phone; a laptop with the saved views open) scrolls sideways in its card;
    the name column keeps its room, and on a phone it follows the status, read without scrolling."""
    wait_ended(server, start(server, 'order-pipeline'))
    context = browser.new_context(base_url=server.url, viewport={'width': width, 'height': HEIGHT})
    page = context.new_page()
    try:
        sign_in(page, server, '/executions')
        expect(page.get_by_test_id('execution-row').first).to_be_visible()
        seen = page.evaluate(NAME_CELL)
        assert seen['cell'] >= 160 and seen['name_width'] > 50, seen
        assert seen['name_right'] <= seen['table_right'], seen  # in view without scrolling the table
        assert page.evaluate('document.scrollingElement.scrollWidth') <= width + 1
    finally:
        context.close()


# The cells of the list's rows whose text is cut (wider than their cell), each as [test, text]; the error message
# beside the workflow's name is left out: it takes the room that is left and may be cut (its whole text in a tooltip).
CUT_CELLS = """() => [...document.querySelectorAll('[data-testid=execution-row] .fm-cell:not(.fm-what), .fm-name')]
 .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
# Parts of the first row (a CSS selector in it) show each form their value can take in turn (every status and way of
# starting; a time today, this year, an older year; a duration of seconds, minutes, hours): the ones not shown whole.
CUT_FORMS = """(forms) => {
 const row = document.querySelector('[data-testid=execution-row]');
 return forms.flatMap(([selector, texts]) => {
  const part = row.querySelector(selector), cell = part.closest('.fm-cell'), before = part.textContent;
  const cut = texts.filter(t => {
   part.textContent = t;
   return [part, cell].some(e => e.scrollWidth > e.clientWidth + 1);
  });
  part.textContent = before;
  return cut;
 });
}"""
FORMS = [
    ['.fm-status', [status for status in STATUS_COLORS if status not in {'sending', 'exhausted'}]],
    ['.fm-trigger .fm-ellipsis', [word for _, word, _ in (*TRIGGERS.values(), UNKNOWN, IMPORTED)]],
    ['.fm-what + *', ['23:58:59', 'May 31 23:58', 'Sep 30 08:08', '2026-12-31 23:58', '2020-08-08 08:08']],
    ['.fm-what + * + *', ['<1 ms', '999 ms', '59.9 s', '59m 59s', '999h 59m']],
]


@pytest.mark.parametrize('path', ['/executions'])  # (a workflow's history shares the table and its widths)
def test_the_execution_list_shows_a_workflow_name_whole_beside_the_saved_views(
    browser: Browser, server: Any, path: str, shots: Path
) -> None:
    """At 1280 px with the saved views open the workflow's name ("Regional sales roll-up (wide)") is read whole in
    its row, and so is every other column's longest value: every status and trigger, a time and a duration of
    every form they can take."""
    wait_loaded(server, 'fan-out-demo', 'broken-etl')
    wait_ended(server, start(server, 'broken-etl'))  # a failed run: its message beside its name
    start(server, 'fan-out-demo')
    context = browser.new_context(base_url=server.url, viewport={'width': 1280, 'height': 800})
    page = context.new_page()
    try:
        sign_in(page, server, path)
        wait_connected(page)
        expect(page.get_by_test_id('views-drawer')).to_be_visible()
        rows = page.get_by_test_id('execution-row')
        expect(rows.first).to_be_visible()
        page.screenshot(path=str(shots / f'executions-1280-drawer{path.replace("/", "-")}.png'), full_page=True)
        if path == '/executions':  # (the workflow's page names it once, above its history)
            name = rows.filter(has_text='Regional sales roll-up').first.locator('.fm-name')
            expect(name).to_have_text('Regional sales roll-up (wide)')
            assert name.evaluate('e => e.scrollWidth <= e.clientWidth'), name.evaluate(
                'e => [e.scrollWidth, e.clientWidth]'
            )
        assert page.evaluate(CUT_CELLS) == []
        assert page.evaluate(CUT_FORMS, FORMS) == []
        assert page.evaluate('document.scrollingElement.scrollWidth') <= 1281
    finally:
        context.close()


def test_the_executions_head_wraps_whole_on_a_phone(phone: Page, server: Any, shots: Path) -> None:
    """On a phone the title keeps its line and the buttons go to the next one, each on one line, side by side."""
    sign_in(phone, server, '/executions')
    wait_connected(phone)
    ids = ['save-view', 'import-execution']
    for test_id in ids:
        expect(phone.get_by_test_id(test_id)).to_be_visible()
    phone.screenshot(path=str(shots / 'narrow-executions-head.png'))
    boxes = phone.evaluate(BUTTONS, ids)
    title = phone.locator('.fm-title').first.bounding_box()
    assert title
    for name, left, top, right, bottom in boxes:
        assert bottom - top < 40 and left >= 0 and right <= WIDTH, (name, 'wrapped or cut', boxes)
        assert top >= title['y'] + title['height'], (name, 'beside the title', boxes, title)
    (_, _, top, _, bottom), (_, _, other_top, _, other_bottom) = boxes
    assert abs(top - other_top) < 2 and abs(bottom - other_bottom) < 2, ('not in line', boxes)
    assert phone.evaluate('document.scrollingElement.scrollWidth') <= WIDTH + 1


CUT_HINTS = """() => [...document.querySelectorAll('.fm-metric-hint')]
 .filter(e => e.scrollWidth > e.clientWidth + 1
  || e.getBoundingClientRect().right > e.parentElement.getBoundingClientRect().right + 1)
 .map(e => e.textContent)"""


def test_the_metric_cards_say_what_they_count_whole(browser: Browser, server: Any) -> None:
    """A card's hint wraps in its card: on a desktop "succeeded / (succeeded + failed), today" was cut to
    "succeeded / (succeeded + fail…", and on a phone four of the dashboard's ten hints were cut, the webhooks page's
    too. Each page is loaded once, at 1400 px (the saved views open beside it), then narrowed to a phone's width: the
    cards' grid and wrapping are CSS alone, laid out on a resize as on a load."""
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    try:
        for path in ('/', '/webhooks'):
            page.set_viewport_size({'width': 1400, 'height': HEIGHT})
            sign_in(page, server, path)
            for width in (1400, WIDTH):
                resize(page, width, HEIGHT)
                expect(page.locator('.fm-metric-hint').first).to_be_visible()
                assert page.evaluate(CUT_HINTS) == [], (path, width)
    finally:
        context.close()


CUT_NODE_ROWS = """() => [...document.querySelectorAll('.fm-nr-name, .fm-nr-id, .fm-nr-detail')]
 .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""


# where the saved views drawer's background (Quasar's aside, which has its colour) ends, and the page's height
DRAWER_COVERS = """(e) => { const aside = e.closest('.q-drawer'); return {
  bottom: aside.getBoundingClientRect().bottom + scrollY, page: document.scrollingElement.scrollHeight,
  window: innerHeight }; }"""


def test_the_node_list_shows_names_whole_beside_a_long_detail(browser: Browser, server: Any) -> None:
    """A skipped node's reason ("upstream 'parse_rows' failed") took the room of its name beside the canvas: the
    list read "Load into wareho…", "load_warehouse · …". The name and the detail wrap instead, the detail in at
    most half the row: at 1400 px, then on the same page narrowed to a phone's width (the list's columns and
    wrapping are CSS alone, laid out on a resize as on a load)."""
    failed = start(server, 'broken-etl')
    wait_ended(server, failed)
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': HEIGHT})
    page = context.new_page()
    try:
        sign_in(page, server, f'/executions/{failed}')
        row = page.locator('.fm-nr', has_text='Load into warehouse')
        expect(row).to_contain_text("upstream 'parse_rows' failed")
        for width in (1400, WIDTH):
            resize(page, width, HEIGHT)
            row.scroll_into_view_if_needed()
            assert page.evaluate(CUT_NODE_ROWS) == [], width
            if width >= 1024:  # the saved views beside this long page: their background runs down to its end
                drawer = page.get_by_test_id('views-drawer')
                expect(drawer).to_be_visible()
                covered = drawer.evaluate(DRAWER_COVERS)
                assert covered['page'] > covered['window'] and covered['bottom'] >= covered['page'] - 1, covered
    finally:
        context.close()


def test_the_header_keeps_one_line_in_every_connection_state_and_collapses_into_a_menu_that_navigates(
    phone: Page, server: Any, shots: Path
) -> None:
    """The connection pill shows only its dot on a phone (its word stays for screen readers): "Connecting" or
    "Offline" must not push the header onto a second line. The tabs are in a menu, which navigates."""
    sign_in(phone, server)
    header, pill = phone.locator('header'), phone.get_by_test_id('connection')
    expect(pill).to_have_attribute('data-state', 'online')
    height = header.bounding_box()['height']
    for state in ('connecting', 'offline'):  # what the component paints when the socket is not there
        pill.evaluate('(e, state) => { e.dataset.state = state; }', state)
        assert header.bounding_box()['height'] == height, state
        assert phone.evaluate('document.scrollingElement.scrollWidth') <= WIDTH + 1, state
        word = pill.get_by_text(state.capitalize())
        assert word.evaluate('(e) => e.getBoundingClientRect().width') <= 1  # visually hidden, still in the page
        assert word.evaluate('(e) => getComputedStyle(e).display') != 'none', state
    pill.evaluate("(e) => { e.dataset.state = 'online'; }")

    expect(phone.get_by_test_id('nav-menu')).to_be_visible()
    expect(phone.get_by_role('button', name='Executions')).to_be_hidden()  # the tabs are in the menu
    phone.get_by_test_id('nav-menu').click()
    expect(phone.locator('.q-menu')).to_contain_text('Order fulfilment')  # the workflows, as the tabs' menu has them
    phone.wait_for_timeout(300)  # the menu fades in
    phone.screenshot(path=str(shots / 'narrow-menu.png'))
    phone.locator('.q-menu').get_by_text('Executions').click()
    phone.wait_for_url('**/executions')
    expect(phone.get_by_test_id('nav-menu')).to_be_visible()


LONG_URL = 'http://127.0.0.1:9/hooks/' + 'a-very-long-path-segment-' * 3 + '?query=' + 'x' * 13  # 120 characters
OVERLAPS = """([a, b]) => {
 const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
 return r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1;
}"""


# The delivery's facts whose value is cut short: [label, value, hidden px]
CUT_FACTS = """() => [...document.querySelectorAll('.fm-fact')].map(f => [f.children[0], f.children[1]])
 .filter(([, v]) => v && v.scrollWidth > v.clientWidth)
 .map(([l, v]) => [l.textContent, v.textContent, v.scrollWidth - v.clientWidth])"""


@pytest.fixture
def long_endpoint(call_api: Api) -> Iterator[dict[str, str]]:
    """An endpoint whose URL (no description: its host and path are its name) is far wider than a phone, and a
    delivery to that URL."""
    assert len(LONG_URL) == 120
    created = call_api('POST', '/api/webhooks/endpoints', {'url': LONG_URL, 'event_types': ['execution.failed']})
    assert created.status_code == 201, created.text
    endpoint_id = created.json()['id']
    delivery = call_api('POST', '/api/webhooks/deliveries', {'url': LONG_URL, 'body': {'a': 1}})
    assert delivery.status_code == 202, delivery.text
    try:
        yield {'endpoint': endpoint_id, 'delivery': delivery.json()['id']}
    finally:
        call_api('DELETE', f'/api/webhooks/endpoints/{endpoint_id}')


def _endpoint_fits(page: Page, endpoint_id: str, width: int) -> None:
    row = page.locator(f'[data-testid=endpoint-row][data-endpoint-id={endpoint_id}]')
    expect(row).to_be_visible()
    url, health = row.get_by_test_id('endpoint-url'), row.get_by_test_id('endpoint-health')
    expect(url).to_be_visible()
    assert page.evaluate('document.scrollingElement.scrollWidth') <= width, page.evaluate(WIDE, width)
    for part in (
        url,
        health,
        row.get_by_role('button', name='Redeliver deliveries'),
        row.get_by_role('button', name='Delete'),
    ):
        box = part.bounding_box()
        assert box is not None and box['x'] >= 0 and box['x'] + box['width'] <= width + 1, (part, box)
    url_box, row_box = url.bounding_box(), row.bounding_box()
    assert url_box is not None and row_box is not None
    assert url_box['x'] + url_box['width'] <= row_box['x'] + row_box['width'] + 1, (url_box, row_box)
    for figure in health.locator(':scope > *').all():  # the URL, wrapped or cut short, never runs over the figures
        assert not page.evaluate(OVERLAPS, [url.element_handle(), figure.element_handle()]), (url_box, figure)


def test_a_long_endpoint_url_fits_a_phone(phone: Page, server: Any, long_endpoint: dict[str, str], shots: Path) -> None:
    sign_in(phone, server, '/webhooks')
    _endpoint_fits(phone, long_endpoint['endpoint'], WIDTH)
    url = phone.locator(f'[data-endpoint-id={long_endpoint["endpoint"]}]').get_by_test_id('endpoint-url')
    assert (url.bounding_box() or {})['height'] > 30, 'on a phone the URL wraps onto more lines, whole'
    phone.screenshot(path=str(shots / 'narrow-webhooks-long-url.png'), full_page=True)

    phone.goto(f'/webhooks/deliveries/{long_endpoint["delivery"]}')
    title, badge = phone.get_by_test_id('delivery-title'), phone.get_by_test_id('delivery-status')
    expect(title).to_be_visible()
    expect(badge).to_be_visible()
    width = steady(lambda: phone.evaluate('document.scrollingElement.scrollWidth'), 'the delivery page laid out')
    assert width <= WIDTH, phone.evaluate(WIDE, WIDTH)
    for part in (title, badge, phone.get_by_test_id('delivery-url'), phone.get_by_test_id('delivery-redeliver')):
        box = part.bounding_box()
        assert box is not None and box['x'] >= 0 and box['x'] + box['width'] <= WIDTH + 1, (part, box)
    assert not phone.evaluate(OVERLAPS, [title.element_handle(), badge.element_handle()])
    facts = phone.locator('.fm-fact > :nth-child(2)')  # webhook-id, when created, ...: read whole, wrapped
    expect(facts.first).to_be_visible()
    cut = phone.evaluate(CUT_FACTS)
    assert not cut, ('facts cut short', cut)
    phone.screenshot(path=str(shots / 'narrow-delivery-long-url.png'), full_page=True)


def test_a_long_endpoint_url_stays_in_its_column_on_a_desktop(
    browser: Browser, server: Any, long_endpoint: dict[str, str], shots: Path
) -> None:
    context = browser.new_context(base_url=server.url, viewport={'width': 1440, 'height': 900})
    page = context.new_page()
    try:
        sign_in(page, server, '/webhooks')
        _endpoint_fits(page, long_endpoint['endpoint'], 1440)
        url = page.locator(f'[data-endpoint-id={long_endpoint["endpoint"]}]').get_by_test_id('endpoint-url')
        assert (url.bounding_box() or {})['height'] < 30, 'on a desktop the URL keeps to one line'
        page.screenshot(path=str(shots / 'wide-webhooks-long-url.png'), full_page=True)
        page.goto(f'/webhooks/deliveries/{long_endpoint["delivery"]}')
        badge = page.get_by_test_id('delivery-status')
        expect(badge).to_be_visible()
        assert page.evaluate('document.scrollingElement.scrollWidth') <= 1440
        assert not page.evaluate(
            OVERLAPS, [page.get_by_test_id('delivery-title').element_handle(), badge.element_handle()]
        )
        page.screenshot(path=str(shots / 'wide-delivery-long-url.png'), full_page=True)
    finally:
        context.close()


def test_a_long_endpoint_name_stays_within_its_dialogs_on_a_phone(
    phone: Page, server: Any, call_api: Api, long_endpoint: dict[str, str], shots: Path
) -> None:
    """A name with no place to wrap (a description of one word) ran out of the Rotate secret and Delete questions,
    past the screen's edge."""
    endpoint_id = long_endpoint['endpoint']
    name = 'PartnerReceiverForTheEuropeanRegionProductionPrimary'
    assert call_api('PATCH', f'/api/webhooks/endpoints/{endpoint_id}', {'description': name}).status_code == 200
    sign_in(phone, server, '/webhooks')
    row = phone.locator(f'[data-testid=endpoint-row][data-endpoint-id={endpoint_id}]')
    for button in ('Rotate secret', 'Delete endpoint'):
        row.get_by_role('button', name=re.compile(f'^{button}')).click()
        dialog_reads_whole(phone, name, str(shots / f'narrow-endpoint-{button.split()[0].lower()}-dialog.png'))


# The texts the Gantt chart (a canvas) draws, with their boxes in the chart: read from its ECharts instance.
GANTT_TEXTS = """async () => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 return chart.getZr().storage.getDisplayList()
  .filter(e => (e.type === 'tspan' || e.type === 'text') && !e.ignore && !e.invisible && e.style.text)
  .map(e => {
   const r = e.getBoundingRect().clone();
   r.applyTransform(e.getComputedTransform());
   return { text: e.style.text, x: r.x, y: r.y, w: r.width, h: r.height, fill: e.style.fill };
  });
}"""

GANTT_TEXT_COLORS = """async () => {
 const { echarts } = await import('nicegui-echart');
 const option = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]')).getOption();
 return [option.xAxis[0].axisLabel.color, option.yAxis[0].axisLabel.color];
}"""


def _time_labels_fit(page: Page, where: str) -> list[str]:
    """The Gantt's time labels: each whole within the chart, none touching another; their texts."""
    gantt = page.get_by_test_id('replay-gantt')
    expect(gantt).to_be_visible()
    page.wait_for_function("document.querySelector('[data-testid=replay-gantt]').hasAttribute('_echarts_instance_')")
    width, texts = steady(
        lambda: ((gantt.bounding_box() or {})['width'], page.evaluate(GANTT_TEXTS)), 'the chart fitted to its width'
    )
    labels = sorted(
        (t for t in texts if t['text'].endswith(' s') and not t['text'].startswith('queued ')),
        key=lambda t: t['x'],
    )
    assert len(labels) >= 2, (where, labels)
    for label in labels:
        # within half a pixel at both ends: the chart lays its labels out in fractions of a pixel
        assert label['x'] >= -0.5 and label['x'] + label['w'] <= width + 0.5, (where, width, label)
    for left, right in pairwise(labels):
        assert left['x'] + left['w'] + 4 <= right['x'], (where, 'labels run together', left, right)
    return [label['text'] for label in labels]


def _queue_label(page: Page) -> dict[str, Any]:
    """The label of the Gantt's queue lane ('queued 4 ms'): whole within the chart, above the node rows' names."""
    texts = page.evaluate(GANTT_TEXTS)
    (queue,) = (t for t in texts if t['text'].startswith('queued '))
    width = (page.get_by_test_id('replay-gantt').bounding_box() or {})['width']
    assert queue['x'] >= 0 and queue['x'] + queue['w'] <= width + 0.5, (width, queue)
    names = [t for t in texts if t['text'] and not t['text'].endswith(' s') and t is not queue]
    assert names and all(queue['y'] + queue['h'] <= name['y'] for name in names), (queue, names)
    return queue


@pytest.mark.parametrize('width', [WIDTH, 1440])
def test_the_timeline_labels_its_axis_whole_and_apart(browser: Browser, server: Any, width: int, shots: Path) -> None:
    wait_loaded(server, 'order-pipeline')
    run = start(server, 'order-pipeline')
    wait_ended(server, run)
    context = browser.new_context(
        base_url=server.url, viewport={'width': width, 'height': HEIGHT}, is_mobile=width == WIDTH
    )
    page = context.new_page()
    try:
        sign_in(page, server, f'/executions/{run}')
        texts = _time_labels_fit(page, 'execution')
        names = [text['text'] for text in page.evaluate(GANTT_TEXTS)]
        if width == WIDTH:  # a name too long for a phone's axis is cut in its middle: its end still tells it apart
            cut = [name for name in names if '…' in name]
            assert cut and not any(name.endswith('…') for name in cut), names
            assert any(name.startswith('Reserve') and name.endswith('ntory') for name in cut), names
        else:
            assert {'Reserve inventory', 'Record sale in analytics'} <= set(names), names
        _id_beside_its_copy_button(page, f'execution at {width} px')
        assert texts[0] == '0 s'
        gantt = page.get_by_test_id('replay-gantt')
        gantt.screenshot(path=str(shots / f'timeline-{width}.png'))
        queue = _queue_label(page)
        if width != WIDTH:  # the axes' and the queue's text is the page's muted grey, and follows the light/dark toggle
            assert page.evaluate(GANTT_TEXT_COLORS) == ['#5b6270', '#5b6270']  # style.py's --fm-muted
            assert queue['fill'] == '#5b6270'
            page.get_by_test_id('theme-toggle').click()
            page.wait_for_function(f'async () => (await ({GANTT_TEXT_COLORS})())[0] === "#9ca3af"')
            page.wait_for_function(
                f'async () => (await ({GANTT_TEXTS})()).some(t => t.text.startsWith("queued ") && t.fill === "#9ca3af")'
            )
            gantt.screenshot(path=str(shots / f'timeline-{width}-dark.png'))
            page.get_by_test_id('theme-toggle').click()
        page.goto(f'/executions/{run}/replay')
        _time_labels_fit(page, 'replay')
        _queue_label(page)
    finally:
        context.close()


# How many lines each of ``words`` takes in the element of the test id (a word cut in two: 2).
WORD_LINES = """([testid, words]) => {
 const node = document.querySelector(`[data-testid=${testid}]`).firstChild;
 return Object.fromEntries(words.map(w => {
  const range = document.createRange(), at = node.textContent.indexOf(w);
  range.setStart(node, at); range.setEnd(node, at + w.length);
  return [w, new Set([...range.getClientRects()].map(r => Math.round(r.top))).size];
 }));
}"""


def test_the_error_banner_wraps_between_words(phone: Page, server: Any, shots: Path) -> None:
    """An execution's error wraps where it has spaces: "row 1842" does not read "row 18", then "42" below."""
    failed = start(server, 'broken-etl')
    wait_ended(server, failed)
    sign_in(phone, server, f'/executions/{failed}')
    banner = phone.get_by_test_id('execution-error')
    expect(banner).to_have_text("node 'parse_rows' failed: unexpected column 'amount_usd' in row 1842")
    phone.screenshot(path=str(shots / 'narrow-error-banner.png'))
    lines = phone.evaluate(WORD_LINES, ['execution-error', ["'amount_usd'", '1842']])
    assert lines == {"'amount_usd'": 1, '1842': 1}, lines


def test_the_compare_page_says_each_runs_duration_on_one_line(phone: Page, server: Any, shots: Path) -> None:
    """Beside each side's status, its duration keeps its figure and unit together ("1.1 s", not "1.1" above "s"); the
    position lines break between their parts alone ("A event 21 / 21", not "21 /" above "21")."""
    a, b = start(server, 'broken-etl'), start(server, 'broken-etl')
    for run in (a, b):
        wait_ended(server, run)
    sign_in(phone, server, f'/compare?a={a}&b={b}')
    expect(phone.get_by_test_id('compare-duration-b')).to_be_visible()
    phone.screenshot(path=str(shots / 'narrow-compare-durations.png'))
    for side in ('a', 'b'):
        shown = phone.get_by_test_id(f'compare-duration-{side}')
        expect(shown).to_have_text(re.compile(r'^\S+ m?s$'))
        lines = phone.evaluate(WORD_LINES, [f'compare-duration-{side}', [shown.inner_text()]])
        assert set(lines.values()) == {1}, (side, lines)
    for position in ('compare-position', 'compare-position-a', 'compare-position-b'):
        expect(phone.get_by_test_id(position)).to_contain_text('event')
        parts = (phone.get_by_test_id(position).text_content() or '').split(' · ')
        lines = phone.evaluate(WORD_LINES, [position, parts])
        assert len(parts) > 1 and set(lines.values()) == {1}, (position, lines)


# The event log's lines: each one's detail [text, left, right, top] and its type's top; each chunk of lines: its drawn
# height in rows and the rows event_log.js counted for it (the --n of the layout in force: --n2 below 640 px).
LOG_LINES = """(narrow) => {
 const log = document.querySelector('[data-testid=event-log]');
 const lh = parseFloat(getComputedStyle(log).lineHeight);
 return {
  right: log.getBoundingClientRect().right,
  lines: [...log.querySelectorAll('.fm-ev')].map(line => {
   const d = line.lastElementChild.getBoundingClientRect();
   return [line.lastElementChild.textContent, d.left, d.right, d.top, line.children[2].getBoundingClientRect().top];
  }),
  chunks: [...log.children].map(c => [c.getBoundingClientRect().height / lh,
   Number(getComputedStyle(c).getPropertyValue(narrow ? '--n2' : '--n'))]),
 };
}"""


@pytest.mark.parametrize('width', [WIDTH, 1280])
def test_the_event_log_shows_each_lines_detail_within_the_screen(
    browser: Browser, server: Any, width: int, shots: Path
) -> None:
    """On a phone a line's detail (the error, the data's target) goes under its type, wrapped within the log, and the
    rows counted for a chunk (its height while skipped) are the rows it takes; on a desktop a line is one row."""
    failed, done = start(server, 'broken-etl'), start(server, 'order-pipeline')
    for run in (failed, done):
        wait_ended(server, run)
    context = browser.new_context(base_url=server.url, viewport={'width': width, 'height': HEIGHT})
    try:
        page = context.new_page()
        for name, run in (('failed', failed), ('done', done)):
            sign_in(page, server, f'/executions/{run}')
            log = page.get_by_test_id('event-log')
            expect(log.locator('.fm-ev').last).to_be_visible()
            log.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / f'event-log-{width}-{name}.png'))
            page.add_style_tag(content='.fm-log>div{content-visibility:visible!important}')  # every chunk drawn
            drawn = page.evaluate(LOG_LINES, width < 640)
            details = [line for line in drawn['lines'] if line[0]]
            assert details, drawn
            if width < 640:
                assert page.evaluate('document.scrollingElement.scrollWidth') <= width, page.evaluate(WIDE, width)
                wide = [line for line in details if line[1] < 0 or line[2] > drawn['right'] + 1]
                assert not wide, ('details past the log', wide)
                assert all(top > type_top for _, _, _, top, type_top in details), details
            else:
                assert all(abs(top - type_top) < 1 for _, _, _, top, type_top in details), details
            assert all(abs(rows - counted) < 0.1 for rows, counted in drawn['chunks']), drawn['chunks']
    finally:
        context.close()


# What an endpoint's row and the page head show as text: [name, font size px, lines, left, right, cut px] per button's
# label and for the masked secret.
ENDPOINT_TEXTS = """(endpointId) => {
 const row = document.querySelector(`[data-testid=endpoint-row][data-endpoint-id="${endpointId}"]`);
 const head = [...document.querySelectorAll('.fm-page .q-btn')]
  .find(b => !row.contains(b) && /Redeliver…/.test(b.textContent));
 const parts = [...row.querySelectorAll('.q-btn .block'), head.querySelector('.block'),
  row.querySelector('.fm-secret')];
 return parts.map(e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const r = e.getBoundingClientRect(), box = e.closest('.q-btn') || e;
  return [e.textContent, parseFloat(getComputedStyle(e).fontSize),
   new Set([...range.getClientRects()].map(c => Math.round(c.top))).size, r.left, r.right,
   Math.max(e.scrollWidth - e.clientWidth, box.scrollWidth - box.clientWidth)];
 });
}"""


def test_the_endpoint_actions_read_whole_on_a_phone(phone: Page, server: Any, call_api: Api, shots: Path) -> None:
    """An endpoint's buttons (Send test event, Edit, Delete...), its masked secret and the page's Redeliver...: text of
    at least 12 px, each on one line, whole within the screen."""
    created = call_api(
        'POST', '/api/webhooks/endpoints', {'url': 'https://hooks.example.com/in', 'event_types': ['execution.failed']}
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()['id']
    try:
        sign_in(phone, server, '/webhooks')
        expect(phone.locator(f'[data-testid=endpoint-row][data-endpoint-id="{endpoint_id}"]')).to_be_visible()
        phone.screenshot(path=str(shots / 'narrow-webhooks-actions.png'), full_page=True)
        texts = phone.evaluate(ENDPOINT_TEXTS, endpoint_id)
        assert {'Send test event', 'Edit', 'Delete', 'Redeliver…', 'Reveal'} <= {t[0] for t in texts}, texts
        bad = [t for t in texts if t[1] < 12 or t[2] != 1 or t[3] < 0 or t[4] > WIDTH + 1 or t[5] > 0]
        assert not bad, '[text, px, lines, left, right, cut]\n' + '\n'.join(map(str, bad))
        assert phone.evaluate('document.scrollingElement.scrollWidth') <= WIDTH, phone.evaluate(WIDE, WIDTH)
    finally:
        call_api('DELETE', f'/api/webhooks/endpoints/{endpoint_id}')
