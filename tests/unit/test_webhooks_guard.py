"""The outbound guard: refused destinations never reach a connection; allowed ones are pinned to the checked IP.

No test here sends traffic anywhere: the inner transport is an ``httpx.MockTransport`` that records what it got.
"""

from __future__ import annotations

import ipaddress
import re

import httpx
import pytest

from flowmon.infra.outbound import (
    GuardedTransport,
    OutboundDNSError,
    OutboundGuard,
    OutboundRefused,
    OutboundTooLarge,
    address_refusal,
    guarded_client,
)

REFUSED = [
    '127.0.0.1', '10.0.0.1', '100.64.0.1', '169.254.169.254', '198.18.0.1', '0.0.0.0', '224.0.0.1', '::1',
    '::ffff:127.0.0.1', 'fd00::1', 'fe80::1', '64:ff9b::7f00:1', '2002:a00:1::1', '172.16.5.4', '192.168.1.1',
    '255.255.255.255', '240.0.0.1',
]  # fmt: skip
ALLOWED = ['8.8.8.8', '2001:4860:4860::8888', '::ffff:8.8.8.8', '93.184.216.34']


@pytest.mark.parametrize('address', REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize('address', ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    'url',
    [
        'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/',
        'http://[::1]:8080/',
        'http://[::ffff:127.0.0.1]/',
        'http://localhost/',
        'http://LOCALHOST./',
        'http://api.localhost/',
        'http://printer.local/',
        'http://metadata.google.internal/computeMetadata/v1/',
        'http://intranet/',
        'ftp://example.com/',
        'http://user:pw@example.com/',
        'http:///nohost',
    ],
)
def test_static_refusals(url: str) -> None:
    with pytest.raises(OutboundRefused):
        OutboundGuard().check_url(url)


def test_allow_list_by_host_and_cidr() -> None:
    guard = OutboundGuard(['127.0.0.1', 'localhost', '10.1.0.0/16', '::1'])
    for url in ('http://127.0.0.1:9/', 'http://localhost/', 'http://10.1.2.3/', 'http://[::1]/'):
        guard.check_url(url)
    with pytest.raises(OutboundRefused):
        guard.check_url('http://10.2.0.1/')
    with pytest.raises(OutboundRefused):
        OutboundGuard().check_url('http://127.0.0.1:9/')


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, content=b'x' * 5000)


def _resolver(answers: list[list[str]]):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    return resolve, calls


async def test_the_connection_goes_to_the_checked_address_with_host_and_sni_kept() -> None:
    resolve, calls = _resolver([['93.184.216.34']])
    inner = Recorder()
    async with guarded_client(OutboundGuard(resolver=resolve), inner=httpx.MockTransport(inner)) as client:
        response = await client.post('https://hooks.example.com:8443/in?a=1', content=b'{}')
    assert response.status_code == 200
    (sent,) = inner.requests
    assert sent.url.host == '93.184.216.34' and sent.url.port == 8443 and sent.url.path == '/in'
    assert sent.headers['host'] == 'hooks.example.com:8443'
    assert sent.extensions['sni_hostname'] == 'hooks.example.com'
    assert response.extensions['pinned_address'] == '93.184.216.34'
    assert calls == ['hooks.example.com']  # resolved once, and that answer is what was checked and used


async def test_dns_rebinding_cannot_redirect_a_later_request() -> None:
    resolve, _ = _resolver([['93.184.216.34'], ['10.0.0.5']])  # public first, then private
    inner = Recorder()
    async with guarded_client(OutboundGuard(resolver=resolve), inner=httpx.MockTransport(inner)) as client:
        await client.post('http://rebind.example.com/', content=b'{}')
        with pytest.raises(OutboundRefused, match=r'10\.0\.0\.5'):
            await client.post('http://rebind.example.com/', content=b'{}')
    assert [r.url.host for r in inner.requests] == ['93.184.216.34']


async def test_a_name_with_any_internal_address_is_refused_before_connecting() -> None:
    resolve, _ = _resolver([['93.184.216.34', '169.254.169.254']])
    inner = Recorder()
    async with guarded_client(OutboundGuard(resolver=resolve), inner=httpx.MockTransport(inner)) as client:
        with pytest.raises(OutboundRefused, match='link-local'):
            await client.get('http://mixed.example.com/')
    assert inner.requests == []


@pytest.mark.parametrize('url', ['http://169.254.169.254/', 'http://10.0.0.1/', 'http://localhost:8080/'])
async def test_refused_urls_never_reach_the_transport(url: str) -> None:
    inner = Recorder()
    async with guarded_client(OutboundGuard(['127.0.0.1']), inner=httpx.MockTransport(inner)) as client:
        with pytest.raises(OutboundRefused):
            await client.get(url)
    assert inner.requests == []


async def test_redirect_hops_are_checked_too() -> None:
    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={'Location': 'http://169.254.169.254/latest/meta-data/'})

    resolve, _ = _resolver([['93.184.216.34']])
    transport = GuardedTransport(OutboundGuard(resolver=resolve), httpx.MockTransport(redirecting))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(OutboundRefused, match=r'169\.254\.169\.254'):
            await client.get('http://public.example.com/', follow_redirects=True)
        not_followed = await client.get('http://public.example.com/')  # the default: not followed at all
        assert not_followed.status_code == 302


