"""The Content-Security-Policy in a real Chromium: every main page works under it with no violation, the pages
and /docs carry the security headers, the API docs load nothing from another origin, and the sign-in and
sign-out forms work as real form posts (issue 10, findings 10 and 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import start, wait_ended, wait_loaded, wait_until
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

HEADERS = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
}
# Collects every violation the page reports, from before its first script runs.
CSP_LISTENER = (
    "document.addEventListener('securitypolicyviolation', e => "
    '(window.__csp ||= []).push(`${e.effectiveDirective} ${e.blockedURI}`))'
)


@pytest.fixture(scope='module')
def execution_id(server: Any) -> str:
    """A finished run of a shipped example workflow, for the execution and replay pages."""
    wait_loaded(server, 'order-pipeline')
    execution = start(server, 'order-pipeline', {'input': {}})
    wait_ended(server, execution)
    return execution


@pytest.fixture
def context(browser: Browser, server: Any) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900})
    ctx.add_init_script(CSP_LISTENER)
    try:
        yield ctx
    finally:
        ctx.close()


def _violations(page: Page) -> list[str]:
    return list(page.evaluate('() => window.__csp || []'))


def _assert_headers(response: Response | None, server: Any) -> None:
    assert response is not None
    headers = response.headers
    assert headers.get('content-security-policy', '').endswith("frame-ancestors 'none'"), response.url
    assert "default-src 'none'" in headers['content-security-policy']
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (response.url, name)


def _sign_in_with_the_form(page: Page, server: Any, path: str = '/') -> None:
    page.goto(path)
    expect(page.get_by_text('Sign in to flowmon')).to_be_visible()
    page.get_by_label('Access token').fill(server.token)
    with page.expect_navigation():
        page.get_by_label('Access token').press('Enter')  # a real form: Enter submits it


def _open(page: Page, server: Any, path: str, ready: str) -> None:
    response = page.goto(path)
    _assert_headers(response, server)
    expect(page.get_by_text(ready).first).to_be_visible()
    page.wait_for_function('() => window.socket && window.socket.connected')
    page.wait_for_timeout(800)  # charts, canvas and timers draw


def test_the_main_pages_run_under_the_policy_without_a_violation(
    context: BrowserContext, server: Any, execution_id: str
) -> None:
    page = context.new_page()
    response = page.goto('/login')
    _assert_headers(response, server)
    expect(page.get_by_text('Sign in to flowmon')).to_be_visible()
    page.wait_for_function('() => window.socket && window.socket.connected')
    assert _violations(page) == []

    _sign_in_with_the_form(page, server, '/webhooks')
    expect(page).to_have_url(f'{server.url}/webhooks')  # back where the visit began, now signed in
    pages = [
        ('/', 'Recent executions'),
        ('/executions', 'Executions'),
        ('/workflows/order-pipeline', 'Order'),
        (f'/executions/{execution_id}', 'Event log'),
        (f'/executions/{execution_id}/replay', 'Replay'),
        (f'/compare?a={execution_id}&b={execution_id}', 'Compare'),
        ('/webhooks', 'Deliveries'),
    ]
    for path, ready in pages:
        _open(page, server, path, ready)
        assert _violations(page) == [], path

    # The listener does report: an image from another origin is blocked and counted.
    page.evaluate("() => document.body.append(Object.assign(new Image(), {src: 'http://192.0.2.1/pixel.png'}))")
    page.wait_for_function('() => (window.__csp || []).length > 0')
    assert _violations(page) == ['img-src http://192.0.2.1/pixel.png']


def test_the_api_docs_render_from_local_assets_without_a_violation(context: BrowserContext, server: Any) -> None:
    page = context.new_page()
    requested: list[str] = []
    page.on('request', lambda request: requested.append(request.url))
    response = page.goto('/docs')
    _assert_headers(response, server)
    expect(page.locator('.opblock').first).to_be_visible(timeout=15_000)
    assert page.locator('.opblock').count() > 10  # every operation of /openapi.json is listed
    expect(page.get_by_text('Unable to render this definition')).to_have_count(0)
    assert _violations(page) == []
    assert requested and all(url.startswith(server.url) for url in requested), requested


def test_the_api_docs_authorize_with_the_token_and_try_a_call(
    context: BrowserContext, server: Any, shots: Path
) -> None:
    """/docs has an Authorize button (the document declares the bearer token); once given the token, Try it out sends
    it and gets the answer, all under the policy."""
    page = context.new_page()
    page.goto('/docs')
    page.get_by_role('button', name='Authorize').first.click()
    dialog = page.locator('.dialog-ux')
    dialog.locator('input').first.fill(server.token)
    dialog.locator('button.modal-btn.authorize').click()
    expect(dialog.get_by_text('Authorized')).to_be_visible()
    dialog.locator('button.btn-done').click()
    operation = page.locator('#operations-workflows-list_workflows_api_workflows_get')
    operation.locator('.opblock-summary').click()
    operation.get_by_role('button', name='Try it out').click()
    operation.get_by_role('button', name='Execute').click()
    status = operation.locator('.live-responses-table tbody .response-col_status').first
    expect(status).to_have_text('200', timeout=15_000)
    page.screenshot(path=str(shots / 'docs-try-it-out.png'), full_page=True)
    assert _violations(page) == []


def _signed_in(context: BrowserContext, server: Any) -> tuple[Page, str]:
    """A page signed in with the form, and its session cookie."""
    page = context.new_page()
    _sign_in_with_the_form(page, server)
    expect(page.get_by_test_id('sign-out')).to_be_visible()
    return page, _session(context)


def _session(context: BrowserContext) -> str:
    return {cookie['name']: cookie['value'] for cookie in context.cookies()}['flowmon_session']


def test_signing_out_with_the_header_button_ends_the_session(context: BrowserContext, server: Any) -> None:
    page, before = _signed_in(context, server)
    with page.expect_navigation():
        page.get_by_test_id('sign-out').click()
    expect(page).to_have_url(f'{server.url}/login')
    expect(page.get_by_text('Sign in to flowmon')).to_be_visible()
    assert _session(context) != before
    old = httpx.get(f'{server.url}/executions', cookies={'flowmon_session': before}, follow_redirects=False)
    assert old.status_code == 303  # the signed-in cookie's session is over
    assert _violations(page) == []


def test_another_page_cannot_sign_its_visitor_out_with_a_hidden_form(context: BrowserContext, server: Any) -> None:
    _, session = _signed_in(context, server)
    other = context.new_page()  # about:blank: a page of another origin, posting flowmon's sign-out form
    other.set_content(f'<form method="post" action="{server.url}/logout"></form>')
    with other.expect_navigation():
        other.evaluate('document.forms[0].submit()')
    expect(other.get_by_text("refused: this form was sent from another site's page")).to_be_visible()
    assert _session(context) == session
    still = httpx.get(f'{server.url}/executions', cookies={'flowmon_session': session}, follow_redirects=False)
    assert still.status_code == 200  # the visitor is still signed in


def test_no_page_can_frame_flowmon(context: BrowserContext, server: Any) -> None:
    page = context.new_page()  # about:blank: a document of another origin
    page.set_content(f'<iframe src="{server.url}/login"></iframe>')
    child = page.frames[1]
    wait_until(lambda: child.url not in {'', 'about:blank'}, 'the frame to navigate', seen=lambda: child.url)
    assert child.url.startswith('chrome-error://'), child.url  # Chromium refused to show it in the frame
    expect(child.get_by_text('Sign in to flowmon')).to_have_count(0)
