"""``http``: make an HTTP request with httpx; the response becomes the output.

The response's body is held to :data:`MAX_RESPONSE_BYTES` as it arrives and as it is decoded: the node asks for it
unencoded (``Accept-Encoding: identity``, unless the workflow's headers ask otherwise) and reads the bytes as sent
(the client's transport stops reading at its own cap); a body sent compressed all the same (gzip or deflate, in any
number of layers up to :data:`MAX_ENCODINGS`) is decompressed here, each layer to at most the cap. httpx's own
decoding held whatever a small compressed body expanded to (a 248-byte body of two gzip layers became 50 MB). The
whole exchange, the body's last byte included, takes at most ``timeout_seconds`` (httpx's timeout is per read).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from flowmon.engine.core.payload_values import PayloadError

from .base import NodeConfig, NodeContext, NodeError, NodeType, header_problem, http_url

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_ENCODINGS = 4  # content codings of one body (a server that stacks more is refused)


class HttpConfig(NodeConfig):
    method: Literal['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] = 'GET'
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    fail_on_error_status: bool = True

    @field_validator('url')
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator('headers')
    @classmethod
    def _sendable_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            problem = header_problem(name, text)
            if problem:
                raise ValueError(problem)
        return value


class HttpNode(NodeType):
    """Output ``{"status", "headers", "json"}`` (or ``"text"`` when the body is not JSON)."""

    type_name = 'http'
    Config = HttpConfig

    async def run(self, config: HttpConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        client = ctx.http
        if client is None:
            raise NodeError('no HTTP client is configured for this engine')
        headers = httpx.Headers(config.headers)
        headers.setdefault('accept-encoding', 'identity')  # (see the module's docstring)
        try:
            async with asyncio.timeout(config.timeout_seconds):
                async with client.stream(
                    config.method,
                    config.url,
                    headers=headers,
                    json=config.body if config.body is not None else None,
                    timeout=config.timeout_seconds,
                    follow_redirects=False,
                ) as response:
                    raw = b''.join([chunk async for chunk in response.aiter_raw()])
        except TimeoutError:
            raise NodeError(
                f'{config.method} {config.url}: no whole answer within {config.timeout_seconds:g} s'
            ) from None
        except httpx.HTTPError as exc:
            raise NodeError(f'{type(exc).__name__}: {exc}') from None
        body = decoded(raw, response.headers.get('content-encoding', ''), MAX_RESPONSE_BYTES)
        content = body[:MAX_RESPONSE_BYTES]
        output: dict[str, Any] = {'status': response.status_code, 'headers': dict(response.headers)}
        try:
            output['json'] = (
                ctx.budget.loads(content, 'the response body', sized=False, unique_keys=False) if content else None
            )
        except PayloadError as exc:  # parsed only within the payload budget: a clear failure, not a deep recursion
            raise NodeError(str(exc)) from None
        except ValueError:
            output['text'] = content.decode(errors='replace')
        if config.fail_on_error_status and response.status_code >= 400:
            said = _start_of(content, len(body))
            raise NodeError(
                f'{config.method} {config.url} answered {response.status_code}' + (f': {said}' if said else '')
            )
        return output


ERROR_BODY_CHARS = 500  # of a refusal's body, in the node's error: why the partner refused (the error is redacted)


def _start_of(content: bytes, size: int) -> str:
    """The start of a response body, as text, for an error message (with how long it was when it goes on: ``size``
    past the cap says only that it was longer)."""
    text = content.decode(errors='replace').strip()
    if len(text) <= ERROR_BODY_CHARS and len(content) == size:
        return text
    return (
        f'{text[:ERROR_BODY_CHARS]}… ({size:,} bytes)'
        if size <= MAX_RESPONSE_BYTES
        else f'{text[:ERROR_BODY_CHARS]}… (over {MAX_RESPONSE_BYTES:,} bytes)'
    )


_WBITS = {'gzip': 16 + zlib.MAX_WBITS, 'x-gzip': 16 + zlib.MAX_WBITS, 'deflate': zlib.MAX_WBITS}


def decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    """``raw`` with its content codings (``encoding``: the Content-Encoding header, the last applied last) undone,
    each layer to at most ``limit`` + 1 bytes (one more than the cap says the body went on). A body cut short by the
    transport's cap decodes as far as it goes. :class:`NodeError` for a coding other than gzip, deflate or identity,
    more than :data:`MAX_ENCODINGS` of them, or a body that is not what its coding says."""
    codings = [part.strip().lower() for part in encoding.split(',') if part.strip().lower() not in ('', 'identity')]
    if len(codings) > MAX_ENCODINGS:
        raise NodeError(
            f'the response is encoded {len(codings)} times over ({encoding[:100]}): at most {MAX_ENCODINGS}'
        )
    data = raw
    for coding in reversed(codings):
        wbits = _WBITS.get(coding)
        if wbits is None:
            raise NodeError(f'the response is encoded as {coding[:40]!r}, which the http node does not decode')
        try:
            data = _inflate(data, wbits, limit + 1)
        except zlib.error:
            if coding != 'deflate':
                raise NodeError(f'the response body is not the {coding} it says it is') from None
            try:  # "deflate" is sent as zlib's format (RFC 9110) or, by some servers, as its raw stream
                data = _inflate(data, -zlib.MAX_WBITS, limit + 1)
            except zlib.error:
                raise NodeError('the response body is not the deflate it says it is') from None
    return data


def _inflate(data: bytes, wbits: int, most: int) -> bytes:
    return zlib.decompressobj(wbits).decompress(data, most)
