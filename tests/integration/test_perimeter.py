"""The HTTP perimeter of a real flowmon process: hosts, origins, headers, body caps, bearer before body, open
redirects, API numbers out of range and inbound triggers without a browser session (issue 10, findings 2-5,
11, 12 and 14)."""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from flowmon_process import FlowmonProcess
from raw_http import send_head
from signed_hooks import TRIGGERED, signed
from waiting import wait_until

TOKEN = 'perimeter-test-token-0123'
AUTH = {'Authorization': f'Bearer {TOKEN}'}
MIB = 1 << 20
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("img-src 'self';", "img-src 'self' data:;")  # Swagger UI's icons, on /docs only


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_TOKEN=TOKEN)
    process.wait_started()
    return process


@pytest.fixture
def client(flowmon: FlowmonProcess) -> Iterator[httpx.Client]:
    """A client without cookies or token (each test gets a fresh one)."""
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as fresh:
        yield fresh


# --- finding 2: inbound triggers need no browser session ---------------------------------------------------


def test_a_signed_trigger_without_any_cookie_starts_the_workflow(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    assert flowmon.api('PUT', '/api/workflows/triggered', json=TRIGGERED).status_code in (200, 201)
    secret = flowmon.api('GET', '/api/workflows/triggered/trigger/secret').json()['secret']
    body = json.dumps({'order': 7}).encode()

    response = client.post('/hooks/triggered', content=body, headers=signed(secret, body))
    assert response.status_code == 202, response.text
    assert 'set-cookie' not in response.headers  # and no per-visitor session for a sender
    summary = flowmon.poll(f'/api/executions/{response.json()["execution_id"]}', lambda s: s['status'] == 'succeeded')
    assert summary['input'] == {'order': 7}

    unsigned = client.post('/hooks/triggered', content=body, headers={'content-type': 'application/json'})
    assert unsigned.status_code == 401
    assert 'sign in' not in unsigned.text  # the signature check answered, not the browser-session guard


# --- finding 3: body caps before parsing; bearer before body -----------------------------------------------


@pytest.mark.parametrize('authorization', [None, 'Bearer wrong-token', 'Basic dXNlcjpwYXNz'])
def test_api_refuses_a_caller_without_the_token_before_reading_the_body(
    flowmon: FlowmonProcess, authorization: str | None
) -> None:
    headers = {'Host': f'127.0.0.1:{flowmon.port}', 'Content-Type': 'application/json', 'Content-Length': '55000000'}
    if authorization:
        headers['Authorization'] = authorization
    # Only the headers are sent: any answer proves the server did not wait for the 55 MB it was promised (they never
    # come, so a server that waited would never answer)
    response = send_head(flowmon.port, 'POST', '/api/webhooks/deliveries', headers, timeout=20.0)
    assert response.status == 401
    assert response.headers['www-authenticate'] == 'Bearer'


def test_a_declared_body_over_the_limit_gets_413_before_it_is_sent(flowmon: FlowmonProcess) -> None:
    headers = {
        'Host': f'127.0.0.1:{flowmon.port}',
        'Content-Type': 'application/json',
        'Content-Length': str(2 * MIB),
        **AUTH,
    }
    response = send_head(flowmon.port, 'POST', '/api/webhooks/deliveries', headers, timeout=20.0)
    assert response.status == 413
    assert 'larger than 1048576 bytes' in json.loads(response.body)['detail']


def test_a_streamed_body_over_the_limit_gets_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"url": "https://example.org/", "body": "'
        for _ in range(40):
            yield b'x' * (64 * 1024)
        yield b'"}'

    response = client.post(
        '/api/webhooks/deliveries', content=chunks(), headers={**AUTH, 'content-type': 'application/json'}
    )
    assert response.status_code == 413, response.text
    assert 'larger than 1048576 bytes' in response.json()['detail']

    raw = client.put('/api/workflows/huge', content=chunks(), headers={**AUTH, 'content-type': 'application/json'})
    assert raw.status_code == 413, raw.text


def test_a_body_under_the_limit_is_parsed_as_before(client: httpx.Client) -> None:
    body = {'id': 'big', 'name': 'Big', 'nodes': 'x' * (900 * 1024)}
    response = client.put('/api/workflows/big', json=body, headers=AUTH)
    assert response.status_code == 422, response.text  # reached the route: its own validation answered
    assert 'nodes' in response.json()['detail']


def test_the_import_and_upload_routes_take_up_to_50_mib(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    five = b'[' + b'0,' * (5 * MIB // 2) + b'0]'
    response = client.post('/api/executions/import', content=five, headers={**AUTH, 'content-type': 'application/json'})
    assert response.status_code not in (413, 500), response.text  # over the default cap, within the route's

    for path in ('/api/executions/import', '/_nicegui/client/some-client/upload/some-element'):
        headers = {'Host': f'127.0.0.1:{flowmon.port}', 'Content-Length': str(51 * MIB), **AUTH}
        assert send_head(flowmon.port, 'POST', path, headers).status == 413, path

    def fifty_one_mib() -> Iterator[bytes]:
        for _ in range(51):
            yield b' ' * MIB

    streamed = client.post('/api/executions/import', content=fifty_one_mib(), headers=AUTH)
    assert streamed.status_code == 413


def test_the_sign_in_form_is_capped_too(flowmon: FlowmonProcess) -> None:
    headers = {'Host': f'127.0.0.1:{flowmon.port}', 'Content-Length': str(2 * MIB)}
    assert send_head(flowmon.port, 'POST', '/login', headers).status == 413


# --- finding 4: no redirect to another origin ----------------------------------------------------------------

ELSEWHERE = [
    '/\t/evil.example/x',
    '/\n/evil.example',
    '/\\/evil.example',
    '/\\evil.example',
    '//evil.example',
    '///evil.example',
    '/%2F/evil.example',
    '/%09/evil.example',
    '/%5Cevil.example',
    '/.//evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
]


@pytest.mark.parametrize('target', ELSEWHERE)
def test_signing_in_never_redirects_to_another_origin(client: httpx.Client, target: str) -> None:
    response = client.post('/login', data={'token': TOKEN, 'redirect_to': target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers['location'] == '/'


def test_the_token_link_never_redirects_to_another_origin(flowmon: FlowmonProcess) -> None:
    host = {'Host': f'127.0.0.1:{flowmon.port}'}
    for path in (
        f'//evil.example/x?token={TOKEN}',
        f'/%09/evil.example?token={TOKEN}',
        f'/\\evil.example?token={TOKEN}',
    ):
        response = send_head(flowmon.port, 'GET', path, host)
        assert response.status == 303, path
        assert response.headers['location'] == '/', path
    kept = send_head(flowmon.port, 'GET', f'/executions?status=failed&token={TOKEN}', host)
    assert kept.headers['location'] == '/executions?status=failed'


def test_the_login_page_carries_only_a_safe_target(client: httpx.Client) -> None:
    page = client.get('/login', params={'redirect_to': '/\t/evil.example/x'})
    assert page.status_code == 200
    assert 'evil.example' not in page.text


def test_a_page_carries_the_compiled_tailwind_sheet_not_the_compiler(client: httpx.Client) -> None:
    """Tailwind's classes come compiled ahead of time (flowmon.web.tailwind), in the page's own style, under the
    CSP's style-src 'self' 'unsafe-inline': no compiler script is loaded into the browser."""
    page = client.get('/login')
    assert page.status_code == 200
    assert 'tailwindcss.min.js' not in page.text and 'text/tailwindcss' not in page.text  # no compiler, nor its input
    assert '@layer theme, base, components, utilities' in page.text  # the compiled sheet, in NiceGUI's layers
    assert '.w-full {' in page.text  # a class flowmon's pages use
    assert ':where(body.body--dark, body.body--dark *)' in page.text  # NiceGUI's dark variant (dark:...)


# --- finding 5: Host allow-list, socket.io origins ------------------------------------------------------------


@pytest.mark.parametrize('path', ['/', '/login', '/api/health', '/api/workflows', '/hooks/triggered', '/docs'])
def test_a_foreign_host_gets_400(flowmon: FlowmonProcess, client: httpx.Client, path: str) -> None:
    response = client.get(path, headers={'Host': 'attacker.example', **AUTH})
    assert response.status_code == 400
    assert response.headers['x-frame-options'] == 'DENY'
    for own in (f'127.0.0.1:{flowmon.port}', f'localhost:{flowmon.port}'):
        assert client.get('/api/health', headers={'Host': own}).status_code == 200


def _websocket_upgrade(port: int, host: str, origin: str | None) -> int:
    headers = {
        'Host': host,
        'Upgrade': 'websocket',
        'Connection': 'Upgrade',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
    }
    if origin is not None:
        headers['Origin'] = origin
    return send_head(port, 'GET', '/_nicegui_ws/socket.io/?EIO=4&transport=websocket', headers).status


def test_socket_io_accepts_only_our_own_origins(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    own = f'http://127.0.0.1:{flowmon.port}'
    handshake = '/_nicegui_ws/socket.io/?EIO=4&transport=polling'
    for foreign in (
        'http://evil.example',
        'null',
        f'http://127.0.0.1:{flowmon.port + 1}',
        f'https://127.0.0.1:{flowmon.port}',
    ):
        response = client.get(handshake, headers={'Origin': foreign})
        assert response.status_code == 400, foreign
        assert 'not an accepted origin' in response.text
    for origin in (own, f'http://localhost:{flowmon.port}', f'http://[::1]:{flowmon.port}'):
        assert client.get(handshake, headers={'Origin': origin}).status_code == 200, origin
    log = (flowmon.stdout + flowmon.stderr).splitlines()
    refused = [line for line in log if 'not an accepted origin' in line]
    assert not [line for line in refused if 'ERROR' in line], refused  # a refused request is no server error

    host = f'127.0.0.1:{flowmon.port}'
    assert _websocket_upgrade(flowmon.port, host, 'http://evil.example') == 403
    assert _websocket_upgrade(flowmon.port, host, own) == 101
    assert _websocket_upgrade(flowmon.port, 'attacker.example', 'http://attacker.example') == 400


def test_a_page_socket_is_pinged_every_8_s_and_given_up_on_after_4_s(
    flowmon: FlowmonProcess, client: httpx.Client
) -> None:
    """Shorter than NiceGUI derives from the 20 s a page is kept (16 and 8 s): a browser notices a socket the server
    gave up on by the ping that does not come, within 12 s, while its page is still kept (app.py)."""
    own = f'http://127.0.0.1:{flowmon.port}'
    response = client.get('/_nicegui_ws/socket.io/?EIO=4&transport=polling', headers={'Origin': own})
    assert response.status_code == 200, response.text
    opened = json.loads(response.text[response.text.index('{') :])
    assert (opened['pingInterval'], opened['pingTimeout']) == (8000, 4000), opened


# --- finding 11: numbers and times out of range are 422s naming the parameter -------------------------------

HUGE = '99999999999999999999'


@pytest.mark.parametrize(
    ('path', 'parameter'),
    [
        (f'/api/executions?offset={HUGE}', 'offset'),
        (f'/api/webhooks/deliveries?offset={HUGE}', 'offset'),
        (f'/api/executions?limit={HUGE}', 'limit'),
        (f'/api/executions/some-id/events?after_seq={2**63}', 'after_seq'),
        (f'/api/executions/some-id/events?after_seq={2**31}', 'after_seq'),  # past what PostgreSQL's column holds
        (f'/api/executions/some-id/events?limit={HUGE}', 'limit'),
        ('/api/executions?since=0001-01-01T00:00:00%2B05:00', 'since'),
        ('/api/executions?until=9999-12-31T23:59:59-05:00', 'until'),
        ('/api/webhooks/deliveries?since=0001-01-01T00:00:00%2B05:00', 'since'),
        ('/api/webhooks/deliveries?until=9999-12-31T23:59:59-05:00', 'until'),
    ],
)
def test_out_of_range_query_values_get_422_naming_the_parameter(
    client: httpx.Client, path: str, parameter: str
) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 422, response.text
    assert parameter in response.json()['detail']


def test_out_of_range_times_in_a_body_get_422(client: httpx.Client) -> None:
    for field, value in (('since', '0001-01-01T00:00:00+05:00'), ('until', '9999-12-31T23:59:59-05:00')):
        response = client.post('/api/webhooks/deliveries/redeliver', json={field: value}, headers=AUTH)
        assert response.status_code == 422, response.text
        assert field in response.json()['detail']


def test_the_state_position_is_bounded(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    flowmon.api('PUT', '/api/workflows/triggered', json=TRIGGERED)  # (also when run alone)
    execution = flowmon.api('POST', '/api/workflows/triggered/executions', json={'input': {}}).json()['id']
    flowmon.poll(f'/api/executions/{execution}', lambda s: s['status'] == 'succeeded')
    response = client.get(f'/api/executions/{execution}/state', params={'at': HUGE}, headers=AUTH)
    assert response.status_code == 422 and 'at must be between' in response.json()['detail']


# --- finding 12: security headers everywhere, docs without a CDN ---------------------------------------------


def _assert_security_headers(response: httpx.Response) -> None:
    expected = DOCS_CSP if response.request.url.path == '/docs' else CSP
    assert response.headers['content-security-policy'] == expected, response.request.url
    assert response.headers['x-content-type-options'] == 'nosniff'
    assert response.headers['referrer-policy'] == 'no-referrer'
    assert response.headers['x-frame-options'] == 'DENY'


def test_health_answers_a_monitor_s_head_without_a_body_or_the_token(client: httpx.Client) -> None:
    probe = client.head('/api/health')
    assert probe.status_code == 200 and probe.content == b''
    assert probe.headers['content-type'] == 'application/json'
    refused = client.patch('/api/health')
    assert refused.status_code == 405 and refused.headers['allow'] == 'GET, HEAD'


def _headers_but_date(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in response.headers.multi_items() if name != 'date')


@pytest.mark.parametrize(
    ('path', 'headers'),
    [
        ('/api/workflows', {**AUTH, 'Accept-Encoding': 'gzip'}),  # long enough to be compressed
        ('/api/workflows/head-probe', AUTH),  # with its ETag
        ('/api/workflows/head-probe/stats', AUTH),
        ('/api/secrets', AUTH),
        ('/api/workflows', {}),  # 401 without the token
        ('/api/workflows', {'Authorization': 'Bearer wrong-token-but-long'}),
        ('/api/workflows/no-such-workflow', AUTH),  # 404
        ('/api/executions/no-such-execution/stream', AUTH),  # 404 before any stream starts
        ('/api/executions?offset=-1', AUTH),  # 422
    ],
)
def test_head_on_an_api_route_answers_as_its_get_without_the_body(
    flowmon: FlowmonProcess, client: httpx.Client, path: str, headers: dict[str, str]
) -> None:
    flowmon.put({**TRIGGERED, 'id': 'head-probe'})
    get = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.status_code == get.status_code, head.headers
    assert head.content == b'' and get.content != b''
    assert _headers_but_date(head) == _headers_but_date(get)


def test_head_with_a_matching_if_none_match_is_not_modified(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    flowmon.put({**TRIGGERED, 'id': 'head-probe'})
    held = client.head('/api/workflows/head-probe', headers=AUTH).headers['ETag']
    assert held == client.get('/api/workflows/head-probe', headers=AUTH).headers['ETag']
    unchanged = client.head('/api/workflows/head-probe', headers={**AUTH, 'If-None-Match': held})
    assert unchanged.status_code == 304 and unchanged.headers['ETag'] == held
    other = client.head('/api/workflows/head-probe', headers={**AUTH, 'If-None-Match': '"another-version"'})
    assert other.status_code == 200


def test_head_on_metrics_needs_the_token_as_get_does(client: httpx.Client) -> None:
    assert client.head('/metrics').status_code == 401
    scraped = client.head('/metrics', headers=AUTH)
    assert scraped.status_code == 200 and scraped.content == b''
    assert scraped.headers['content-type'].startswith('text/plain; version=0.0.4')


def test_head_on_an_event_stream_answers_its_headers_and_ends(flowmon: FlowmonProcess, client: httpx.Client) -> None:
    baseline = flowmon.api('GET', '/api/debug/clients').json()['bus_subscribers']
    for _ in range(3):  # on one connection: each answer ended, or the next request would wait behind it
        probe = client.head('/api/events/stream', headers=AUTH, timeout=5.0)
        assert probe.status_code == 200 and probe.content == b''
        assert probe.headers['content-type'].startswith('text/event-stream')
    assert client.get('/api/health').status_code == 200
    wait_until(
        lambda: flowmon.api('GET', '/api/debug/clients').json()['bus_subscribers'] == baseline,
        'the probed streams to let go of the bus',
    )


def test_head_is_refused_where_no_get_answers_and_allowed_where_one_does(client: httpx.Client) -> None:
    refused = client.head('/api/workflows/head-probe/executions', headers=AUTH)
    assert refused.status_code == 405 and refused.headers['allow'] == 'POST'
    assert client.head('/api/no/such/route', headers=AUTH).status_code == 404
    patched = client.patch('/api/workflows', headers=AUTH)
    assert patched.status_code == 405 and patched.headers['allow'] == 'GET, HEAD'
    schema = client.get('/openapi.json').json()
    assert [path for path, operations in schema['paths'].items() if 'head' in operations] == []


@pytest.mark.parametrize(
    ('method', 'path', 'headers', 'status'),
    [
        ('GET', '/login', {}, 200),
        ('GET', '/', {}, 303),
        ('GET', f'/?token={TOKEN}', {}, 303),
        ('GET', '/?token=wrong-token-but-long', {}, 303),
        ('GET', '/api/health', {}, 200),
        ('HEAD', '/api/health', {}, 200),  # an uptime monitor's probe, without the token
        ('GET', '/api/workflows', {}, 401),
        ('GET', '/api/workflows', AUTH, 200),
        ('GET', '/api/workflows/no-such-workflow', AUTH, 404),
        ('GET', '/api/no/such/route', AUTH, 404),
        ('PATCH', '/api/health', {}, 405),
        ('GET', '/hooks/triggered', {}, 405),
        ('POST', '/hooks/no-such-workflow', {}, 404),
        ('GET', '/api/executions?offset=-1', AUTH, 422),
        ('GET', '/metrics', {}, 401),
        ('GET', '/metrics', AUTH, 200),
        ('GET', '/docs', {}, 200),
        ('GET', '/openapi.json', {}, 200),
        ('GET', '/_docs/swagger-ui-bundle.js', {}, 200),
        ('GET', '/_nicegui/no-such-asset', {}, 404),
        ('POST', '/logout', {}, 303),
    ],
)
def test_every_response_carries_the_security_headers(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = client.request(method, path, headers=headers, follow_redirects=False)
    assert response.status_code == status, response.text
    _assert_security_headers(response)


def test_conditional_requests_on_a_workflow_pass_every_middleware(client: httpx.Client) -> None:
    """ETag, If-None-Match and If-Match as a script meets them (compression asked for, as clients do)."""
    headers = {**AUTH, 'Accept-Encoding': 'gzip'}
    created = client.put('/api/workflows/conditional', json={**TRIGGERED, 'id': 'conditional'}, headers=headers)
    assert created.status_code == 201, created.text
    held = client.get('/api/workflows/conditional', headers=headers).headers['ETag']
    assert held == created.headers['ETag']
    current = client.get('/api/workflows/conditional', headers={**headers, 'If-None-Match': held})
    assert current.status_code == 304 and current.content == b'' and current.headers['ETag'] == held
    _assert_security_headers(current)
    changed = {**TRIGGERED, 'id': 'conditional', 'name': 'Changed'}
    assert client.put('/api/workflows/conditional', json=changed, headers=headers).status_code == 200
    stale = client.put(
        '/api/workflows/conditional', json=TRIGGERED | {'id': 'conditional'}, headers={**headers, 'If-Match': held}
    )
    assert stale.status_code == 412 and 'the stored version is' in stale.json()['detail']
    fresh = client.get('/api/workflows/conditional', headers={**headers, 'If-None-Match': held})
    assert fresh.status_code == 200 and fresh.json()['name'] == 'Changed'


def test_api_docs_load_nothing_from_another_origin(client: httpx.Client) -> None:
    page = client.get('/docs')
    assert page.status_code == 200
    assert 'http://' not in page.text and 'https://' not in page.text  # no CDN, no other origin
    for asset in ('/_docs/swagger-ui-bundle.js', '/_docs/swagger-ui.css', '/_docs/favicon-32x32.png'):
        assert asset in page.text
        assert client.get(asset).status_code == 200
    schema = client.get('/openapi.json').json()
    assert '/api/executions' in schema['paths']
    assert [path for path in schema['paths'] if path.startswith(('/_docs', '/api/debug'))] == []  # not the API's
    assert client.get('/redoc', follow_redirects=False).status_code != 200


# --- finding 14: no per-visitor state for API callers or visitors who never signed in -----------------------


def test_api_callers_and_strangers_get_no_cookie_and_no_stored_session(flowmon: FlowmonProcess) -> None:
    storage = flowmon.data_dir / 'storage'
    before = sorted(storage.glob('storage-user-*.json')) if storage.exists() else []
    for _ in range(100):
        with httpx.Client(base_url=flowmon.base_url) as stranger:  # a fresh client each time: never a cookie
            assert 'set-cookie' not in stranger.get('/api/health').headers
            assert 'set-cookie' not in stranger.get('/api/workflows', headers=AUTH).headers
    assert 'set-cookie' not in httpx.post(f'{flowmon.base_url}/hooks/triggered', content=b'{}').headers
    for _ in range(5):  # a visitor on the sign-in page gets a session id, but nothing is written for it
        assert httpx.get(f'{flowmon.base_url}/executions', follow_redirects=True).status_code == 200
    after = sorted(storage.glob('storage-user-*.json')) if storage.exists() else []
    assert after == before


@pytest.mark.parametrize('path', ['/api/no-such-route', '/api/executions/a/b/c', '/hooks/a/b/c', '/_docs/none'])
def test_an_unknown_api_path_gets_a_json_404_and_no_page(flowmon: FlowmonProcess, path: str) -> None:
    """Not NiceGUI's error page: that page is a client without a session id, and NiceGUI's storage pruning then
    fails with ``KeyError: 'id'`` every ten seconds while the client lives (the fuzz run's server log showed it)."""
    for headers in ({}, AUTH):
        with httpx.Client(base_url=flowmon.base_url) as stranger:
            response = stranger.get(path, headers=headers)
        assert response.status_code in (401, 404), response.text
        assert response.headers['content-type'] == 'application/json', response.text
        assert 'set-cookie' not in response.headers
    with httpx.Client(base_url=flowmon.base_url) as caller:
        detail = caller.get(path, headers=AUTH).json()['detail']
    assert detail == (f'no API route at {path}' if path.startswith('/api/') else 'Not Found')
    page = httpx.get(f'{flowmon.base_url}/no-such-page', follow_redirects=True)
    assert 'text/html' in page.headers['content-type']  # pages keep NiceGUI's own error page (or the sign-in)


def test_a_signed_in_browser_gets_the_page_404_for_an_unknown_page(flowmon: FlowmonProcess) -> None:
    with httpx.Client(base_url=flowmon.base_url) as browser:
        assert browser.get('/', params={'token': TOKEN}, follow_redirects=True).status_code == 200
        page = browser.get('/no-such-page')
    assert page.status_code == 404 and 'text/html' in page.headers['content-type'], page.text


@pytest.mark.parametrize(
    ('method', 'path', 'allowed'),
    [
        ('POST', '/api/workflows/quick', 'GET, HEAD, PUT, DELETE'),
        ('PATCH', '/api/views', 'GET, HEAD, POST'),
        ('DELETE', '/api/executions', 'GET, HEAD'),
        ('GET', '/hooks/triggered', 'POST'),
    ],
)
def test_a_method_an_api_path_does_not_take_is_named_with_the_ones_it_takes(
    flowmon: FlowmonProcess, method: str, path: str, allowed: str
) -> None:
    """Every method of the path, in the message and in Allow (Starlette's named those of the first route alone)."""
    response = httpx.request(method, f'{flowmon.base_url}{path}', headers=AUTH)
    assert response.status_code == 405, response.text
    assert response.json() == {'detail': f'{method} is not allowed on {path} (allowed: {allowed})'}
    assert response.headers['allow'] == allowed


# --- a client that goes away is no server error -------------------------------------------------------------


def test_clients_that_drop_their_connections_leave_no_error_in_the_log(
    flowmon: FlowmonProcess, client: httpx.Client
) -> None:
    """NiceGUI's nested BaseHTTPMiddleware layers turned a request whose client disconnected before the answer began
    into ``RuntimeError: No response returned.``, logged with its traceback: 410 of 600 dropped asset fetches did
    (anyone may fetch the assets). Reset connections, some after a moment, some at once."""
    page = client.get('/login').text
    assets = sorted(set(re.findall(r'(?:src|href)="(/_nicegui/[^"]+)"', page)))
    assert assets
    host = f'127.0.0.1:{flowmon.port}'
    for index in range(300):
        with socket.create_connection(('127.0.0.1', flowmon.port)) as sock:
            path = assets[index % len(assets)]
            sock.sendall(f'GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n'.encode())
            if index % 3:
                time.sleep(0.002 * (index % 4))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))  # a reset, not a close
    assert client.get('/api/health').status_code == 200
    flowmon.wait_idle()  # (the dropped requests may still be in hand: what they log comes once they are over)
    log = flowmon.stdout + flowmon.stderr
    assert 'No response returned' not in log
    assert 'Exception in ASGI application' not in log
    assert 'returned without starting response' not in log


# --- the request's line and headers are bounded before anything reads them ----------------------------------

MAX_TARGET = 8 * 1024
MAX_HEAD = 64 * 1024  # the target, and each header's name and value with 4 bytes for ': ' and its line end


def _head_at(port: int, target_bytes: int, head_bytes: int) -> tuple[str, dict[str, str]]:
    """A target of ``target_bytes`` on /api/health, and headers making the head count ``head_bytes`` in all."""
    prefix = '/api/health?pad='
    target = prefix + 'a' * (target_bytes - len(prefix))
    headers = {'Host': f'127.0.0.1:{port}'}
    left = head_bytes - target_bytes - (len('Host') + len(headers['Host']) + 4)
    index = 0
    while left > 0:
        name = f'X-Pad-{index:03d}'
        value = 'b' * min(4000, left - len(name) - 4)
        headers[name] = value
        left -= len(name) + len(value) + 4
        index += 1
    assert left == 0
    return target, headers


def test_a_request_at_both_limits_is_answered_and_one_a_byte_over_is_not(flowmon: FlowmonProcess) -> None:
    target, headers = _head_at(flowmon.port, MAX_TARGET, MAX_HEAD)
    response = send_head(flowmon.port, 'GET', target, headers)
    assert response.status == 200
    assert json.loads(response.body) == {'status': 'ok'}
    assert send_head(flowmon.port, 'GET', *_head_at(flowmon.port, MAX_TARGET + 1, MAX_HEAD)).status == 414
    assert send_head(flowmon.port, 'GET', *_head_at(flowmon.port, MAX_TARGET, MAX_HEAD + 1)).status == 431


def test_a_target_over_the_limit_gets_414_and_the_server_stays_healthy(
    flowmon: FlowmonProcess, client: httpx.Client
) -> None:
    target, headers = _head_at(flowmon.port, MAX_TARGET + 1, MAX_TARGET + 1 + 100)
    response = send_head(flowmon.port, 'GET', target, headers)
    assert (response.status, response.headers['connection']) == (414, 'close')
    assert response.body == b'request target longer than 8192 bytes'
    assert client.get('/api/health').status_code == 200


@pytest.mark.parametrize('upgrade', [False, True])
def test_headers_over_the_limit_get_431(flowmon: FlowmonProcess, client: httpx.Client, upgrade: bool) -> None:
    target, headers = _head_at(flowmon.port, 100, MAX_HEAD + 1)
    if upgrade:  # a websocket upgrade's request is held to the same limit
        target = '/_nicegui_ws/socket.io/?EIO=4&transport=websocket'
        headers |= {'Upgrade': 'websocket', 'Connection': 'Upgrade', 'Sec-WebSocket-Version': '13'}
        headers['Sec-WebSocket-Key'] = 'dGhlIHNhbXBsZSBub25jZQ=='
    response = send_head(flowmon.port, 'GET', target, headers)
    assert (response.status, response.headers['connection']) == (431, 'close')
    assert response.body == b'request line and headers larger than 65536 bytes'
    assert client.get('/api/health').status_code == 200


def test_a_slowly_sent_header_over_the_limit_is_cut_off_before_its_end(
    flowmon: FlowmonProcess, client: httpx.Client
) -> None:
    """One header that never ends, sent 4 KiB at a time: refused once past the limit, the connection then closed."""
    with socket.create_connection(('127.0.0.1', flowmon.port), timeout=10) as sock:
        sock.sendall(f'GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{flowmon.port}\r\nX-Pad: '.encode())
        for _ in range(20):  # 80 KiB, and never the header's end
            sock.sendall(b'c' * 4096)
        answer = b''
        while chunk := sock.recv(65536):  # the answer, then the end of the connection
            answer += chunk
        with pytest.raises(OSError):  # what still comes is thrown away, 1 MiB at most, then the connection is reset
            for _ in range(20 * 256):  # 20 MiB
                sock.sendall(b'c' * 4096)
    assert answer.startswith(b'HTTP/1.1 431 ')
    assert answer.endswith(b'\r\n\r\nrequest line and headers larger than 65536 bytes')
    assert client.get('/api/health').status_code == 200


def test_keep_alive_requests_are_each_held_to_the_limit(flowmon: FlowmonProcess) -> None:
    """The count starts again for each request on a connection: two heads of 40 KiB are answered, one after another
    (pipelined), and a third just over the limit is refused."""

    def head(size: int) -> bytes:
        target, headers = _head_at(flowmon.port, 100, size)
        return '\r\n'.join([f'GET {target} HTTP/1.1', *(f'{n}: {v}' for n, v in headers.items()), '', '']).encode()

    with socket.create_connection(('127.0.0.1', flowmon.port), timeout=10) as sock:
        sock.sendall(head(40 * 1024) * 2 + head(MAX_HEAD + 1))
        answers = b''
        while chunk := sock.recv(65536):  # the connection ends after the refusal
            answers += chunk
    assert re.findall(rb'HTTP/1.1 (\d+) ', answers) == [b'200', b'200', b'431']
