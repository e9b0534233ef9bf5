"""Outbound safety for webhooks and the ``http`` node: no requests to internal addresses (SSRF).

:class:`OutboundGuard` refuses, before any connection is made, URLs whose host is an internal name
(``localhost``, ``*.local``, ``*.internal``, single labels) or that resolve to a loopback, private, link-local
(``169.254.169.254``, the cloud metadata address), shared, multicast, unspecified or reserved address,
including IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4). ``FLOWMON_OUTBOUND_ALLOW`` opens holes:
host names, or addresses/CIDRs. Only ports in ``FLOWMON_OUTBOUND_PORTS`` (80, 443 and 1024-65535 by default)
may be used, so a workflow cannot talk to SSH, SMTP or other services on privileged ports of public hosts;
a destination allow-listed by its URL host (a listed name, or an address literal inside a listed network) may
use any port, since the operator named it explicitly.

:class:`GuardedTransport` resolves the name once, checks every address, and connects to the checked address
(the URL's host is swapped for the IP; the ``Host`` header and the TLS SNI name keep the original name), so a
second DNS answer cannot rebind the request elsewhere. Redirects pass through the transport again, so a
redirect to a refused address is refused too. It also caps the request body and the response it reads.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_REQUEST_BYTES = 256 * 1024
DEFAULT_PORTS = ((80, 80), (443, 443), (1024, 65535))
REFUSED_NAMES = frozenset({'localhost', 'metadata.google.internal'})
REFUSED_SUFFIXES = ('.localhost', '.local', '.internal')
_NAT64 = ipaddress.ip_network('64:ff9b::/96')
_SIX_TO_FOUR = ipaddress.ip_network('2002::/16')


class OutboundRefused(httpx.RequestError):
    """The destination is not allowed (an internal address or name); nothing was sent."""


class OutboundTooLarge(httpx.RequestError):
    """The request body is larger than the outbound limit; nothing was sent."""


class OutboundDNSError(httpx.ConnectError):
    """The host name could not be resolved."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, via the event loop's ``getaddrinfo``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@functools.lru_cache(maxsize=4096)
def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be contacted, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address in _SIX_TO_FOUR:
            embedded = ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
        if embedded is not None:  # judged by the IPv4 address it reaches
            inner = address_refusal(embedded)
            return None if inner is None else f'{inner} (embedded in {address})'
    for flag, reason in (
        ('is_loopback', 'loopback'),
        ('is_link_local', 'link-local'),
        ('is_multicast', 'multicast'),
        ('is_unspecified', 'unspecified'),
        ('is_reserved', 'reserved'),
        ('is_private', 'private'),
    ):
        if getattr(address, flag):
            return f'{reason} address {address}'
    if not address.is_global:
        return f'non-public address {address}'
    return None