async def test_unresolvable_names_are_dns_errors() -> None:
    async def fail(host: str, port: int) -> list[str]:
        raise OSError('Name or service not known')

    async with guarded_client(OutboundGuard(resolver=fail), inner=httpx.MockTransport(Recorder())) as client:
        with pytest.raises(OutboundDNSError, match='cannot resolve'):
            await client.get('http://nowhere.example.com/')


async def test_request_and_response_sizes_are_capped() -> None:
    inner = Recorder()
    resolve, _ = _resolver([['93.184.216.34']])
    guard = OutboundGuard(resolver=resolve)
    async with guarded_client(guard, inner=httpx.MockTransport(inner), max_response_bytes=1000) as client:
        with pytest.raises(OutboundTooLarge):
            await client.post('http://big.example.com/', content=b'x' * (256 * 1024 + 1))
        response = await client.get('http://big.example.com/')
    assert len(response.content) == 1000  # the rest was never read
    assert len(inner.requests) == 1


# --- ports ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'url',
    ['http://1.1.1.1:22/', 'https://example.com:25/', 'http://8.8.8.8:1023/', 'https://[2001:4860:4860::8888]:5/'],
)
def test_public_destinations_on_other_ports_are_refused_naming_the_port(url: str) -> None:
    port = httpx.URL(url).port
    with pytest.raises(
        OutboundRefused, match=rf'port {port} is refused: .*ports 80, 443, 1024-65535 .*FLOWMON_OUTBOUND_PORTS'
    ):
        OutboundGuard().check_url(url)


@pytest.mark.parametrize(
    'url',
    [
        'https://example.com:+443/',
        'https://example.com: 1/',
        'https://example.com:1 /',
        'https://example.com:1_0/',
        'https://example.com:\uff14\uff14\uff13/',  # full-width digits
        'https://example.com:99999/',
    ],
)
def test_a_port_that_is_not_plain_digits_is_refused(url: str) -> None:
    """httpx reads these as ports (and would connect); the pages, with Python's own URL parser, could not show them."""
    with pytest.raises(OutboundRefused, match='the port in the URL is not a number from 0 to 65535'):
        OutboundGuard().check_url(url)


@pytest.mark.parametrize(
    'url',
    [
        'http://1.1.1.1/',
        'https://example.com/',
        'http://example.com:443/',
        'http://8.8.8.8:1024/',
        'https://example.com:65535/',
    ],
)
def test_the_default_ports_are_80_443_and_the_unprivileged_range(url: str) -> None:
    OutboundGuard().check_url(url)


def test_outbound_ports_can_be_narrowed_or_widened() -> None:
    narrow = OutboundGuard(ports=[(443, 443)])
    narrow.check_url('https://example.com/')
    for url in ('http://example.com/', 'https://example.com:8443/'):
        with pytest.raises(OutboundRefused, match='outbound requests may use ports 443 '):
            narrow.check_url(url)
    OutboundGuard(ports=[(22, 22), (80, 80)]).check_url('http://1.1.1.1:22/')


def test_allow_listed_destinations_may_use_any_port() -> None:
    guard = OutboundGuard(['127.0.0.1', 'smtp.corp.example', '10.1.0.0/16'], ports=[(443, 443)])
    for url in ('http://127.0.0.1:25/', 'http://smtp.corp.example:25/', 'http://10.1.2.3:22/'):
        guard.check_url(url)
    with pytest.raises(OutboundRefused, match='port 25'):  # a public host that is not listed is still held to it
        guard.check_url('http://mail.example.com:25/')


async def test_the_port_is_checked_before_any_name_is_resolved() -> None:
    resolve, calls = _resolver([['93.184.216.34']])
    inner = Recorder()
    async with guarded_client(OutboundGuard(resolver=resolve), inner=httpx.MockTransport(inner)) as client:
        with pytest.raises(OutboundRefused, match='port 22'):
            await client.get('http://ssh.example.com:22/')
    assert calls == [] and inner.requests == []


NOT_HTTP = {  # (the URL is not quoted: it may be a secret's value, see below)
    'not a url': 'not an absolute http(s) URL (such as https://example.com/hook)',
    'example.com/hook': 'not an absolute http(s) URL',
    'localhost:8080/hook': 'not an absolute http(s) URL',  # (not the scheme 'localhost')
    '': 'not an absolute http(s) URL',
    'ftp://example.com/hook': "only http and https URLs are allowed, not 'ftp'",
}


def test_a_url_that_is_not_http_is_refused_saying_what_is_wrong() -> None:
    guard = OutboundGuard()
    for url, message in NOT_HTTP.items():
        with pytest.raises(OutboundRefused, match=f'^{re.escape(message)}'):
            guard.check_url(url)


def test_a_refused_url_is_not_quoted_because_it_may_be_a_secret() -> None:
    """A webhook node's url may be a secret's value; a node's error hides a secret by replacing its whole value, so
    a refusal that quoted a part of it (cut, or escaped) would show that part in clear."""
    secret = 'hooks.partner-corp.net/services/T0AB12CD3/B0EF45GH6/' + 'Zq8xW3vN7mK2pL9sR4tY6uJ1hG5fD0c' * 4
    with pytest.raises(OutboundRefused) as refused:
        OutboundGuard().check_url(secret)
    message = str(refused.value)
    assert not any(secret[i : i + 8] in message for i in range(len(secret) - 8)), message
