"""Sending one attempt: sign at send time, POST through the guarded client, read a bounded response, classify.

The ``webhook-timestamp`` is taken when the attempt is sent (never when it was scheduled), so a retry hours
later still verifies. Redirects are not followed. Only the first 64 KiB of a response are read and the first
2 KiB kept; request headers are logged with credentials (auth, sensitive names, values from named secrets)
replaced by ``***``, and the url as the ledger shows it.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

import httpx

from flowmon import __version__
from flowmon.delivery.claims import AttemptOutcome, Claim
from flowmon.delivery.policy import ErrorClass, parse_retry_after
from flowmon.engine.core.events import utcnow
from flowmon.engine.nodes.webhook import WebhookAuth
from flowmon.engine.runtime.secret_refs import redact_text
from flowmon.infra.outbound import OutboundDNSError, OutboundRefused, OutboundTooLarge
from flowmon.infra.signing import signed_headers

USER_AGENT = f'flowmon-webhooks/{__version__}'
RESPONSE_READ_LIMIT = 64 * 1024
RESPONSE_PREFIX_BYTES = 2 * 1024
KEPT_RESPONSE_HEADERS = ('content-type', 'retry-after', 'location', 'webhook-delivery')
_SENSITIVE = re.compile(r'token|secret|key|cookie|authorization|password', re.IGNORECASE)


class Sender:
    """Makes attempts with one shared, guarded ``httpx.AsyncClient`` (follow_redirects off)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_s: float,
        clock: Callable[[], datetime] = utcnow,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.timeout_s = client, timeout_s
        self._clock, self._wall = clock, wall

    def build_headers(self, claim: Claim, timestamp: int) -> tuple[dict[str, str], set[str]]:
        """The request headers for ``claim`` and the names whose values are credentials."""
        auth = WebhookAuth.model_validate(dict(claim.auth)) if claim.auth else None
        headers = {'content-type': 'application/json', 'user-agent': USER_AGENT, 'accept-encoding': 'identity'}
        headers.update(claim.headers)
        secret_names: set[str] = set(claim.secret_headers)
        if auth is not None:
            headers.update(auth.headers())
            secret_names.add(auth.header_name.lower())
        if claim.signing_secrets:
            headers.update(signed_headers(claim.signing_secrets, claim.webhook_id, claim.body, timestamp))
        headers['webhook-attempt'] = str(claim.n)
        return headers, secret_names

    async def send(self, claim: Claim) -> AttemptOutcome:
        headers, secret_names = self.build_headers(claim, int(self._wall()))
        logged = redact(headers, secret_names)
        hidden = _credentials(claim, headers, logged)
        started = time.perf_counter()
        status_code: int | None = None
        kept: dict[str, str] = {}
        prefix: str | None = None
        address: str | None = None
        error: tuple[ErrorClass, str] | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                request = self.client.build_request(claim.method, claim.url, content=claim.body, headers=headers)
                response = await self.client.send(request, stream=True, follow_redirects=False)
                try:
                    status_code = response.status_code
                    kept = {name: response.headers[name] for name in KEPT_RESPONSE_HEADERS if name in response.headers}
                    address = response.extensions.get('pinned_address')
                    prefix = _prefix(await _read(response))
                finally:
                    await response.aclose()
        except TimeoutError:
            error = (ErrorClass.TIMEOUT, f'no complete response within {self.timeout_s:g} s')
        except Exception as exc:  # every failure of the attempt is logged as such, never raised
            error = _classify_error(exc)
        if error is not None and claim.url != claim.shown_url:  # an error may quote the url or a part of it
            error = (error[0], _hide_url(error[1], claim.url, claim.shown_url))
        if hidden:  # a receiver that echoes what it got must not put a credential into the ledger
            prefix = None if prefix is None else redact_text(prefix, hidden)
            kept = {name: redact_text(value, hidden) for name, value in kept.items()}
            error = None if error is None else (error[0], redact_text(error[1], hidden))
        ended = self._clock()
        if status_code is not None:
            error = None  # the status line arrived: it decides, even if reading the body then failed
        return AttemptOutcome(
            ended_at=ended,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            url=_redact_url(claim.shown_url),
            request_headers=logged,
            resolved_ip=address,
            status_code=status_code if error is None else None,
            response_headers=kept,
            response_body_prefix=prefix,
            error_class=None if error is None else error[0],
            error_message=None if error is None else error[1],
            retry_after_s=parse_retry_after(kept.get('retry-after'), ended) if error is None else None,
        )


