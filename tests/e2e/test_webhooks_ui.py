"""``/webhooks`` in a real Chromium: an endpoint subscribed to failures, a receiver that fails the first attempt.

A failing workflow's ``execution.failed`` event is delivered to a loopback receiver started here; the page shows the
delivery go to ``succeeded`` on attempt 2 without a reload, the detail shows both attempts, and Redeliver sends a
third. Screenshots of both pages, light and dark, go to test-output/screenshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import Receiver, Reply, wait_for
from playwright.sync_api import Page, expect

Api = Callable[..., httpx.Response]


@pytest.fixture
def endpoint(call_api: Api) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A receiver that answers 503 once, then 200; an endpoint subscribed to execution.failed pointing at it."""
    wait_for(lambda: call_api('GET', '/api/workflows').status_code == 200 and call_api('GET', '/api/workflows').json(),
          'flowmon to finish starting')  # fmt: skip
    receiver = Receiver([Reply(503, body=b'busy, try again')]).start()
    body = {'url': receiver.url, 'event_types': ['execution.failed'], 'description': 'E2E failure alerts'}
    response = call_api('POST', '/api/webhooks/endpoints', body)
    assert response.status_code == 201, response.text
    created = response.json()
    try:
        yield receiver, created
    finally:
        call_api('DELETE', f'/api/webhooks/endpoints/{created["id"]}')
        receiver.stop()


def test_delivery_goes_live_to_succeeded_then_detail_and_redeliver(
    page: Page, server: Any, call_api: Api, endpoint: tuple[Any, dict[str, Any]], shots: Path
) -> None:
    receiver, created = endpoint
    started = call_api('POST', '/api/workflows/broken-etl/executions', {})
    assert started.status_code == 202, started.text

    page.goto(f'/webhooks?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    deliveries = wait_for(
        lambda: call_api('GET', f'/api/webhooks/deliveries?endpoint={created["id"]}').json()['items'],
        'the delivery of execution.failed',
    )
    delivery_id = deliveries[0]['id']
    row = page.locator(f'[data-delivery-id="{delivery_id}"]')
    expect(row).to_be_visible(timeout=15_000)
    expect(row.locator('[data-status]')).to_have_attribute('data-status', 'succeeded', timeout=15_000)  # live
    expect(row).to_contain_text('2/3')
    expect(row).to_contain_text('HTTP 200')
    expect(row).to_contain_text('execution.failed')
    endpoint_row = page.locator(f'[data-endpoint-id="{created["id"]}"]')
    expect(endpoint_row).to_contain_text('E2E failure alerts')
    expect(endpoint_row).to_contain_text('100.0 %', timeout=10_000)  # its 24 h success rate follows the delivery
    _settle(page)
    page.screenshot(path=str(shots / 'webhooks-light.png'), full_page=True)
    _toggle_dark(page)
    page.screenshot(path=str(shots / 'webhooks-dark.png'), full_page=True)
    _toggle_dark(page)

    row.click()
    page.wait_for_url(f'**/webhooks/deliveries/{delivery_id}')
    expect(page.get_by_text('Attempt 1 · HTTP 503')).to_be_visible()
    expect(page.get_by_text('Attempt 2 · HTTP 200')).to_be_visible()
    page.get_by_text('Request & response').first.click()
    expect(page.get_by_text('busy, try again')).to_be_visible()
    _settle(page)
    page.screenshot(path=str(shots / 'webhook-delivery-light.png'), full_page=True)
    _toggle_dark(page)
    page.screenshot(path=str(shots / 'webhook-delivery-dark.png'), full_page=True)

    page.get_by_test_id('delivery-redeliver').click()
    page.get_by_test_id('confirm-redeliver-ok').click()
    expect(page.get_by_text('Redelivery queued')).to_be_visible()
    expect(page.get_by_text('Attempt 3 · HTTP 200')).to_be_visible(timeout=15_000)
    assert len(receiver.hits) == 3
    assert len({hit.headers['webhook-id'] for hit in receiver.hits}) == 1  # one message, three attempts


def _toggle_dark(page: Page) -> None:
    dark = page.evaluate("() => document.body.classList.contains('body--dark')")
    page.get_by_test_id('theme-toggle').click()
    page.wait_for_function(f"() => document.body.classList.contains('body--dark') === {str(not dark).lower()}")
    _settle(page)


def _settle(page: Page) -> None:
    page.mouse.move(0, 0)
    page.wait_for_timeout(600)


SCHEDULED = {
    'id': 'e2e-nightly',
    'name': 'E2E nightly report',
    'description': 'Accepts signed triggers and runs every night at 03:00 UTC.',
    'nodes': [{'id': 'shape', 'type': 'transform', 'name': 'Shape', 'config': {'expression': '{ok: `true`}'}}],
    'edges': [],
    'trigger': {'enabled': True},
    'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'},
}


def test_workflow_page_shows_trigger_and_schedule(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    assert call_api('PUT', f'/api/workflows/{SCHEDULED["id"]}', SCHEDULED).status_code in {200, 201}
    page.goto(f'/workflows/{SCHEDULED["id"]}?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    expect(page.get_by_text(f'{server.url}/hooks/{SCHEDULED["id"]}')).to_be_visible()
    expect(page.get_by_text('0 3 * * *')).to_be_visible()
    page.get_by_role('button', name='Reveal secret').click()
    expect(page.get_by_text('whsec_', exact=False).first).not_to_contain_text('•')
    page.get_by_role('button', name='Pause').click()
    expect(page.get_by_text('none while paused')).to_be_visible()
    _settle(page)
    page.screenshot(path=str(shots / 'workflow-automation-light.png'))
    _toggle_dark(page)
    page.screenshot(path=str(shots / 'workflow-automation-dark.png'))
    page.get_by_role('button', name='Resume').click()
    expect(page.get_by_text('none while paused')).to_have_count(0)
