"""Page loads without a signed-in session are budgeted per address (FLOWMON_ANONYMOUS_PAGES_PER_MINUTE): past it a
visitor gets 429 with Retry-After before any page is built (a short static page for a browser, a line of text for
other callers), while signed-in browsers, the sign-in itself, the API,
the hooks and what is no page are never limited by it. Each test speaks for its own address, given by the trusted
proxy's X-Forwarded-For (the flowmon under test believes it from 127.0.0.1)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from flowmon_process import FlowmonProcess

from flowmon.perimeter.security_headers import CONTENT_SECURITY_POLICY

TOKEN = 'page-budget-test-token-0123'
BUDGET = 3  # loads a minute, at once: one more every 20 s, so none comes back within a test
KEPT = 10  # pages kept for a browser yet to connect (the least the setting takes)
SOCKET = '/_nicegui_ws/socket.io/'
CLIENT_ID = re.compile(r'client_id[\'"]?:\s*[\'"]([0-9a-f-]{36})')
BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
_hosts = itertools.count(1)


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(
        FLOWMON_TOKEN=TOKEN,
        FLOWMON_TRUSTED_PROXIES='127.0.0.1',
        FLOWMON_ANONYMOUS_PAGES_PER_MINUTE=str(BUDGET),
        FLOWMON_MAX_UNCONNECTED_PAGES=str(KEPT),
    )
    process.wait_started(token=TOKEN)
    return process


@pytest.fixture
def visitor(flowmon: FlowmonProcess) -> Iterator[Callable[..., httpx.Client]]:
    """``visitor(address)``: a browser of its own (its own cookies) behind the proxy at ``address``."""
    opened: list[httpx.Client] = []

    def open_browser(address: str) -> httpx.Client:
        headers = {'X-Forwarded-For': address, 'Origin': flowmon.base_url}
        client = httpx.Client(base_url=flowmon.base_url, headers=headers, timeout=10.0)
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        client.close()


def new_address() -> str:
    """An address no other test uses (its budget is whole)."""
    return f'10.9.0.{next(_hosts)}'


@pytest.fixture
def address() -> str:
    return new_address()


def spend_budget(browser: httpx.Client) -> list[str]:
    """Load the sign-in page while the budget lasts; the ids of the pages built."""
    pages = []
    for _ in range(BUDGET):
        response = browser.get('/login')
        assert response.status_code == 200, response.text[:300]
        match = CLIENT_ID.search(response.text)
        assert match, response.text[:300]
        pages.append(match.group(1))
    return pages


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, (response.status_code, response.text[:300])
    assert 1 <= int(response.headers['retry-after']) <= 60 // BUDGET
    assert response.headers['content-type'] == 'text/plain; charset=utf-8'
    assert varies_on_accept(response)  # a browser is answered with a page
    if response.request.method != 'HEAD':
        assert 'too many page loads without signing in' in response.text


def varies_on_accept(response: httpx.Response) -> bool:
    return 'accept' in {name.strip().lower() for name in response.headers.get('vary', '').split(',')}


def connects(browser: httpx.Client, client_id: str) -> bool:
    """Whether the page's socket is accepted (its client is kept), opened as the page's script opens it."""
    query = {'client_id': client_id, 'tab_id': 'tab', 'document_id': uuid.uuid4().hex, 'implicit_handshake': 'true'}
    opened = browser.get(SOCKET, params={'EIO': '4', 'transport': 'polling', **query})
    assert opened.status_code == 200 and opened.text.startswith('0'), opened.text
    session = {'EIO': '4', 'transport': 'polling', 'sid': opened.text[1:].split('"sid":"', 1)[1].split('"', 1)[0]}
    assert browser.post(SOCKET, params=session, content='40').status_code == 200  # socket.io's connect
    answer = browser.get(SOCKET, params=session).text
    assert answer.startswith(('40', '44')), answer
    return answer.startswith('40')


def test_loads_past_the_budget_get_429_with_retry_after_and_build_no_page(
    visitor: Callable[..., httpx.Client], address: str
) -> None:
    browser = visitor(address)
    first, *_ = spend_budget(browser)

    for _ in range(2 * KEPT):
        assert_refused(browser.get('/login'))
    assert_refused(browser.head('/login'))
    assert_refused(visitor(address).get('/login'))  # a browser without the cookie: the address counts
    # other pages send the visitor to the sign-in page (a 303, nothing built), whatever is left of the budget
    sent = browser.get('/executions', follow_redirects=False)
    assert (sent.status_code, sent.headers['location'].split('?')[0]) == (303, '/login')
    for _ in range(2 * KEPT):  # an address of NiceGUI's own that matches nothing: a plain 404, no page built
        missing = browser.get('/_nicegui/no-such-asset')
        assert missing.status_code == 404 and missing.headers['content-type'].startswith('application/json')

    # had a page been built for any of these loads, the first (of at most KEPT kept) would have been let go
    assert connects(browser, first)


def test_another_address_has_its_own_budget(visitor: Callable[..., httpx.Client], address: str) -> None:
    spend_budget(visitor(address))
    assert_refused(visitor(address).get('/login'))

    other = visitor(new_address())
    assert other.get('/login').status_code == 200


def test_a_signed_in_browser_is_not_limited_by_its_address_and_the_visitor_can_still_sign_in(
    visitor: Callable[..., httpx.Client], address: str
) -> None:
    reader = visitor(address)
    signed = reader.post('/login', data={'token': TOKEN, 'redirect_to': '/executions'}, follow_redirects=False)
    assert (signed.status_code, signed.headers['location']) == (303, '/executions')

    stranger = visitor(address)
    spend_budget(stranger)
    assert_refused(stranger.get('/login'))

    for path in ['/executions', '/', '/webhooks', '/login'] * 2:
        assert reader.get(path, follow_redirects=False).status_code == 200, path

    # the refused visitor signs in: by the link (the token gate counts wrong ones) and by the form
    by_link = stranger.get('/executions?token=' + TOKEN, follow_redirects=False)
    assert (by_link.status_code, by_link.headers['location']) == (303, '/executions')
    assert stranger.get('/executions').status_code == 200
    late = visitor(address)
    by_form = late.post('/login', data={'token': TOKEN, 'redirect_to': '/webhooks'}, follow_redirects=False)
    assert by_form.status_code == 303
    assert late.get('/webhooks').status_code == 200


def test_the_api_hooks_and_what_is_no_page_are_not_limited(
    flowmon: FlowmonProcess, visitor: Callable[..., httpx.Client], address: str
) -> None:
    browser = visitor(address)
    spend_budget(browser)
    assert_refused(browser.get('/login'))

    bearer = {'Authorization': f'Bearer {TOKEN}'}
    assert browser.get('/api/health').status_code == 200
    assert browser.get('/api/workflows', headers=bearer).status_code == 200
    assert browser.head('/api/workflows', headers=bearer).status_code == 200
    assert browser.get('/metrics', headers=bearer).status_code == 200
    assert browser.post('/hooks/no-such-workflow', json={}).status_code == 404
    for path in ['/openapi.json', '/docs', '/favicon.ico']:
        assert browser.get(path).status_code == 200, path
    asset = re.search(r'src="(/_nicegui/[^"]+\.js)"', flowmon_page(flowmon))
    assert asset, 'no NiceGUI script on the sign-in page'
    assert browser.get(asset.group(1)).status_code == 200


def flowmon_page(flowmon: FlowmonProcess) -> str:
    """The sign-in page's HTML, loaded from an address of its own."""
    with httpx.Client(base_url=flowmon.base_url, headers={'X-Forwarded-For': new_address()}, timeout=10.0) as fresh:
        response = fresh.get('/login')
    assert response.status_code == 200
    return response.text