class OutboundGuard:
    """Decides which destinations outbound requests may reach."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        *,
        ports: Iterable[tuple[int, int]] = DEFAULT_PORTS,
        resolver: Resolver | None = None,
    ) -> None:
        self.ports = tuple(ports)
        self.allowed_networks: list[IPNetwork] = []
        self.allowed_hosts: set[str] = set()
        for entry in allow:
            entry = entry.strip().lower().rstrip('.')
            if not entry:
                continue
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry.strip('[]'), strict=False))
            except ValueError:
                self.allowed_hosts.add(entry)
        self._resolve = resolver or system_resolver

    def _address_allowed(self, address: IPAddress) -> str | None:
        if any(address in network for network in self.allowed_networks):
            return None
        return address_refusal(address)

    def check_url(self, url: str | httpx.URL) -> None:
        """Checks that need no DNS (scheme, credentials, names, literal addresses); raises :class:`OutboundRefused`."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OutboundRefused(f'invalid URL: {exc}') from None
        # no URL at all ("not a url"), a relative one ("example.com/hook") or a host taken for a scheme ("host:8080").
        # The URL is not quoted: it may be a secret's value (a webhook node's {"$secret": ...}), and a part of it
        # would escape the redaction that replaces the whole value in a node's error
        if not parsed.scheme or '://' not in str(url):
            raise OutboundRefused('not an absolute http(s) URL (such as https://example.com/hook)')
        if parsed.scheme not in ('http', 'https'):
            raise OutboundRefused(f'only http and https URLs are allowed, not {parsed.scheme[:20]!r}')
        if parsed.userinfo:
            raise OutboundRefused('credentials in the URL are not allowed; use the auth settings instead')
        try:  # httpx reads "+443", " 1", "1_0" and full-width digits as a port; the rest of Python does not
            _ = urlsplit(str(url)).port
        except ValueError:
            raise OutboundRefused('the port in the URL is not a number from 0 to 65535') from None
        host = _host(parsed)
        if not host:
            raise OutboundRefused('the URL has no host')
        if host in self.allowed_hosts:
            return
        literal = _literal(host)
        if literal is not None:
            if any(literal in network for network in self.allowed_networks):
                return
            reason = address_refusal(literal)
            if reason:
                raise OutboundRefused(f'{host} is refused: {reason} (allow it with FLOWMON_OUTBOUND_ALLOW)')
        elif host in REFUSED_NAMES or host.endswith(REFUSED_SUFFIXES) or '.' not in host:
            raise OutboundRefused(f'{host} is refused: internal host name (allow it with FLOWMON_OUTBOUND_ALLOW)')
        self._check_port(parsed)

    def _check_port(self, url: httpx.URL) -> None:
        port = url.port or (443 if url.scheme == 'https' else 80)
        if not any(low <= port <= high for low, high in self.ports):
            allowed = ', '.join(str(low) if low == high else f'{low}-{high}' for low, high in self.ports)
            raise OutboundRefused(
                f'port {port} is refused: outbound requests may use ports {allowed} '
                '(change with FLOWMON_OUTBOUND_PORTS)'
            )

    async def pin(self, url: httpx.URL) -> str:
        """The checked address to connect to for ``url``.

        Raises :class:`OutboundRefused` (nothing may be sent) or :class:`OutboundDNSError` (the name does not resolve).
        """
        self.check_url(url)
        host = _host(url)
        literal = _literal(host)
        if literal is not None:
            return str(literal)
        port = url.port or (443 if url.scheme == 'https' else 80)
        try:
            answers = await self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise OutboundDNSError(f'cannot resolve {host}: {exc}') from None
        addresses = [ipaddress.ip_address(answer.split('%', 1)[0]) for answer in answers]
        if not addresses:
            raise OutboundDNSError(f'cannot resolve {host}: no addresses')
        if host in self.allowed_hosts:
            return str(addresses[0])
        for address in addresses:
            reason = self._address_allowed(address)
            if reason:
                raise OutboundRefused(
                    f'{host} is refused: it resolves to a {reason} (allow it with FLOWMON_OUTBOUND_ALLOW)'
                )
        return str(addresses[0])


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every destination with an :class:`OutboundGuard` and pins the address."""

    def __init__(
        self,
        guard: OutboundGuard,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_response_bytes: int | None = None,
        **transport_options: Any,
    ) -> None:
        self.guard = guard
        self.inner = inner or httpx.AsyncHTTPTransport(verify=tls_context(), **transport_options)
        self.max_request_bytes = max_request_bytes
        self.max_response_bytes = max_response_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        length = request.headers.get('content-length')
        if length is not None and length.isdigit() and int(length) > self.max_request_bytes:
            raise OutboundTooLarge(
                f'request body of {length} bytes is over the {self.max_request_bytes}-byte limit', request=request
            )
        try:
            address = await self.guard.pin(request.url)
        except OutboundRefused as exc:
            log.warning('outbound %s %s refused: %s', request.method, _redacted(request.url), exc)
            raise OutboundRefused(str(exc), request=request) from None
        except OutboundDNSError as exc:
            raise OutboundDNSError(str(exc), request=request) from None
        host = _host(request.url)
        extensions = dict(request.extensions)
        if request.url.scheme == 'https':
            extensions['sni_hostname'] = host
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=request.headers,  # keeps Host: the original name (and port)
            stream=request.stream,
            extensions=extensions,
        )
        response = await self.inner.handle_async_request(pinned)
        extensions = {**response.extensions, 'pinned_address': address}
        if self.max_response_bytes is None:
            response.extensions = extensions
            return response
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=CappedStream(response.stream, self.max_response_bytes),
            extensions=extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedStream(httpx.AsyncByteStream):
    """A response stream that ends after ``limit`` bytes (the rest is never read; the connection closes)."""

    def __init__(self, inner: Any, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.truncated = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            if seen + len(chunk) > self._limit:
                self.truncated = True
                if self._limit > seen:
                    yield chunk[: self._limit - seen]
                break
            seen += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._inner, 'aclose', None)
        if close is not None:
            await close()


def _host(url: httpx.URL) -> str:
    return url.raw_host.decode('ascii', 'replace').lower().rstrip('.').strip('[]')


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split('%', 1)[0])
    except ValueError:
        return None


def _redacted(url: httpx.URL) -> str:
    """The URL without credentials or query (which may carry tokens), for logs."""
    return str(url.copy_with(userinfo=b'', query=None, fragment=None))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of every outbound client of this process (httpx's default: certifi's CA bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``). Making one reads and parses the whole bundle, tens of milliseconds."""
    return httpx.create_ssl_context()


def guarded_client(
    guard: OutboundGuard,
    *,
    timeout: httpx.Timeout | float = 30.0,
    max_response_bytes: int | None = None,
    max_connections: int = 100,
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request goes through ``guard`` (redirects are not followed)."""
    options: dict[str, Any] = {} if inner is not None else {'limits': httpx.Limits(max_connections=max_connections)}
    transport = GuardedTransport(guard, inner, max_response_bytes=max_response_bytes, **options)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=timeout)
