"""The event log as the browser tests see it: workflows that keep it busy, and what they measure of it in the page
(tests/e2e/test_execution_live.py, tests/e2e/test_execution_reconnect.py)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page
from waiting import wait_until

# a failed test's report ends with the page's console: say there why the socket dropped and when it tried again
SAY_WHY_DISCONNECTED = """() => {
    window.socket.on("disconnect", (reason) => console.log(`socket disconnected: ${reason}`));
    window.socket.io.on("reconnect_attempt", (n) => console.log(`socket reconnecting, attempt ${n}`));
}"""
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
# every fourth node of a chatty chain fails once with an error of two lines, and then succeeds
FLAKY_STEP = {
    'type': 'fail',
    'config': {'times': 1, 'message': 'gateway timeout\nretrying'},
    'retry': {'max_attempts': 2, 'backoff_seconds': 0.3},
}


def chatty(workflow_id: str, length: int, *, seconds: float = 0.3, quick: int = 0) -> dict[str, Any]:
    """A chain of ``length`` delays of ``seconds`` (the first ``quick`` of them 0.01 s), every fourth node failing
    once with a two-line error (then retried)."""
    return {
        'id': workflow_id,
        'name': 'Chatty chain',
        'nodes': [
            {
                'id': f'step_{i:03d}',
                **(
                    FLAKY_STEP
                    if i % 4 == 3
                    else {'type': 'delay', 'config': {'seconds': 0.01 if i < quick else seconds}}
                ),
            }
            for i in range(length)
        ],
        'edges': [{'source': f'step_{i:03d}', 'target': f'step_{i + 1:03d}'} for i in range(length - 1)],
    }


# (the text in the page, not as rendered: lines out of view are skipped by the browser's layout, and have none)
def newest_seq(page: Page) -> int:
    return int((page.get_by_test_id('event-log').locator('.fm-ev .s').last.text_content() or '').lstrip('#'))


def oldest_seq(page: Page) -> int:
    return int((page.get_by_test_id('event-log').locator('.fm-ev .s').first.text_content() or '').lstrip('#'))


def lines_shown(page: Page) -> int:
    return int(page.get_by_test_id('event-count').inner_text().split()[0])


def at_bottom(metrics: dict[str, float]) -> bool:
    return metrics['height'] - metrics['top'] - metrics['view'] < 40


def scroll_up(page: Page, log: Locator, pixels: int) -> None:
    """The reader turns the wheel up over the log by ``pixels``; return once the view has moved up and come to rest.

    Playwright's wheel does not wait for the scroll, and Chromium scrolls smoothly, over frames that come late on a
    loaded machine, while the log stops following at the wheel event itself: "not at the bottom" holds as soon as
    the next lines arrive, before the view has moved (CI once measured the place, then the scroll landed). On a
    loaded machine the view has also moved less than the wheel's distance (100 px of 400): so the wait is for the
    view to have moved up at all and then to hold still across two looks 0.3 s apart. How far the view moved is
    measured on a line at the top of the box: lines that arrive below it or go above it (trimmed, the view kept in
    place) do not move it in the box, the wheel does. Still means that line still in the box, not the scroll
    position, which a full log's trimming changes at every line (the view kept in place). The line is the one at the
    top when the wheel's event reaches the log, before the view moves: lines that arrive between the pointer's move
    and the wheel move a view that still follows them down, by more than the wheel's distance at times on a loaded
    machine (CI saw a line marked before the wheel end 60 px above the box after a wheel that did scroll up 400
    px)."""
    log.evaluate(MARK_TOP_LINE)
    log.hover()
    page.mouse.wheel(0, -pixels)
    looks: list[tuple[float | None, float]] = []

    def at_rest() -> bool:
        look = (log.evaluate(MOVED_BY), log.evaluate(METRICS)['top'])  # (the scroll position, for a failure's report)
        still = bool(looks) and look[0] == looks[-1][0]
        looks.append(look)
        return still and look[0] is not None and look[0] > 0 and not at_bottom(log.evaluate(METRICS))

    wait_until(
        at_rest,
        f'the log scrolled up (a wheel of {pixels} px) and at rest',
        interval=0.3,
        seen=lambda: (looks[-3:], log.evaluate(STATE)),
    )


# what a failed wait shows of the log: its scroll, whether it follows and why, what is under its middle
STATE = """el => {
  const box = el.getBoundingClientRect();
  const under = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  const now = Date.now();
  return {top: el.scrollTop, height: el.scrollHeight, view: el.clientHeight,
    lines: el.querySelectorAll('.fm-ev').length, stick: el.dataset.stick, dir: el.dataset.dir,
    user_ms_ago: now - Number(el.dataset.user || 0), auto_ms_ago: now - Number(el.dataset.auto || 0),
    under: under && (el.contains(under) ? 'log' : under.outerHTML.slice(0, 120)), page_y: window.scrollY};
}"""
# the line at the top of the box is marked when the wheel's event reaches the log, before the view moves (see
# scroll_up); how far down the box it moved since (the whole way when the view reached the log's top)
MARK_TOP_LINE = """el => el.addEventListener('wheel', () => {
  const box = el.getBoundingClientRect();
  const line = [...el.querySelectorAll('.fm-ev')].find((line) => line.getBoundingClientRect().bottom > box.top + 1);
  line.dataset.mark = String(line.getBoundingClientRect().top - box.top);
}, {once: true, capture: true})"""
MOVED_BY = """el => {
  const line = el.querySelector('.fm-ev[data-mark]');
  if (!line) return null;  // (the wheel's event has not reached the page yet)
  if (el.scrollTop === 0) return Infinity;
  return line.getBoundingClientRect().top - el.getBoundingClientRect().top - Number(line.dataset.mark);
}"""
