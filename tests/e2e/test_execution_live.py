"""The execution page in Chromium, for what only a browser shows: a click on the canvas hits the node under the
pointer (ECharts' hit-testing) and opens the inspector, the event log keeps the reader's scroll while lines arrive,
and closing the tab gives back its client (a tab whose connection stalls or drops: test_execution_reconnect.py). What
the page shows of an execution (live statuses, retries, cancel, rerun, the log filter, unknown ids) is tested in the
user simulation (tests/ui/test_execution_page.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from event_log_probe import METRICS, TOP_LINE, WATCH_HEIGHT, at_bottom, chatty, lines_shown, scroll_up
from helpers import Server, api, click_on_canvas, node_pixel, sign_in, start, wait_ended, wait_until
from playwright.sync_api import Browser, Page, expect

from flowmon.web.widgets.event_log import MAX_LINES


def clients(server: Server) -> dict[str, int]:
    response = api(server, 'GET', '/api/debug/clients')
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_finished_execution_renders_and_a_canvas_click_opens_the_inspector(
    page: Page, server: Server, shots: Path
) -> None:
    execution_id = start(server, 'order-pipeline')
    assert wait_ended(server, execution_id)['status'] == 'succeeded'
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('succeeded', timeout=10_000)
    for node_id in ('validate_order', 'charge_payment', 'ship_order', 'record_analytics'):
        expect(page.get_by_test_id(f'node-{node_id}')).to_contain_text('succeeded', ignore_case=True)
    expect(page.get_by_test_id('event-log')).to_contain_text('execution.completed')

    click_on_canvas(page, *node_pixel(page, 'charge_payment'), 'Charge payment')
    inspector = page.get_by_test_id('inspector')
    expect(inspector).to_be_visible(timeout=5_000)
    expect(inspector).to_contain_text('Charge payment')
    expect(page.get_by_test_id('inspector-attempts')).to_contain_text('payment gateway timeout')
    expect(page.get_by_test_id('inspector-status')).to_have_text('succeeded')
    expect(inspector).to_contain_text('Rerun from this node')
    page.wait_for_timeout(400)  # the side sheet slides in
    # the attempts are a table: each row's start time begins where the others' do, a long error or not
    starts = page.get_by_test_id('attempt-started').evaluate_all(
        '(es) => es.map((e) => e.getBoundingClientRect().left)'
    )
    assert len(starts) == 3 and max(starts) - min(starts) < 1, starts
    page.screenshot(path=str(shots / 'execution-inspector.png'), full_page=True)

    page.locator('button:has(i:text-is("dark_mode"))').first.click()
    expect(page.locator('body.body--dark')).to_have_count(1)
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / 'execution-inspector-dark.png'), full_page=True)
    page.get_by_label('Close inspector').click()
    expect(inspector).to_be_hidden()
    page.screenshot(path=str(shots / 'execution-finished-dark.png'), full_page=True)

    page.get_by_test_id('node-ship_order').click()  # the text alternative opens the inspector as well
    expect(inspector).to_be_visible()
    expect(inspector).to_contain_text('Ship order')
    page.get_by_label('Close inspector').click()
    page.locator('button:has(i:text-is("light_mode"))').first.click()


# about 540 events in 70 s (cancelled at the test's end): on a loaded machine the test took longer than the 45 s of
# the chain's 0.3-s steps, and waited for new lines after the run had ended; slower steps, not more of them (a chain of
# 240 made the page's every update twice the work: 13 s more for the test beside other work)
CHATTY = chatty('chatty-chain', 120, seconds=0.6)


def test_cancelling_is_said_until_the_execution_has_ended_not_after(page: Page, server: Server) -> None:
    """ "Cancelling…" went on showing for its five seconds beside the "cancelled" badge; it goes once the page
    shows the execution ended."""
    execution_id = start(server, 'nightly-batch')  # a minute long
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('running', timeout=10_000)
    page.get_by_test_id('cancel-execution').click()
    page.get_by_role('dialog').get_by_role('button', name='Cancel execution').click()
    cancelling = page.locator('.q-notification', has_text='Cancelling…')
    expect(page.get_by_test_id('execution-status')).to_have_text('cancelled', timeout=10_000)
    # (It stayed 5 s.) With less motion asked for (as every browser test runs) it leaves at once, not over Quasar's 1 s
    # fade; withdrawn before the browser drew it (the end came in the same moment) it goes after 1.05 s (its timeout of
    # 50 ms, to which Quasar adds 1 s).
    expect(cancelling).to_have_count(0, timeout=2_000)
    assert page.evaluate(NOTIFICATION_TRANSITION) == '0s'
    page.emulate_media(reduced_motion='no-preference')
    assert page.evaluate(NOTIFICATION_TRANSITION) == '1s, 1s'  # (Quasar's, for everyone else)


# how long a notification takes to come and go
NOTIFICATION_TRANSITION = """() => {
    const note = document.createElement('div');
    note.className = 'q-notification';
    document.body.append(note);
    const duration = getComputedStyle(note).transitionDuration;
    note.remove();
    return duration;
}"""


# The canvas's effects (the ripple around a running card, the dots along an edge data took) as the chart has them, and
# how often its drawing changed over `ms` milliseconds.
CANVAS_MOTION = """async (ms) => {
    const dom = document.querySelector('[data-testid="dag-canvas"]');
    const option = getElement(dom).chart.getOption();
    const series = option.series;
    const pulse = series.find((s) => s.id === 'pulse');
    let changes = 0;
    const seen = new MutationObserver((records) => { changes += records.length; });
    seen.observe(dom, { subtree: true, childList: true, attributes: true });
    await new Promise((resolve) => setTimeout(resolve, ms));
    seen.disconnect();
    return { ripple: pulse.showEffectOn, running: pulse.data.length, halo: pulse.symbolSize,
             dots: series.find((s) => s.id === 'flow').effect.show,
             glide: option.tooltip[0].transitionDuration, changes };
}"""


# whether the canvas draws a running card's halo (the pulse series has a point)
RUNNING_DRAWN = """() => getElement(document.querySelector('[data-testid="dag-canvas"]')).chart.getOption()
    .series.find((s) => s.id === 'pulse').data.length >= 1"""
# whether the ripple shows on `arg` ('render': always; 'emphasis': never, the series being silent)
EFFECT_ON = """(on) => getElement(document.querySelector('[data-testid="dag-canvas"]')).chart.getOption()
    .series.find((s) => s.id === 'pulse').showEffectOn === on"""


def test_the_canvas_keeps_still_for_a_visitor_who_asks_for_less_motion(page: Page, server: Server, shots: Path) -> None:
    """With the browser's prefers-reduced-motion (as every other browser test runs) a running card has an unmoving
    halo and no ripple, and the canvas's SVG stays as it is between two patches; once the visitor no longer asks for
    it, on the open page, the ripple runs and the SVG changes frame after frame; and stops again."""
    execution_id = start(server, 'nightly-batch')  # a minute long: its shards run for 20-40 s
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    expect(page.get_by_test_id('node-shard_5')).to_contain_text('running', ignore_case=True, timeout=30_000)
    node_pixel(page, 'shard_5')  # (drawn)
    page.wait_for_function(RUNNING_DRAWN)  # (the chart draws apart from the node list)
    still = page.evaluate(CANVAS_MOTION, 1_000)
    assert still['ripple'] == 'emphasis' and still['dots'] is False and still['running'] >= 1, still
    assert still['glide'] == 0, still  # (the tooltip jumps from card to card)
    card = page.evaluate(
        """() => getElement(document.querySelector('[data-testid="dag-canvas"]')).chart.getOption()
            .series.find((s) => s.id === 'nodes').symbolSize"""
    )
    assert still['halo'][0] > card[0] and still['halo'][1] > card[1], (still, card)
    assert still['changes'] < 20, f'the still canvas changed {still["changes"]} times in a second'
    page.screenshot(path=str(shots / 'execution-live-still.png'))
    page.emulate_media(reduced_motion='no-preference')
    page.wait_for_function(EFFECT_ON, arg='render')
    moving = page.evaluate(CANVAS_MOTION, 1_000)
    assert moving['ripple'] == 'render' and moving['dots'] is True and moving['halo'] == card, moving
    assert moving['glide'] > 0, moving
    assert moving['changes'] > 3 * max(still['changes'], 10), (still, moving)
    page.screenshot(path=str(shots / 'execution-live-moving.png'))
    page.emulate_media(reduced_motion='reduce')  # and back
    page.wait_for_function(EFFECT_ON, arg='emphasis')
    again = page.evaluate(CANVAS_MOTION, 1_000)
    assert again['ripple'] == 'emphasis' and again['changes'] < 20, again
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


def test_the_event_log_does_not_steal_the_scroll(page: Page, server: Server, shots: Path) -> None:
    assert api(server, 'PUT', '/api/workflows/chatty-chain', json=CHATTY).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-chain')
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('step_008', timeout=10_000)  # enough lines to overflow the box
    metrics = METRICS
    wait_until(lambda: at_bottom(log.evaluate(metrics)), 'the log following new lines')

    scroll_up(page, log, 400)  # the reader scrolls up to read older lines
    reading = log.evaluate(metrics)
    line = log.evaluate(TOP_LINE)
    log.evaluate(WATCH_HEIGHT)
    shown = lines_shown(page)
    wait_until(lambda: lines_shown(page) >= shown + 10, 'new lines arriving')  # while the reader reads
    after = log.evaluate(metrics)
    assert log.evaluate(TOP_LINE) == line, 'the line the reader was reading moved'
    # (trimming the oldest lines moves the view up with them, the line read staying where it was)
    if lines_shown(page) < MAX_LINES:
        assert abs(after['top'] - reading['top']) <= 2, f'the log moved while reading: {reading} -> {after}'
    # the log is as tall as its lines in every frame: its scrollbar does not jump as lines arrive out of view
    assert page.evaluate('window.__jumps') == [], 'the log was not as tall as its lines (scroll height, expected)'
    log.screenshot(path=str(shots / 'event-log-reading.png'))

    page.get_by_test_id('event-log-latest').click()  # back to the newest line: following resumes
    shown = lines_shown(page)
    wait_until(lambda: lines_shown(page) >= shown + 10, 'more new lines')
    wait_until(lambda: at_bottom(log.evaluate(metrics)), 'the log following again', seen=lambda: log.evaluate(metrics))
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


def test_closing_the_tab_releases_its_client(browser: Browser, launch_servers: Callable[..., Server]) -> None:
    # a server of its own: the shared one still holds the pages of earlier tests for 20 s after they closed
    server = launch_servers()
    execution_id = start(server, 'nightly-batch')
    baseline = clients(server)

    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    sign_in(page, server, f'/executions/{execution_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('running', timeout=10_000)
    assert clients(server)['clients'] == baseline['clients'] + 1, baseline
    assert clients(server)['bus_subscribers'] == baseline['bus_subscribers']  # pages never subscribe

    context.close()
    wait_until(
        lambda: clients(server) == baseline,
        f'the client count back to {baseline}',
        seen=lambda: clients(server),
        timeout=50,  # the closed tab's client lingers for the reconnect timeout (20 s)
    )
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')
