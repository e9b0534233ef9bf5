"""Bulk selection on ``/executions`` and the keyboard shortcuts, in a real Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from helpers import Server, api, sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Page, expect
from sample_workflows import delay, transform, workflow

Api = Callable[..., httpx.Response]
MARK = 'zz-bulk-e2e'
BULK = workflow('e2e-bulk', 'E2E bulk', transform('echo', 'input'))
WAIT = workflow('e2e-wait', 'E2E wait', delay('wait', 60))


@pytest.fixture(scope='module')
def workflows(server: Server) -> None:
    wait_loaded(server)
    for definition in (BULK, WAIT):
        response = api(server, 'PUT', f'/api/workflows/{definition["id"]}', json=definition)
        assert response.status_code in (200, 201), response.text


@pytest.fixture
def signed_in(page: Page, server: Server, workflows: None) -> Iterator[Page]:
    sign_in(page, server)
    yield page


def test_bulk_selection_reruns_the_selected_executions(signed_in: Page, server: Server, call_api: Api) -> None:
    page = signed_in
    ids = [start(server, 'e2e-bulk', {'input': {'batch': MARK, 'n': n}}) for n in range(3)]
    for execution_id in ids:
        wait_ended(server, execution_id)

    page.goto(f'/executions?q={MARK}')
    rows = page.get_by_test_id('execution-row')
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id('bulk-selected')).to_be_hidden()

    rows.nth(0).get_by_test_id('select-execution').click()  # a checkbox inside the row's link does not open it
    expect(page.get_by_test_id('bulk-selected')).to_have_text('1 selected')
    assert page.url.endswith(f'/executions?q={MARK}')

    page.get_by_test_id('select-page').click()
    expect(page.get_by_test_id('bulk-selected')).to_have_text('3 selected')
    page.get_by_test_id('bulk-rerun').click()
    expect(page.get_by_text('Rerun 3 executions?')).to_be_visible()
    page.get_by_test_id('confirm-bulk-ok').click()
    expect(page.locator('.q-notification').filter(has_text='Rerun: 3 done, 0 skipped, 0 failed')).to_be_visible()
    expect(page.get_by_test_id('bulk-selected')).to_be_hidden()

    reruns = call_api('GET', '/api/executions?trigger=rerun&workflow_id=e2e-bulk').json()['items']
    assert {call_api('GET', f'/api/executions/{item["id"]}').json()['retry_of'] for item in reruns} == set(ids)
    expect(rows).to_have_count(6)  # the reruns hold the same input: they join the search's list


def test_keyboard_shortcuts_help_search_navigation_and_cancel(signed_in: Page, server: Server, call_api: Api) -> None:
    page = signed_in
    expect(page.get_by_test_id('metric-active')).to_be_visible()

    page.keyboard.press('?')
    help_dialog = page.locator('.q-dialog').filter(has_text='Keyboard shortcuts')
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_test_id('shortcut-keys')).to_have_count(9)
    page.keyboard.press('g')  # keys while a dialog is open are the dialog's
    page.keyboard.press('e')
    assert page.url.endswith('/')
    page.keyboard.press('Escape')
    expect(help_dialog).to_be_hidden()
    page.wait_for_function("() => !document.querySelector('.q-dialog')")  # keys count again once it has gone

    page.keyboard.press('g')
    page.keyboard.press('e')
    expect(page).to_have_url(re.compile(r'/executions$'))
    search = page.locator('[data-fm-search]').locator('xpath=descendant-or-self::input').first
    expect(search).to_be_visible()
    # its name, not only a placeholder, for a screen reader
    expect(page.get_by_role('searchbox', name='Search executions: inputs, outputs and errors')).to_be_visible()

    page.keyboard.press('/')
    expect(search).to_be_focused()
    page.keyboard.type('g e r c')  # typing in the box is typing, not shortcuts
    expect(search).to_have_value('g e r c')
    assert page.url.endswith('/executions')
    search.blur()

    page.keyboard.press('g')
    page.keyboard.press('d')
    expect(page).to_have_url(re.compile(r'^http://[^/]+/$'))
    expect(page.get_by_test_id('metric-active')).to_be_visible()
    page.keyboard.press('/')  # no search box here: the execution list opens with its box focused
    expect(page).to_have_url(re.compile(r'/executions$'))
    expect(search).to_be_focused()
    search.blur()

    running = start(server, 'e2e-wait')
    page.goto(f'/executions/{running}')
    expect(page.get_by_test_id('cancel-execution')).to_be_visible()
    page.keyboard.press('c')
    expect(page.get_by_test_id('confirm-cancel')).to_be_visible()
    assert call_api('GET', f'/api/executions/{running}').json()['status'] == 'running'  # it asks first
    page.get_by_test_id('confirm-cancel').click()
    assert wait_ended(server, running)['status'] == 'cancelled'


def test_the_workflows_menu_is_a_menu_the_arrow_keys_move_through(signed_in: Page, shots: Path) -> None:
    page = signed_in
    expect(page.get_by_test_id('metric-active')).to_be_visible()
    page.keyboard.press('g')
    page.keyboard.press('w')
    menu = page.get_by_role('menu')
    entries = menu.get_by_role('menuitem')
    expect(entries.filter(has_text='E2E wait')).to_be_visible()  # (filled as it opens)
    names = entries.all_inner_texts()
    assert len(names) > 2 and 'E2E bulk' in names and 'E2E wait' in names, names
    page.keyboard.press('ArrowDown')
    expect(entries.nth(0)).to_be_focused()
    page.keyboard.press('ArrowDown')
    expect(entries.nth(1)).to_be_focused()
    page.keyboard.press('ArrowUp')
    page.keyboard.press('ArrowUp')  # round to the last
    expect(entries.nth(len(names) - 1)).to_be_focused()
    page.keyboard.press('Home')
    expect(entries.nth(0)).to_be_focused()
    page.keyboard.type('2E WAI')  # into the filter box, from the entry: the entries that match only
    box = menu.get_by_role('searchbox', name='Filter workflows by name')
    expect(box).to_have_value('2E WAI')
    expect(entries.filter(visible=True)).to_have_text(['E2E wait'])
    page.keyboard.press('Home')  # in the box: the start of its text
    expect(box).to_be_focused()
    page.keyboard.press('ArrowDown')
    expect(entries.filter(has_text='E2E wait')).to_be_focused()
    page.screenshot(path=str(shots / 'workflows-menu-keys.png'))
    page.keyboard.press('Enter')
    expect(page).to_have_url(re.compile(r'/workflows/e2e-wait$'))


MARKER = '<img src=x onerror="window.__xss=1"><b id="fm-marker-b">b</b>'  # 59 characters: fits a view name


def assert_inert(page: Page, where: str) -> None:
    page.wait_for_timeout(150)  # let a late render land before looking
    found = page.evaluate(
        """() => ({bold: document.querySelectorAll('#fm-marker-b').length, xss: typeof window.__xss,
                   imgs: [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length})"""
    )
    assert found == {'bold': 0, 'xss': 'undefined', 'imgs': 0}, f'{where}: markup from a marker: {found}'


def test_view_names_and_search_text_stay_text(signed_in: Page, call_api: Api) -> None:
    page = signed_in
    page.goto(f'/executions?{httpx.QueryParams({"q": MARKER, "status": "failed"})}')
    expect(page.locator('body')).to_contain_text(f'containing \N{LEFT DOUBLE QUOTATION MARK}{MARKER}')
    search = page.locator('[data-fm-search]').locator('xpath=descendant-or-self::input').first
    expect(search).to_have_value(MARKER)
    assert_inert(page, 'executions list with a marker search')

    page.get_by_test_id('save-view').click()
    page.get_by_label('Name').fill(MARKER)
    page.get_by_test_id('save-view-ok').click()
    expect(page.locator('.q-notification').filter(has_text=f'Saved view “{MARKER}”')).to_be_visible()
    assert_inert(page, 'notification of the saved view')

    drawer = page.get_by_test_id('views-drawer')
    if not drawer.is_visible():
        page.get_by_test_id('views-toggle').click()
    view = drawer.get_by_test_id('saved-view').filter(has_text=MARKER)
    expect(view).to_be_visible()
    assert_inert(page, 'drawer')
    view.locator('xpath=following-sibling::*').first.click()  # its delete button
    expect(page.locator('.q-dialog')).to_contain_text(MARKER)
    assert_inert(page, 'delete confirmation')
    page.get_by_test_id('confirm-delete-view-ok').click()
    expect(view).to_be_hidden()
    assert call_api('GET', '/api/views').json() == []


LONG_VIEW = 'Failed invoices of the quarter-end close, every region and shop'  # 63 of the 64 a name may have


def test_a_long_view_name_keeps_its_icon_beside_it_and_is_cut_with_an_ellipsis(
    signed_in: Page, call_api: Api, shots: Path
) -> None:
    page = signed_in
    assert call_api('POST', '/api/views', {'name': LONG_VIEW, 'filter': {'status': 'failed'}}).status_code == 201
    try:
        page.goto('/executions')
        view = page.get_by_test_id('views-drawer').get_by_test_id('saved-view').filter(has_text=LONG_VIEW)
        expect(view).to_be_visible()
        page.screenshot(path=shots / 'saved-view-long-name.png')
        icon, name = view.locator('.q-icon'), view.locator('.q-btn__content > .block')
        icon_box, name_box = icon.bounding_box(), name.bounding_box()
        assert icon_box and name_box
        # one line: the icon left of the name, not on a line of its own above it
        assert icon_box['x'] + icon_box['width'] <= name_box['x'], (icon_box, name_box)
        assert abs((icon_box['y'] + icon_box['height'] / 2) - (name_box['y'] + name_box['height'] / 2)) < 4
        cut = name.evaluate(
            "e => ({over: e.scrollWidth > e.clientWidth, ellipsis: getComputedStyle(e).textOverflow === 'ellipsis'})"
        )
        assert cut == {'over': True, 'ellipsis': True}, cut  # cut where it ends with "…", not mid-letter at the edge
        view.hover()
        expect(page.locator('.q-tooltip')).to_contain_text(LONG_VIEW)  # whole in its tooltip
    finally:
        call_api('DELETE', f'/api/views/{LONG_VIEW}')
