"""The live execution page in Chromium: a node retries and succeeds before your eyes, the event log fills,
a long run is cancelled from the page, a finished execution renders, the inspector opens from a canvas
click, and closing the tab gives back its client."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

Server = Any  # the session server fixture of tests/e2e/conftest.py (url, token, ...)

STATUS_RECORDER = """
window.__statuses = [];
new MutationObserver(() => {
  const row = document.querySelector('[data-testid="node-charge_payment"]');
  const status = row && row.getAttribute('data-status');
  if (status && window.__statuses[window.__statuses.length - 1] !== status) window.__statuses.push(status);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status']});
"""


def sign_in(page: Page, server: Server) -> None:
    page.goto(f'/?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')


def start(server: Server, workflow_id: str) -> str:
    response = api(server, 'POST', f'/api/workflows/{workflow_id}/executions', json={})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def wait_until(
    condition: Callable[[], bool], timeout: float = 15.0, message: str | Callable[[], str] = 'condition'
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'{message() if callable(message) else message} not met within {timeout} s')
        time.sleep(0.1)


def clients(server: Server) -> dict[str, int]:
    response = api(server, 'GET', '/api/debug/clients')
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_ended(server: Server, execution_id: str) -> str:
    status = ''

    def ended() -> bool:
        nonlocal status
        status = api(server, 'GET', f'/api/executions/{execution_id}').json()['status']
        return status in {'succeeded', 'failed', 'cancelled', 'interrupted'}

    wait_until(ended, message=f'execution {execution_id} ending')
    return status


def test_a_middle_node_retries_then_succeeds_live(page: Page, server: Server, shots: Path) -> None:
    sign_in(page, server)
    page.add_init_script(STATUS_RECORDER)
    execution_id = start(server, 'order-pipeline')
    page.goto(f'/executions/{execution_id}')
    row = page.get_by_test_id('node-charge_payment')
    expect(row).to_contain_text(re.compile(r'running|retrying', re.IGNORECASE), timeout=5_000)
    page.screenshot(path=str(shots / 'execution-running.png'), full_page=True)

    expect(row).to_contain_text('succeeded', ignore_case=True, timeout=15_000)
    expect(row).to_contain_text('3 attempts')
    expect(page.get_by_test_id('execution-status')).to_have_text('succeeded', timeout=10_000)
    seen = page.evaluate('window.__statuses')
    assert 'succeeded' == seen[-1]
    assert {'running', 'retrying'} & set(seen[:-1]), f'charge_payment was never seen active: {seen}'

    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('node.completed')
    expect(log).to_contain_text('node.retrying')
    expect(log).to_contain_text('execution.completed')
    expect(page.get_by_test_id('progress-text')).to_have_text('8 / 8 nodes')
    expect(page.get_by_test_id('rerun-execution')).to_be_visible()
    expect(page.get_by_test_id('cancel-execution')).to_be_hidden()
    page.screenshot(path=str(shots / 'execution-finished.png'), full_page=True)


def test_cancel_a_long_run_from_the_page(page: Page, server: Server, shots: Path) -> None:
    sign_in(page, server)
    execution_id = start(server, 'nightly-batch')
    page.goto(f'/executions/{execution_id}')
    status = page.get_by_test_id('execution-status')
    expect(status).to_have_text('running', timeout=10_000)
    expect(page.get_by_test_id('node-extract_usage')).to_contain_text('running', ignore_case=True)

    page.get_by_test_id('cancel-execution').click()
    dialog = page.get_by_test_id('cancel-dialog')
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text('Cancel this execution?')
    page.get_by_test_id('confirm-cancel').click()

    expect(status).to_have_text('cancelled', timeout=10_000)
    expect(page.get_by_test_id('node-extract_usage')).to_contain_text('cancelled', ignore_case=True)
    expect(page.get_by_test_id('event-log')).to_contain_text('execution.cancelled')
    expect(page.get_by_test_id('rerun-execution')).to_be_visible()
    assert wait_ended(server, execution_id) == 'cancelled'


def test_a_finished_execution_renders_and_a_canvas_click_opens_the_inspector(
    page: Page, server: Server, shots: Path
) -> None:
    execution_id = start(server, 'order-pipeline')
    assert wait_ended(server, execution_id) == 'succeeded'
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('succeeded', timeout=10_000)
    for node_id in ('validate_order', 'charge_payment', 'ship_order', 'record_analytics'):
        expect(page.get_by_test_id(f'node-{node_id}')).to_contain_text('succeeded', ignore_case=True)
    expect(page.get_by_test_id('event-log')).to_contain_text('execution.completed')

    x, y = _node_pixel(page, 'charge_payment')
    page.mouse.move(x, y)
    page.wait_for_timeout(250)  # ECharts hit-tests on hover first (NICEGUI.md §1.2)
    page.mouse.down()
    page.mouse.up()
    inspector = page.get_by_test_id('inspector')
    expect(inspector).to_be_visible(timeout=5_000)
    expect(inspector).to_contain_text('Charge payment')
    expect(page.get_by_test_id('inspector-attempts')).to_contain_text('payment gateway timeout')
    expect(page.get_by_test_id('inspector-status')).to_have_text('succeeded')
    expect(inspector).to_contain_text('Rerun from this node')
    page.wait_for_timeout(400)  # the side sheet slides in
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


def test_the_event_log_filters_by_a_node_chosen_from_the_menu(page: Page, server: Server) -> None:
    """The node choices reach the select only while its menu is open (event_log.py): opening it must offer them."""
    execution_id = start(server, 'order-pipeline')
    assert wait_ended(server, execution_id) == 'succeeded'
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('execution.completed', timeout=10_000)
    page.get_by_role('combobox', name='Node').click()
    page.get_by_role('option', name='charge_payment').click()
    expect(log).not_to_contain_text('execution.completed')
    expect(log).to_contain_text('node.retrying')
    lines = log.locator('.fm-ev')
    assert lines.count() > 0
    assert all('charge_payment' in text for text in lines.all_inner_texts())
    expect(page.get_by_role('combobox', name='Node')).to_have_value('charge_payment')


def test_rerun_from_the_page_opens_the_new_execution(page: Page, server: Server) -> None:
    execution_id = start(server, 'fan-out-demo')
    wait_ended(server, execution_id)
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    page.get_by_test_id('rerun-execution').click()
    expect(page.get_by_test_id('input-json')).to_be_visible()  # the previous input, in a JSON editor
    page.get_by_test_id('input-run').click()
    page.wait_for_url(re.compile(r'.*/executions/(?!' + execution_id + r')[\w-]+$'), timeout=10_000)
    new_id = page.url.rsplit('/', 1)[1]
    assert api(server, 'GET', f'/api/executions/{new_id}').json()['retry_of'] == execution_id
    expect(page.get_by_test_id('execution-status')).to_have_text(re.compile(r'queued|running|succeeded|failed'))


CHATTY = {
    'id': 'chatty-chain',
    'name': 'Chatty chain',
    'nodes': [{'id': f'step_{i:03d}', 'type': 'delay', 'config': {'seconds': 0.3}} for i in range(120)],
    'edges': [{'source': f'step_{i:03d}', 'target': f'step_{i + 1:03d}'} for i in range(119)],
}


def test_the_event_log_does_not_steal_the_scroll(page: Page, server: Server) -> None:
    assert api(server, 'PUT', '/api/workflows/chatty-chain', json=CHATTY).status_code in (200, 201)
    sign_in(page, server)
    execution_id = start(server, 'chatty-chain')
    page.goto(f'/executions/{execution_id}')
    log = page.get_by_test_id('event-log')
    expect(log).to_contain_text('step_008', timeout=10_000)  # enough lines to overflow the box
    metrics = 'el => ({top: el.scrollTop, height: el.scrollHeight, view: el.clientHeight})'
    wait_until(lambda: _at_bottom(log.evaluate(metrics)), message='log following new lines')

    log.hover()
    page.mouse.wheel(0, -400)  # the reader scrolls up to read older lines
    wait_until(lambda: not _at_bottom(log.evaluate(metrics)), message='scrolled up')
    reading = log.evaluate(metrics)
    shown = _lines_shown(page)
    wait_until(lambda: _lines_shown(page) >= shown + 10, message='new lines arriving')  # while the reader reads
    after = log.evaluate(metrics)
    assert after['height'] > reading['height']
    assert abs(after['top'] - reading['top']) <= 2, f'the log moved while reading: {reading} -> {after}'

    page.get_by_test_id('event-log-latest').click()  # back to the newest line: following resumes
    shown = _lines_shown(page)
    wait_until(lambda: _lines_shown(page) >= shown + 10, message='more new lines')
    wait_until(lambda: _at_bottom(log.evaluate(metrics)), message=lambda: f'following again: {log.evaluate(metrics)}')
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


def _lines_shown(page: Page) -> int:
    return int(page.get_by_test_id('event-count').inner_text().split()[0])


def _at_bottom(metrics: dict[str, float]) -> bool:
    return metrics['height'] - metrics['top'] - metrics['view'] < 40


def test_unknown_execution_shows_not_found(page: Page, server: Server) -> None:
    sign_in(page, server)
    page.goto('/executions/does-not-exist')
    expect(page.get_by_test_id('execution-not-found')).to_contain_text('Execution not found', timeout=10_000)


def test_closing_the_tab_releases_its_client(browser: Browser, server: Server) -> None:
    execution_id = start(server, 'nightly-batch')
    baseline = _settled(server)

    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    sign_in(page, server)
    page.goto(f'/executions/{execution_id}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    expect(page.get_by_test_id('execution-status')).to_have_text('running', timeout=10_000)
    wait_until(
        lambda: clients(server)['clients'] == baseline['clients'] + 1,
        message=f'one client for the tab (baseline {baseline}, now {clients(server)})',
    )
    assert clients(server)['bus_subscribers'] == baseline['bus_subscribers']  # pages never subscribe

    context.close()
    wait_until(lambda: clients(server) == baseline, message=f'client count back to {baseline}')
    api(server, 'POST', f'/api/executions/{execution_id}/cancel')


def _settled(server: Server, quiet: float = 4.0, timeout: float = 30.0) -> dict[str, int]:
    """The counts once no client came or went for ``quiet`` s (closed tabs linger for the 3 s reconnect timeout)."""
    deadline = time.monotonic() + timeout
    last, since = clients(server), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = clients(server)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return last


def _node_pixel(page: Page, node_id: str) -> tuple[float, float]:
    """The page coordinates of a node's centre, asked from the ECharts instance itself."""
    canvas = page.get_by_test_id('dag-canvas')
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    point = page.evaluate(
        """(nodeId) => {
            const dom = document.querySelector('[data-testid="dag-canvas"]');
            const chart = getElement(dom).chart;
            const series = chart.getOption().series.find((s) => s.id === 'nodes');
            const item = series.data.find((d) => d.name === nodeId);
            return chart.convertToPixel({seriesId: 'nodes'}, item.value);
        }""",
        node_id,
    )
    box = canvas.bounding_box()
    assert box is not None
    return box['x'] + point[0], box['y'] + point[1]


def api(server: Server, method: str, path: str, json: Any = None) -> httpx.Response:
    return httpx.request(
        method, f'{server.url}{path}', json=json, headers={'Authorization': f'Bearer {server.token}'}, timeout=15.0
    )
