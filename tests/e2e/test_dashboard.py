"""The dashboard, workflow page and execution list in a real Chromium: sign-in, Run, live cards, screenshots."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

QUICK = {
    'id': 'e2e-quick',
    'name': 'E2E quick check',
    'description': 'One transform node: done in a millisecond.',
    'nodes': [{'id': 'shape', 'type': 'transform', 'name': 'Shape', 'config': {'expression': '{ok: `true`}'}}],
    'edges': [],
}
METRICS = ('active', 'queued', 'succeeded_today', 'failed_today', 'success_rate', 'avg_duration', 'p95_duration',
           'throughput')  # fmt: skip
TERMINAL = {'succeeded', 'failed', 'cancelled', 'interrupted'}
Api = Callable[..., httpx.Response]  # the conftest's call_api fixture: call_api(method, path, json=...)


@pytest.fixture(scope='module')
def seeded(server: Any) -> None:
    """A quick workflow, and a few finished runs so the pages show real rows."""

    def call(method: str, path: str, json: Any = None) -> httpx.Response:
        return httpx.request(method, f'{server.url}{path}', json=json, timeout=15.0,
                             headers={'Authorization': f'Bearer {server.token}'})  # fmt: skip

    # /api/health answers before NiceGUI has finished the async start-up handlers (database, workflows):
    # wait until the workflows are really there.
    deadline = time.monotonic() + 20
    while call('GET', '/api/workflows').status_code != 200 or not call('GET', '/api/workflows').json():
        assert time.monotonic() < deadline, 'flowmon did not finish starting'
        time.sleep(0.1)
    assert call('PUT', f'/api/workflows/{QUICK["id"]}', QUICK).status_code in {200, 201}
    seeds = ('e2e-quick', 'broken-etl', 'refund-approval', 'order-pipeline', 'e2e-quick')
    ids = [_start(call, workflow) for workflow in seeds]
    for execution_id in ids:
        _wait_ended(call, execution_id)


@pytest.fixture
def signed_in(page: Page, server: Any, seeded: None) -> Iterator[Page]:
    page.goto(f'/?token={server.token}')
    expect(page.get_by_test_id('metric-active')).to_be_visible()
    _wait_socket(page)
    yield page


def test_open_with_the_token_shows_the_cards_and_strips_the_token(signed_in: Page, server: Any, shots: Path) -> None:
    page = signed_in
    assert page.url == f'{server.url}/'  # the token is not left in the address bar or the history
    for key in METRICS:
        card = page.get_by_test_id(f'metric-{key}')
        expect(card).to_be_visible()
        expect(card.locator('.fm-metric-value')).not_to_have_text('')
    expect(page.get_by_test_id('metric-succeeded_today').locator('.fm-metric-value')).to_have_text(re.compile(r'^\d'))
    expect(page.locator('[data-testid=execution-row]').first).to_be_visible()
    expect(page.get_by_test_id('connection')).to_have_attribute('data-state', 'online')
    _settle(page)
    page.screenshot(path=shots / 'dashboard-light.png', full_page=True)
    _toggle_dark(page)
    page.screenshot(path=shots / 'dashboard-dark.png', full_page=True)


def test_metric_card_count_moves_after_a_run(signed_in: Page, call_api: Api) -> None:
    value = signed_in.get_by_test_id('metric-succeeded_today').locator('.fm-metric-value')
    expect(value).to_have_text(re.compile(r'^\d'))
    before = _number(value.inner_text())
    _wait_ended(call_api, _start(call_api, 'e2e-quick'))
    expect(value).to_have_text(f'{before + 1:,}', timeout=5_000)


def test_metric_card_opens_the_filtered_list(signed_in: Page) -> None:
    signed_in.get_by_test_id('metric-failed_today').click()
    expect(signed_in).to_have_url(re.compile(r'/executions\?status=failed&since=today$'))
    rows = signed_in.locator('[data-testid=execution-row]')
    expect(rows.first).to_be_visible()
    for status in rows.locator('.fm-status').all_inner_texts():
        assert status == 'failed'


def test_run_on_the_workflow_page_lands_on_the_execution_page(signed_in: Page, call_api: Api, shots: Path) -> None:
    page = signed_in
    page.get_by_role('link', name='Order fulfilment', exact=True).click()
    expect(page).to_have_url(re.compile(r'/workflows/order-pipeline$'))
    expect(page.get_by_test_id('dag-canvas')).to_be_visible()
    expect(page.locator('[data-testid=execution-row]').first).to_be_visible()
    _settle(page)
    page.screenshot(path=shots / 'workflow-light.png', full_page=True)
    _toggle_dark(page)
    page.screenshot(path=shots / 'workflow-dark.png', full_page=True)

    page.get_by_role('button', name='Run', exact=True).click()
    expect(page).to_have_url(re.compile(r'/executions/[0-9a-f]+$'))
    execution_id = page.url.rsplit('/', 1)[1]
    assert _wait_ended(call_api, execution_id, timeout=30)['workflow_id'] == 'order-pipeline'


def test_run_with_input_refuses_invalid_json(signed_in: Page, call_api: Api) -> None:
    page = signed_in
    page.goto('/workflows/e2e-quick')
    before = _count(call_api, 'e2e-quick')
    page.get_by_role('button', name='Run with input…').click()
    editor = page.get_by_test_id('input-json').locator('.cm-content')  # a CodeMirror editor, checked as typed

    def type_over(text: str) -> None:
        editor.click()
        page.keyboard.press('Control+A')
        page.keyboard.insert_text(text)

    type_over('{"order_id": ')
    expect(page.get_by_test_id('input-error')).to_contain_text('Not valid JSON')
    expect(page.get_by_test_id('input-run')).to_be_disabled()
    assert _count(call_api, 'e2e-quick') == before  # nothing was sent
    type_over('{"order_id": "ORD-9"}')
    expect(page.get_by_test_id('input-run')).to_be_enabled()
    page.get_by_test_id('input-run').click()
    expect(page).to_have_url(re.compile(r'/executions/[0-9a-f]+$'))
    assert _wait_ended(call_api, page.url.rsplit('/', 1)[1])['input'] == {'order_id': 'ORD-9'}


def test_execution_list_filters_and_screenshots(signed_in: Page, shots: Path) -> None:
    page = signed_in
    page.get_by_role('button', name='Executions').click()
    expect(page).to_have_url(re.compile(r'/executions$'))
    expect(page.locator('[data-testid=execution-row]').first).to_be_visible()
    _settle(page)
    page.screenshot(path=shots / 'executions-light.png', full_page=True)
    _toggle_dark(page)
    page.screenshot(path=shots / 'executions-dark.png', full_page=True)

    page.get_by_label('Status').click()
    page.get_by_role('option', name='succeeded').click()
    expect(page).to_have_url(re.compile(r'/executions\?status=succeeded$'))
    expect(page.locator('[data-testid=execution-row]').first).to_be_visible()
    for status in page.locator('[data-testid=execution-row] .fm-status').all_inner_texts():
        assert status == 'succeeded'


def test_pages_are_refused_without_the_token(browser: Browser, server: Any, shots: Path) -> None:
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900})
    try:
        page = context.new_page()
        for path in ('/', '/executions', '/workflows/order-pipeline', '/executions?status=failed'):
            page.goto(path)
            expect(page).to_have_url(re.compile(r'/login\?redirect_to='))
            expect(page.get_by_text('Sign in to flowmon')).to_be_visible()
            expect(page.locator('[data-testid^=metric-]')).to_have_count(0)
            expect(page.locator('[data-testid=execution-row]')).to_have_count(0)
            expect(page.get_by_text('Order fulfilment')).to_have_count(0)
        _wait_socket(page)
        _settle(page)
        page.screenshot(path=shots / 'login.png')

        page.goto('/?token=not-the-token')
        expect(page.get_by_text('That token was not accepted')).to_be_visible()
        page.get_by_label('Access token').fill(server.token)
        page.get_by_role('button', name='Sign in').click()
        expect(page.get_by_test_id('metric-active')).to_be_visible()
        assert httpx.get(f'{server.url}/api/workflows', timeout=5).status_code == 401
    finally:
        context.close()


# --- helpers ----------------------------------------------------------------------------------------


def _start(call: Api, workflow_id: str) -> str:
    response = call('POST', f'/api/workflows/{workflow_id}/executions', {})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def _wait_ended(call: Api, execution_id: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        summary = call('GET', f'/api/executions/{execution_id}').json()
        if summary.get('status') in TERMINAL:
            return dict(summary)
        assert time.monotonic() < deadline, f'{execution_id} did not end: {summary}'
        time.sleep(0.1)


def _count(call: Api, workflow_id: str) -> int:
    return int(call('GET', f'/api/executions?workflow_id={workflow_id}&limit=1').json()['total'])


def _number(text: str) -> int:
    return int(text.replace(',', '').strip())


def _wait_socket(page: Page) -> None:
    page.wait_for_function('() => window.socket && window.socket.connected')


def _toggle_dark(page: Page) -> None:
    page.get_by_test_id('theme-toggle').click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    _settle(page)


def _settle(page: Page) -> None:
    """Let charts and transitions finish drawing before a screenshot."""
    page.mouse.move(0, 0)
    page.wait_for_timeout(600)
