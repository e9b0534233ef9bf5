"""The execution page in Chromium, for what only a browser shows: a click on the canvas hits the node under the
pointer (ECharts' hit-testing) and opens the inspector, the event log keeps the reader's scroll while lines arrive,
a tab that stalls for seconds keeps its page, and closing the tab gives back its client. What the page shows of an
execution (live statuses, retries, cancel, rerun, the log filter, unknown ids) is tested in the user simulation
(tests/ui/test_execution_page.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import Server, api, node_pixel, sign_in, start, wait_ended, wait_until
from playwright.sync_api import Browser, Page, expect

# the canvas's tooltip (ECharts'), in the page's body (outside the zoomed canvas: see dag_view.py)
TOOLTIP_SHOWS = """(text) => [...document.querySelectorAll('.fm-dag-tip')]
    .some((d) => d.style.visibility !== 'hidden' && d.style.display !== 'none' && d.innerText.includes(text))"""

# a failed test's report ends with the page's console: say there why the socket dropped and when it tried again
SAY_WHY_DISCONNECTED = """() => {
    window.socket.on("disconnect", (reason) => console.log(`socket disconnected: ${reason}`));
    window.socket.io.on("reconnect_attempt", (n) => console.log(`socket reconnecting, attempt ${n}`));
}"""


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

    x, y = node_pixel(page, 'charge_payment')
    page.mouse.move(x, y)
    # ECharts finds the item under the pointer when the pointer moves over it, and a click only hits what the last
    # move found: wait until it has (its tooltip for the node shows), then click
    page.wait_for_function(TOOLTIP_SHOWS, arg='Charge payment')
    page.mouse.down()
    page.mouse.up()
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


METRICS = 'el => ({top: el.scrollTop, height: el.scrollHeight, view: el.clientHeight})'  # the log's scroll
# the line at the top of the log's box, and how far above the box's top it starts
TOP_LINE = """el => {
  const box = el.getBoundingClientRect();
  const line = [...el.querySelectorAll('.fm-ev')].find((line) => line.getBoundingClientRect().bottom > box.top + 1);
  return line && [line.textContent, Math.round(line.getBoundingClientRect().top - box.top)];
}"""
# from now on, in every frame: is the log as tall as its lines of text (an error may take two)? (window.__jumps lists
# the frames it was not)
WATCH_HEIGHT = """el => {
  window.__jumps = [];
  const frame = () => {
    const style = getComputedStyle(el);
    const lines = [...el.querySelectorAll('.fm-ev .d')].reduce((n, d) => n + d.textContent.split('\\n').length, 0);
    const tall = lines * parseFloat(style.lineHeight) + parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    if (Math.abs(el.scrollHeight - tall) > 2) window.__jumps.push([el.scrollHeight, tall]);
    requestAnimationFrame(frame);
  };
  frame();
}"""
# a line every 0.1-0.3 s; every fourth node fails once with an error of two lines, and then succeeds
FLAKY_STEP = {
    'type': 'fail',
    'config': {'times': 1, 'message': 'gateway timeout\nretrying'},
    'retry': {'max_attempts': 2, 'backoff_seconds': 0.3},
}


def _chatty(workflow_id: str, length: int) -> dict[str, Any]:
    """A chain of ``length`` short delays, every fourth node failing once with a two-line error (then retried)."""
    return {
        'id': workflow_id,
        'name': 'Chatty chain',
        'nodes': [
            {'id': f'step_{i:03d}', **(FLAKY_STEP if i % 4 == 3 else {'type': 'delay', 'config': {'seconds': 0.3}})}
            for i in range(length)
        ],
        'edges': [{'source': f'step_{i:03d}', 'target': f'step_{i + 1:03d}'} for i in range(length - 1)],
    }


CHATTY = _chatty('chatty-chain', 120)  # about 540 events in 45 s
CHATTY_LONG = _chatty('chatty-long', 300)  # lines for a few minutes: a test cancels it when done


def test_the_event_log_does_not_steal_the_scroll(page: Page, server: Server, shots: Path) -> None:
    assert api(server, 'PUT', '/api/workflows/chatty-chain', json=CHATTY).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-chain')
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('step_008', timeout=10_000)  # enough lines to overflow the box
    metrics = METRICS
    wait_until(lambda: _at_bottom(log.evaluate(metrics)), 'the log following new lines')

    log.hover()
    page.mouse.wheel(0, -400)  # the reader scrolls up to read older lines
    wait_until(lambda: not _at_bottom(log.evaluate(metrics)), 'the log scrolled up')
    reading = log.evaluate(metrics)
    line = log.evaluate(TOP_LINE)
    log.evaluate(WATCH_HEIGHT)
    shown = _lines_shown(page)
    wait_until(lambda: _lines_shown(page) >= shown + 10, 'new lines arriving')  # while the reader reads
    after = log.evaluate(metrics)
    assert log.evaluate(TOP_LINE) == line, 'the line the reader was reading moved'
    assert abs(after['top'] - reading['top']) <= 2, f'the log moved while reading: {reading} -> {after}'
    # the log is as tall as its lines in every frame: its scrollbar does not jump as lines arrive out of view
    assert page.evaluate('window.__jumps') == [], 'the log was not as tall as its lines (scroll height, expected)'
    log.screenshot(path=str(shots / 'event-log-reading.png'))

    page.get_by_test_id('event-log-latest').click()  # back to the newest line: following resumes
    shown = _lines_shown(page)
    wait_until(lambda: _lines_shown(page) >= shown + 10, 'more new lines')
    wait_until(lambda: _at_bottom(log.evaluate(metrics)), 'the log following again', seen=lambda: log.evaluate(metrics))
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


def test_a_stalled_tab_keeps_its_page(page: Page, server: Server) -> None:
    """A browser too busy to answer for seven seconds (a loaded laptop, two cores running tests), or one whose
    connection drops, finds its page as it left it: the same page (not reloaded), the reader's place in the log kept
    (also when the log, full, lets its oldest lines go above it), and live again with what it missed."""
    assert api(server, 'PUT', '/api/workflows/chatty-long', json=CHATTY_LONG).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-long')
    # opened late, the log starts long: the lines that arrive from now on take it past its 500 lines within seconds,
    # long before the line being read is itself let go of (about 470 lines later)
    events = f'/api/executions/{execution_id}/events'
    wait_until(
        lambda: api(server, 'GET', f'{events}?after_seq=350&limit=1').json(),
        'the execution past its 350th event',
        timeout=60,
        seen=lambda: [event['seq'] for event in api(server, 'GET', f'{events}?after_seq=300').json()][-1:],
    )
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('#350', timeout=10_000)
    page.evaluate(
        'window.__same_page = true; window.__drops = 0; window.socket.on("disconnect", () => window.__drops++)'
    )
    page.evaluate(SAY_WHY_DISCONNECTED)
    log.hover()
    # the reader scrolls up a little, into the lines that came after the page opened: the first chunk, the long one
    # the page opened with, is then out of view (skipped by the browser's layout) when its oldest lines go
    page.mouse.wheel(0, -100)
    wait_until(lambda: not _at_bottom(log.evaluate(METRICS)), 'the log scrolled up')
    line = log.evaluate(TOP_LINE)
    log.evaluate(WATCH_HEIGHT)

    page.evaluate('() => { const until = Date.now() + 7000; while (Date.now() < until); }')  # the tab stalls
    # the stall cuts the connection (the server's ping goes unanswered); on a loaded machine the page once took more
    # than 20 s to be back, so the run goes on for minutes and the wait is long
    connected = 'window.socket.connected'
    newest = _newest_seq(page)
    wait_until(
        lambda: _newest_seq(page) >= newest + 5,
        'new lines after the stall',
        timeout=40,
        seen=lambda: (_newest_seq(page), page.evaluate(connected)),
    )
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded after the stall'
    page.evaluate('window.socket.io.engine.close()')  # and the connection drops: the page reconnects
    wait_until(lambda: page.evaluate('window.__drops') >= 1 and page.evaluate('window.socket.connected'), 'back')
    newest = _newest_seq(page)
    wait_until(lambda: _newest_seq(page) >= newest + 5, 'new lines after the reconnect')
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded after the reconnect'
    expect(page.get_by_test_id('event-count')).to_contain_text('(latest 500)', timeout=40_000)
    wait_until(lambda: _oldest_seq(page) > 1, 'the oldest lines let go')
    assert log.evaluate(
        '(el, text) => [...el.querySelectorAll(".fm-ev")].some((l) => l.textContent === text)', line[0]
    ), 'the line being read was let go of too: the test was too slow to check the place'
    assert log.evaluate(TOP_LINE) == line, 'the reader lost their place in the log'
    # as tall as its lines in every frame: no chunk kept the height of lines let go of
    assert page.evaluate('window.__jumps') == [], 'the log was not as tall as its lines (scroll height, expected)'
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


GO_AWAY = """(ms) => {
    if (!window.socket.connected) return false;
    window.__same_page = true;
    const io = window.socket.io;
    io.randomizationFactor(0);
    io.reconnectionDelay(ms);
    io.reconnectionDelayMax(ms);
    io.engine.close();
    return true;
}"""
AWAY_S = 15  # less than the 20 s a page is kept without its connection (app.py), more than the 10 s it used to be


def test_a_page_away_from_its_connection_for_fifteen_seconds_comes_back_as_it_was(page: Page, server: Server) -> None:
    """A connection away for 15 s (a network blip, a browser busy for long on a loaded machine) brings back the same
    page, not reloaded, with the lines it missed meanwhile."""
    assert api(server, 'PUT', '/api/workflows/chatty-long', json=CHATTY_LONG).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-long')
    page.goto(f'/executions/{execution_id}')
    expect(page.get_by_test_id('event-log')).to_contain_text('#5', timeout=20_000)
    page.wait_for_function('() => window.socket && window.socket.connected')
    page.evaluate(SAY_WHY_DISCONNECTED)
    # the connection drops, and socket.io tries again only after AWAY_S; only a connected socket is closed, in one
    # step of the page: on a busy machine the page's own stall watch may have closed it a moment before, and then
    # socket.io is already on its way back (after about a second)
    wait_until(lambda: page.evaluate(GO_AWAY, AWAY_S * 1000), 'the connection closed while connected')
    away = time.monotonic()
    newest = _newest_seq(page)
    wait_until(lambda: page.evaluate('window.socket.connected'), 'back', timeout=AWAY_S + 30)
    assert time.monotonic() - away >= AWAY_S - 1
    wait_until(
        lambda: _newest_seq(page) >= newest + 5,
        'the lines sent while away',
        timeout=20,
        seen=lambda: (_newest_seq(page), page.evaluate('window.__same_page === true')),
    )
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded'
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


# (the text in the page, not as rendered: lines out of view are skipped by the browser's layout, and have none)
def _newest_seq(page: Page) -> int:
    return int((page.get_by_test_id('event-log').locator('.fm-ev .s').last.text_content() or '').lstrip('#'))


def _oldest_seq(page: Page) -> int:
    return int((page.get_by_test_id('event-log').locator('.fm-ev .s').first.text_content() or '').lstrip('#'))


def _lines_shown(page: Page) -> int:
    return int(page.get_by_test_id('event-count').inner_text().split()[0])


def _at_bottom(metrics: dict[str, float]) -> bool:
    return metrics['height'] - metrics['top'] - metrics['view'] < 40


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
