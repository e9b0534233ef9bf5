"""Pages whose browser never connects are kept up to FLOWMON_MAX_UNCONNECTED_PAGES, the newest: a script loading the
sign-in page over and over (anyone may) holds no more than that in the process, and a page whose socket connected
is never let go for it. A page's socket is opened as its browser opens it (socket.io over long polling, NiceGUI's
implicit handshake): NiceGUI accepts it while the page is kept and refuses it once the page was let go."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from flowmon_process import FlowmonProcess

LIMIT = 10
SOCKET = '/_nicegui_ws/socket.io/'
CLIENT_ID = re.compile(r'client_id[\'"]?:\s*[\'"]([0-9a-f-]{36})')


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    # (every load is from 127.0.0.1, without signing in: no budget of page loads gets in the way)
    process = launch_shared(FLOWMON_MAX_UNCONNECTED_PAGES=str(LIMIT), FLOWMON_ANONYMOUS_PAGES_PER_MINUTE='0')
    process.wait_started()
    return process


@pytest.fixture
def browser(flowmon: FlowmonProcess) -> Iterator[httpx.Client]:
    """A client without cookies (no session: each load is an anonymous one) that says it is on flowmon's page."""
    headers = {'Origin': flowmon.base_url}
    with httpx.Client(base_url=flowmon.base_url, headers=headers, timeout=10.0) as fresh:
        yield fresh


def load(browser: httpx.Client) -> str:
    """Load the sign-in page; the id of the client built for it."""
    response = browser.get('/login')
    assert response.status_code == 200, response.text
    match = CLIENT_ID.search(response.text)
    assert match, response.text[:500]
    return match.group(1)


def connects(browser: httpx.Client, client_id: str, tab_id: str = 'tab') -> bool:
    """Whether the page's socket is accepted (its client is kept), opened as the page's script opens it."""
    query = {'client_id': client_id, 'tab_id': tab_id, 'document_id': uuid.uuid4().hex, 'implicit_handshake': 'true'}
    opened = browser.get(SOCKET, params={'EIO': '4', 'transport': 'polling', **query})
    assert opened.status_code == 200 and opened.text.startswith('0'), opened.text
    session = {'EIO': '4', 'transport': 'polling', 'sid': json.loads(opened.text[1:])['sid']}
    assert browser.post(SOCKET, params=session, content='40').status_code == 200  # socket.io's connect
    answer = browser.get(SOCKET, params=session).text
    assert answer.startswith(('40', '44')), answer
    return answer.startswith('40')  # else 44{"message":"Implicit handshake failed"}: the page then reloads


def test_of_the_pages_no_browser_connected_to_only_the_newest_are_kept(browser: httpx.Client) -> None:
    pages = [load(browser) for _ in range(LIMIT + 5)]

    assert [connects(browser, page) for page in pages[:5]] == [False] * 5
    assert [connects(browser, page) for page in pages[5:]] == [True] * LIMIT


def test_a_page_whose_socket_connected_takes_no_place_among_them_and_is_kept(browser: httpx.Client) -> None:
    waiting, connected = load(browser), load(browser)
    assert connects(browser, connected, tab_id='reader')

    later = [load(browser) for _ in range(LIMIT - 1)]
    assert connects(browser, waiting)  # one of the LIMIT waiting: the connected page newer than it is not counted

    newest = [load(browser) for _ in range(LIMIT)]
    assert not connects(browser, later[-1])  # (older than the LIMIT newest)
    assert connects(browser, newest[0])
    assert connects(browser, connected, tab_id='reader')  # (a second socket of the same tab, as after a blip)
