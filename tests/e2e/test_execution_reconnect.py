"""The execution page in Chromium when its connection stalls or drops: a tab too busy to answer for seconds, or whose
connection is away for seconds, keeps its page (not reloaded), the reader's place in the event log, and comes back
live with the lines it missed. Beside tests/e2e/test_execution_live.py, in a file of its own so that the browser
tests' workers share the long waits."""

from __future__ import annotations

import time

from event_log_probe import (
    SAY_WHY_DISCONNECTED,
    TOP_LINE,
    WATCH_HEIGHT,
    chatty,
    newest_seq,
    oldest_seq,
    scroll_up,
)
from helpers import Server, api, sign_in, start, wait_until
from playwright.sync_api import Page, expect

CHATTY_LONG = chatty('chatty-long', 300)  # lines for a few minutes: a test cancels it when done
# about 540 events in ten seconds, then three or four a second: the page opens on a full log whose oldest lines then
# go slowly enough for the test to check the reader's place however slowly a loaded browser catches up (at ten lines
# and more a second, the line being read was at times let go of between the check that it was there and the check of
# its place)
CHATTY_LATE = chatty('chatty-late', 300, seconds=1, quick=120)


def stall_tab(page: Page, seconds: float) -> None:
    """The tab's JavaScript stops for ``seconds``, as in a browser too busy to run it: held at the debugger's pause,
    which takes no CPU, where a loop of its own would keep a core busy for as long."""
    page.evaluate(
        """() => { window.__gap = 0; window.__last = Date.now(); setInterval(() => {
            const now = Date.now(); window.__gap = Math.max(window.__gap, now - window.__last); window.__last = now;
        }, 100); }"""
    )
    debugger = page.context.new_cdp_session(page)
    debugger.send('Debugger.enable')
    debugger.send('Debugger.pause')  # from the next script the page runs (a timer, a message) on
    time.sleep(seconds)  # (not a wait for something: the stall lasts this long)
    debugger.send('Debugger.resume')
    debugger.send('Debugger.disable')
    debugger.detach()
    gap = page.evaluate('window.__gap')
    assert gap >= (seconds - 1) * 1000, f'the tab ran its timers every {gap} ms at most: it did not stall'


def test_a_stalled_tab_keeps_its_page(page: Page, server: Server) -> None:
    """A browser too busy to answer for seven seconds (a loaded laptop, two cores running tests), or one whose
    connection drops, finds its page as it left it: the same page (not reloaded), the reader's place in the log kept
    (also when the log, full, lets its oldest lines go above it), and live again with what it missed."""
    assert api(server, 'PUT', '/api/workflows/chatty-late', json=CHATTY_LATE).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-late')
    # opened late, the log starts full: the lines that arrive from now on let its oldest go, long before the line being
    # read is itself let go of (about 480 lines, two minutes, later); the run lasts three minutes (the test cancels it)
    events = f'/api/executions/{execution_id}/events'

    def slow_part() -> list[int]:  # the seq of its first slow node's start, once there
        return [e['seq'] for e in api(server, 'GET', f'{events}?after_seq=300').json() if e['node_id'] == 'step_120']

    wait_until(
        slow_part,
        'the execution past its quick nodes',
        timeout=60,
        seen=lambda: [event['seq'] for event in api(server, 'GET', f'{events}?after_seq=300').json()][-1:],
    )
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('#350', timeout=30_000)  # a page opening on 540 lines, on a loaded machine
    opened = newest_seq(page)
    wait_until(lambda: newest_seq(page) >= opened + 20, 'twenty lines after the page opened', timeout=30)
    page.evaluate(
        'window.__same_page = true; window.__drops = 0; window.socket.on("disconnect", () => window.__drops++)'
    )
    page.evaluate(SAY_WHY_DISCONNECTED)
    # the reader scrolls up a little, into the lines that came after the page opened: the first chunk, the long one
    # the page opened with, is then out of view (skipped by the browser's layout) when its oldest lines go
    scroll_up(page, log, 100)
    line = log.evaluate(TOP_LINE)
    oldest = oldest_seq(page)  # the log is full: from now on its oldest lines go, above the line being read
    log.evaluate(WATCH_HEIGHT)

    stall_tab(page, seconds=7)
    # the stall cuts the connection (the server's ping goes unanswered); on a loaded machine the page once took more
    # than 20 s to be back, so the run goes on for minutes and the wait is long
    connected = 'window.socket.connected'
    newest = newest_seq(page)
    wait_until(
        lambda: newest_seq(page) >= newest + 5,
        'new lines after the stall',
        timeout=40,
        seen=lambda: (newest_seq(page), page.evaluate(connected)),
    )
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded after the stall'
    page.evaluate('window.socket.io.engine.close()')  # and the connection drops: the page reconnects
    wait_until(lambda: page.evaluate('window.__drops') >= 1 and page.evaluate('window.socket.connected'), 'back')
    newest = newest_seq(page)
    wait_until(lambda: newest_seq(page) >= newest + 5, 'new lines after the reconnect')
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded after the reconnect'
    expect(page.get_by_test_id('event-count')).to_contain_text('(latest 500)')
    assert oldest_seq(page) > oldest, 'no line was let go of above the reader: the test checks nothing'
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
    newest = newest_seq(page)
    wait_until(lambda: page.evaluate('window.socket.connected'), 'back', timeout=AWAY_S + 30)
    assert time.monotonic() - away >= AWAY_S - 1
    wait_until(
        lambda: newest_seq(page) >= newest + 5,
        'the lines sent while away',
        timeout=20,
        seen=lambda: (newest_seq(page), page.evaluate('window.__same_page === true')),
    )
    assert page.evaluate('window.__same_page === true'), 'the page was reloaded'
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')