def _credentials(claim: Claim, headers: Mapping[str, str], logged: Mapping[str, str]) -> list[str]:
    """What this attempt sends that the ledger hides: the values of the headers logged as ``***`` (and the token,
    password or key inside an auth header), and a url that holds a named secret."""
    hidden = [value for name, value in headers.items() if logged.get(name.lower()) == '***' and value]
    hidden += [part.split(' ', 1)[1] for part in hidden if ' ' in part]  # 'Bearer <token>', 'Basic <base64>'
    auth = claim.auth or {}
    hidden += [str(auth[key]) for key in ('token', 'password', 'value') if auth.get(key)]
    if claim.url != claim.shown_url:
        hidden.append(claim.url)
    return [value for value in hidden if len(value) >= 4]  # shorter ones would turn random text into ***


def redact(headers: Mapping[str, str], secret_names: Collection[str] = ()) -> dict[str, str]:
    """Headers (names lower-cased) with credentials replaced by ``***``; the signature is kept: it reveals no secret."""
    redacted = {}
    for name, value in headers.items():
        key = name.lower()
        hidden = (key in secret_names or _SENSITIVE.search(key)) and key != 'webhook-signature'
        redacted[key] = '***' if hidden else value
    return redacted


async def _read(response: httpx.Response) -> bytes:
    if response.is_stream_consumed:  # an in-memory response (e.g. a mock transport) is read already
        return response.content[:RESPONSE_READ_LIMIT]
    data = bytearray()
    async for chunk in response.aiter_raw():
        data.extend(chunk)
        if len(data) >= RESPONSE_READ_LIMIT:
            break
    return bytes(data[:RESPONSE_READ_LIMIT])


def _prefix(body: bytes) -> str | None:
    if not body:
        return None
    head = body[:RESPONSE_PREFIX_BYTES]
    if b'\x00' not in head:  # (a NUL makes it binary: no database column of text holds one)
        for cut in range(4):  # a multi-byte character may straddle the cut
            try:
                return head[: len(head) - cut].decode('utf-8')
            except UnicodeDecodeError:
                if len(head) < RESPONSE_PREFIX_BYTES:
                    break
    return 'base64:' + base64.b64encode(head).decode('ascii')


def _classify_error(exc: BaseException) -> tuple[ErrorClass, str]:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, OutboundRefused):
        return ErrorClass.SSRF_BLOCKED, message
    if isinstance(exc, OutboundTooLarge):
        return ErrorClass.TOO_LARGE, message
    if isinstance(exc, OutboundDNSError):
        return ErrorClass.DNS, message
    if isinstance(exc, httpx.TimeoutException):
        return ErrorClass.TIMEOUT, message
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return ErrorClass.INVALID, message
    if isinstance(exc, ssl.SSLError) or 'CERTIFICATE' in message.upper() or 'SSL' in message.upper():
        return ErrorClass.TLS, message
    if isinstance(exc, httpx.ConnectError | OSError):
        return ErrorClass.CONNECT, message
    return ErrorClass.PROTOCOL, f'{type(exc).__name__}: {message}'


def _hide_url(message: str, url: str, shown: str) -> str:
    """``message`` with ``url`` (which holds a named secret's value) shown as ``shown``, and any part of it that
    differs from the shown url's (host, path, query) as ``***``."""
    message = message.replace(url, shown)
    try:
        real, seen = httpx.URL(url), httpx.URL(shown)
    except httpx.InvalidURL:
        return message
    for part, seen_part in ((real.host, seen.host), (real.path, seen.path), (real.query.decode(), seen.query.decode())):
        if part and part != seen_part and part not in ('/',):
            message = message.replace(part, '***')
    return message


def _redact_url(url: str) -> str:
    if '@' not in url and '?' not in url:
        return url
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    if parsed.query and _SENSITIVE.search(parsed.query.decode('ascii', 'replace')):
        return str(parsed.copy_with(query=b'redacted'))
    return str(parsed.copy_with(userinfo=b'')) if parsed.userinfo else url