def test_a_browser_refused_gets_a_static_page_saying_how_long_to_wait_and_that_the_sign_in_link_still_works(
    visitor: Callable[..., httpx.Client], address: str
) -> None:
    browser = visitor(address)
    spend_budget(browser)
    marker = 'echo-' + uuid.uuid4().hex
    headers = {'Accept': BROWSER_ACCEPT, 'User-Agent': marker, 'Referer': f'{browser.base_url}/{marker}'}
    refused = browser.get('/login', params={'redirect_to': f'/{marker}', marker: marker}, headers=headers)

    assert refused.status_code == 429
    wait = int(refused.headers['retry-after'])
    assert 1 <= wait <= 60 // BUDGET
    assert refused.headers['content-type'] == 'text/html; charset=utf-8'
    assert varies_on_accept(refused)
    assert refused.headers['content-security-policy'] == CONTENT_SECURITY_POLICY
    page = refused.text
    assert page.startswith('<!DOCTYPE html>') and '<h1>Too many page loads</h1>' in page
    assert f'Wait <strong>{wait} seconds</strong>' in page
    assert 'open the link with the access token' in page
    assert 'prefers-color-scheme: dark' in page
    # nothing of the request is echoed, and the page needs nothing the policy refuses: no script, no resource, no
    # style attribute, and the one <style> block is allowed by style-src 'unsafe-inline'
    for echoed in (marker, address, 'redirect_to', TOKEN):
        assert echoed not in page
    for needed in ('<script', 'src=', 'href=', 'style=', 'url('):
        assert needed not in page
    assert page.count('<style>') == 1
    assert "style-src 'self' 'unsafe-inline';" in refused.headers['content-security-policy']
    assert browser.head('/login', headers={'Accept': BROWSER_ACCEPT}).headers['content-type'].startswith('text/html')

    # what the page says: the link flowmon prints at start signs this browser in, and it may load pages again
    signed = browser.get('/?token=' + TOKEN, headers={'Accept': BROWSER_ACCEPT}, follow_redirects=False)
    assert (signed.status_code, signed.headers['location']) == (303, '/')
    assert browser.get('/', headers={'Accept': BROWSER_ACCEPT}).status_code == 200
    assert browser.get('/login', headers={'Accept': BROWSER_ACCEPT}).status_code == 200


@pytest.mark.parametrize('accept', [None, '*/*', 'application/json', 'text/plain', 'text/html;q=0, */*'])
def test_a_caller_that_asks_for_no_html_is_refused_with_a_line_of_text(
    visitor: Callable[..., httpx.Client], address: str, accept: str | None
) -> None:
    browser = visitor(address)
    spend_budget(browser)
    if accept is None:
        del browser.headers['accept']  # (httpx sends */* unless told)
    else:
        browser.headers['accept'] = accept
    refused = browser.get('/login')
    assert refused.request.headers.get('accept') == accept
    assert_refused(refused)
    assert 'access token' not in refused.text and '<' not in refused.text
