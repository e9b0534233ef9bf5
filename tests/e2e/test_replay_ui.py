"""The replay page in Chromium, for what only a browser shows: a click on the scrubber's slider (Quasar's) jumps
there and the address bar follows, a reload opens the same position, the dark theme is really dark, an import's
notice takes the place of the refused file's before it, the speed select's tooltip stays clear of its open menu; and the
compare page of a rerun with a new input, laid out at 1400 and at 390 px (screenshots compare-rerun-*.png). Stepping,
playing, keys, comparison, export and import are tested in the user simulation (tests/ui/test_replay_page.py,
tests/ui/test_compare_page.py)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from helpers import Server, api, sign_in, start, steady, wait_ended, wait_loaded, wait_until
from playwright.sync_api import Browser, Page, expect

POSITION = re.compile(r'event (\d+) / (\d+)')
# The relative luminance (0 black .. 1 white) of an element's computed colour property.
LUMINANCE = """([selector, property]) => {
    const rgb = getComputedStyle(document.querySelector(selector))[property].match(/\\d+(\\.\\d+)?/g).map(Number);
    const [r, g, b] = rgb.slice(0, 3).map((c) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""


def finished(server: Server) -> str:
    wait_loaded(server, 'order-pipeline')
    execution_id = start(server, 'order-pipeline')
    wait_ended(server, execution_id)
    return execution_id


def position(page: Page) -> tuple[int, int]:
    match = POSITION.search(page.get_by_test_id('replay-position').inner_text())
    assert match, page.get_by_test_id('replay-position').inner_text()
    return int(match[1]), int(match[2])


def expect_statuses(page: Page, server: Server, execution_id: str, k: int) -> None:
    """The node list shows the statuses the API reports for event ``k``."""
    body = api(server, 'GET', f'/api/executions/{execution_id}/state?at={k}').json()
    for node_id in api(server, 'GET', f'/api/executions/{execution_id}').json()['nodes']:
        status = body['nodes'].get(node_id, {}).get('status', 'pending')
        expect(page.get_by_test_id(f'node-{node_id}')).to_have_attribute('data-status', status)


def test_a_click_on_the_slider_jumps_there_and_a_reload_keeps_it(page: Page, server: Server, shots: Path) -> None:
    execution_id = finished(server)
    sign_in(page, server, f'/executions/{execution_id}/replay')
    expect(page.get_by_test_id('replay-position')).to_contain_text('event 0 / ')
    n = position(page)[1]

    slider = page.get_by_test_id('replay-slider')
    box = slider.bounding_box()
    assert box is not None
    page.mouse.click(box['x'] + box['width'] * 0.5, box['y'] + box['height'] / 2)
    k = wait_until(lambda: 0 < (at := position(page)[0]) < n and at, 'the slider to jump', seen=lambda: position(page))
    expect_statuses(page, server, execution_id, k)
    expect(page).to_have_url(re.compile(rf'/executions/{execution_id}/replay\?at={k}$'))
    page.screenshot(path=str(shots / 'replay-midway.png'), full_page=True)

    page.reload()  # the URL carries the position
    expect(page.get_by_test_id('replay-position')).to_contain_text(f'event {k} / {n}')
    expect_statuses(page, server, execution_id, k)


def test_the_focused_slider_steps_one_event_per_arrow_and_says_where_it_stands(
    page: Page, server: Server, shots: Path
) -> None:
    """A screen reader hears the position in events, not milliseconds, and the arrow keys on the focused slider step
    one event (Quasar's slider alone moved a millisecond: nothing to see)."""
    execution_id = finished(server)
    sign_in(page, server, f'/executions/{execution_id}/replay?at=3')
    expect(page.get_by_test_id('replay-position')).to_contain_text('event 3 / ')
    n = position(page)[1]
    slider = page.locator('[data-testid=replay-slider][role=slider]')
    expect(slider).to_have_attribute('aria-valuetext', re.compile(rf'^event 3 of {n}, \+\d+\.\d{{3}} s$'))
    thumb = slider.locator('[tabindex="0"]')  # what Tab reaches: Quasar's track, inside the role=slider element
    thumb.focus()
    page.keyboard.press('ArrowRight')
    expect(page.get_by_test_id('replay-position')).to_contain_text(f'event 4 / {n}')
    expect(slider).to_have_attribute('aria-valuetext', re.compile(rf'^event 4 of {n}, '))
    page.keyboard.press('ArrowLeft')
    page.keyboard.press('ArrowLeft')
    expect(page.get_by_test_id('replay-position')).to_contain_text(f'event 2 / {n}')
    page.keyboard.press('ArrowUp')
    expect(page.get_by_test_id('replay-position')).to_contain_text(f'event 3 / {n}')
    expect(thumb).to_be_focused()
    page.screenshot(path=str(shots / 'replay-slider-keys.png'))


def test_the_compare_slider_steps_one_event_per_arrow_and_says_where_both_stand(page: Page, server: Server) -> None:
    """The arrow keys on the focused slider step one event, Home and End go to the start and the end."""
    first, second = finished(server), finished(server)
    sign_in(page, server, f'/compare?a={first}&b={second}')
    slider = page.locator('[data-testid=compare-slider][role=slider]')
    expect(slider).to_have_attribute('aria-valuetext', re.compile(r': A event (\d+) of \1, B event (\d+) of \2$'))
    page.get_by_role('button', name='Jump to start').click()
    expect(slider).to_have_attribute('aria-valuetext', re.compile(r'^\+0\.000 s: A event 1 of \d+, B event 1 of'))
    slider.locator('[tabindex="0"]').focus()
    page.keyboard.press('ArrowRight')  # to the next event of either run
    expect(slider).to_have_attribute(
        'aria-valuetext', re.compile(r': A event 2 of \d+, B event [12] of|: A event 1 of \d+, B event 2 of')
    )
    page.keyboard.press('ArrowLeft')
    expect(slider).to_have_attribute('aria-valuetext', re.compile(r'^\+0\.000 s: A event 1 of \d+, B event 1 of'))
    page.keyboard.press('End')  # as on the replay page: the end and the start
    expect(slider).to_have_attribute('aria-valuetext', re.compile(r': A event (\d+) of \1, B event (\d+) of \2$'))
    page.keyboard.press('Home')
    expect(slider).to_have_attribute('aria-valuetext', re.compile(r'^\+0\.000 s: A event 1 of \d+, B event 1 of'))


def test_the_dark_theme_is_dark(page: Page, server: Server, shots: Path) -> None:
    execution_id = finished(server)
    sign_in(page, server, f'/executions/{execution_id}/replay?at=20')
    expect(page.get_by_test_id('replay-position')).to_contain_text('event 20 / ')
    assert page.evaluate(LUMINANCE, ['body', 'backgroundColor']) > 0.8  # light: a white page, dark text
    assert page.evaluate(LUMINANCE, ['[data-testid=replay-position]', 'color']) < 0.3

    page.get_by_test_id('theme-toggle').click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    page.reload()  # the choice is the session's: it survives a page load
    expect(page.get_by_test_id('replay-position')).to_contain_text('event 20 / ')
    assert page.evaluate("() => document.body.classList.contains('body--dark')")
    assert page.evaluate(LUMINANCE, ['body', 'backgroundColor']) < 0.1  # a dark page, light text on it
    assert page.evaluate(LUMINANCE, ['[data-testid=replay-position]', 'color']) > 0.5
    page.screenshot(path=str(shots / 'replay-midway-dark.png'), full_page=True)
    page.get_by_test_id('theme-toggle').click()  # leave the session's preference as it was


def test_an_import_after_a_refused_one_takes_the_place_of_its_notice(page: Page, server: Server, shots: Path) -> None:
    """A refused file's notice and the next import's success are one notification, not two on top of each other:
    the newer outcome takes the older one's place (Quasar's notification group)."""
    export = api(server, 'GET', f'/api/executions/{finished(server)}/export').content
    sign_in(page, server, '/executions')
    page.get_by_test_id('import-execution').click()
    files = page.get_by_test_id('import-upload').locator('input[type=file]')
    notices = page.locator('.q-notification')
    files.set_input_files({'name': 'bad.json', 'mimeType': 'application/json', 'buffer': b'{"format": "other"}'})
    expect(notices).to_contain_text('bad.json cannot be imported: not a flowmon execution export')
    files.set_input_files({'name': 'run.json', 'mimeType': 'application/json', 'buffer': export})
    expect(page.locator('.q-notification', has_text='Imported as')).to_be_visible()
    assert notices.all_inner_texts() == [notices.first.inner_text()], notices.all_inner_texts()  # that one alone
    assert 'cannot be imported' not in notices.first.inner_text()
    # the group's count is not shown (it would say nothing): its badge is there, hidden (to_be_hidden would also pass
    # once the notice had closed, shown or not)
    expect(notices.locator('.q-notification__badge')).to_have_css('display', 'none')
    expect(page.get_by_test_id('replay-position')).to_be_visible()  # on the imported execution's replay
    page.screenshot(path=str(shots / 'import-after-a-refused-file.png'))
    assert notices.count() <= 1


def test_the_compare_page_of_a_rerun_with_a_new_input_fits_a_desktop_and_a_phone(
    browser: Browser, server: Server, shots: Path
) -> None:
    """The daily loop: broken-etl for one day, rerun from the parser for another; the compare page shows both inputs,
    says they differ, and marks the nodes the rerun reused, within the screen on a desktop and on a phone, every node
    named whole in the table of differences."""
    wait_loaded(server, 'broken-etl')
    first = start(server, 'broken-etl', {'input': {'day': '2026-12-01'}})
    wait_ended(server, first)
    rerun = api(
        server, 'POST', f'/api/executions/{first}/rerun', {'from_node': 'parse_rows', 'input': {'day': '2026-12-09'}}
    )
    assert rerun.status_code == 202, rerun.text
    second = rerun.json()['id']
    wait_ended(server, second)
    for width, height, name in ((1400, 900, 'wide'), (390, 844, 'narrow')):
        context = browser.new_context(base_url=server.url, viewport={'width': width, 'height': height})
        view = context.new_page()
        try:
            sign_in(view, server, f'/compare?a={first}&b={second}')
            expect(view.get_by_test_id('first-divergence')).to_contain_text('the inputs differ')
            expect(view.get_by_test_id('compare-input-a')).to_contain_text('2026-12-01')
            expect(view.get_by_test_id('compare-input-b')).to_contain_text('2026-12-09')
            expect(view.get_by_test_id('diff-fetch_export')).to_contain_text(f'reused from {first[-8:]}')
            # (the canvases lay out once their box has its size)
            wide = steady(partial(view.evaluate, 'document.scrollingElement.scrollWidth'), f'the {name} page laid out')
            assert wide <= width + 1, name
            # every node is named whole in the table (the table scrolls sideways on a phone, its names do not shrink)
            expect(view.locator('.fm-diff-name')).to_have_count(5)
            cut = view.evaluate(
                "[...document.querySelectorAll('.fm-diff-name')].filter(e => e.scrollHeight > e.clientHeight + 1"
                ' || e.scrollWidth > e.clientWidth + 1'
                ' || e.getBoundingClientRect().right > e.parentElement.getBoundingClientRect().right + 1)'
                '.map(e => e.textContent)'
            )
            assert cut == [], (name, cut)
            view.screenshot(path=str(shots / f'compare-rerun-{name}.png'), full_page=True)
            if name == 'wide':
                view.get_by_test_id('show-input-diff').click()
                expect(view.get_by_test_id('input-diff')).to_contain_text('+   "day": "2026-12-09"')
                view.wait_for_timeout(400)  # the dialog's opening transition
                view.screenshot(path=str(shots / 'compare-rerun-input-diff.png'))
        finally:
            context.close()


def test_the_speed_tooltip_leaves_the_open_speed_menu_in_view(page: Page, server: Server, shots: Path) -> None:
    """The pointer stays on the speed select after the click that opens it, and so does its tooltip: every option of
    the menu is clear of it (it covered 0.5x and half of 1x)."""
    sign_in(page, server, f'/executions/{finished(server)}/replay')
    speed = page.get_by_test_id('replay-speed')
    speed.hover()
    tooltip = page.locator('.q-tooltip').filter(has_text='Playback speed')
    expect(tooltip).to_be_visible()
    speed.click()
    options = page.locator('.q-menu .q-item')
    expect(options.first).to_have_text('0.5x')
    expect(tooltip).to_be_visible()  # still hovered
    page.screenshot(path=str(shots / 'replay-speed-menu.png'))
    tip = tooltip.bounding_box()
    assert tip is not None
    for option in options.all():
        box = option.bounding_box()
        assert box is not None
        apart = (
            tip['y'] + tip['height'] <= box['y']
            or box['y'] + box['height'] <= tip['y']
            or tip['x'] + tip['width'] <= box['x']
            or box['x'] + box['width'] <= tip['x']
        )
        assert apart, (option.inner_text(), tip, box)
