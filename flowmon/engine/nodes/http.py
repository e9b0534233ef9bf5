"""``http``: make an HTTP request with httpx; the response becomes the output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from flowmon.engine.core.payload_values import PayloadError

from .base import NodeConfig, NodeContext, NodeError, NodeType, header_problem

MAX_RESPONSE_BYTES = 1024 * 1024


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
        if not value.startswith(('http://', 'https://')):
            raise ValueError('url must start with http:// or https://')
        return value

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
        try:
            response = await client.request(
                config.method,
                config.url,
                headers=config.headers,
                json=config.body if config.body is not None else None,
                timeout=config.timeout_seconds,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise NodeError(f'{type(exc).__name__}: {exc}') from None
        content = response.content[:MAX_RESPONSE_BYTES]
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
            said = _start_of(content, len(response.content))
            raise NodeError(
                f'{config.method} {config.url} answered {response.status_code}' + (f': {said}' if said else '')
            )
        return output


ERROR_BODY_CHARS = 500  # of a refusal's body, in the node's error: why the partner refused (the error is redacted)


def _start_of(content: bytes, size: int) -> str:
    """The start of a response body, as text, for an error message (with how long it was when it goes on)."""
    text = content.decode(errors='replace').strip()
    if len(text) <= ERROR_BODY_CHARS and len(content) == size:
        return text
    return f'{text[:ERROR_BODY_CHARS]}… ({size:,} bytes)'
