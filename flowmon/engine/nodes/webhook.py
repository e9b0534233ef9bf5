"""``webhook``: queue a signed, durable webhook delivery built from the node's input.

The engine does not deliver webhooks itself (that needs the database): the node hands an
:class:`OutboundWebhook` to a :class:`WebhookPort` injected when the registry is built, and the port stores and
sends it with retries. With ``wait`` the node completes only when the delivery succeeded, and fails when the
delivery ended any other way; without it the node completes as soon as the delivery is durably queued.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from flowmon.engine.core.inputs import located

from .base import (
    UNSENDABLE,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeServices,
    NodeType,
    blank_name_problem,
    header_problem,
    http_url,
    quoted_header,
    sendable,
)
from .expressions import evaluate_input, optional_expression

MAX_BODY_BYTES = 256 * 1024
MAX_CUSTOM_HEADERS = 20
MAX_HEADER_BYTES = 8 * 1024
RESERVED_HEADERS = frozenset({'host', 'content-length', 'content-type', 'transfer-encoding', 'connection'})


class WebhookRejected(ValueError):
    """The port refused a delivery before storing it (bad destination, unknown endpoint, too large)."""


class WebhookAuth(NodeConfig):
    """Credentials sent besides the signature: ``bearer`` token, ``basic`` user/password or an ``api_key`` header."""

    type: Literal['bearer', 'basic', 'api_key']
    token: str | None = Field(default=None, min_length=1)
    username: str | None = None
    password: str | None = None
    header: str = Field(default='X-API-Key', min_length=1, max_length=100, pattern=r'^[A-Za-z0-9\-_]+$')
    value: str | None = Field(default=None, min_length=1)

    @model_validator(mode='after')
    def _complete(self) -> WebhookAuth:
        if self.type == 'bearer' and not self.token:
            raise ValueError('bearer auth needs "token"')
        for name in ('token', 'value'):  # sent in a header
            credential = getattr(self, name)
            if isinstance(credential, str) and not sendable(credential):
                raise ValueError(f'auth "{name}" {UNSENDABLE}')
        if self.type == 'basic' and (self.username is None or self.password is None):
            raise ValueError('basic auth needs "username" and "password"')
        if self.type == 'api_key':
            if not self.value:
                raise ValueError('api_key auth needs "value"')
            if self.header.lower() in RESERVED_HEADERS or self.header.lower().startswith('webhook-'):
                raise ValueError(f'api_key header {quoted_header(self.header)} is reserved')
        return self

    @property
    def header_name(self) -> str:
        """The request header that carries the credential."""
        return self.header if self.type == 'api_key' else 'Authorization'

    def headers(self) -> dict[str, str]:
        if self.type == 'bearer':
            return {'Authorization': f'Bearer {self.token}'}
        if self.type == 'basic':
            pair = f'{self.username}:{self.password}'.encode()
            return {'Authorization': 'Basic ' + base64.b64encode(pair).decode('ascii')}
        return {self.header: str(self.value)}


def check_custom_headers(headers: Mapping[str, str], *, auth: WebhookAuth | None = None) -> dict[str, str]:
    """Validate user-chosen request headers; raises ``ValueError`` naming a reserved or oversized one, marked
    (:func:`~flowmon.engine.core.inputs.located`) with the name of the header it refuses (not marked: too many,
    or a name that is empty or blank, which names nothing to point at)."""
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise ValueError(f'at most {MAX_CUSTOM_HEADERS} custom headers are allowed')
    for name, value in headers.items():
        blank = blank_name_problem(name)
        if blank:
            raise ValueError(blank)
        problem = _custom_header_problem(name, value, auth)
        if problem:
            raise located(ValueError(problem), name)
    return dict(headers)


def _custom_header_problem(name: str, value: str, auth: WebhookAuth | None) -> str | None:
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith('webhook-'):
        return f'header {quoted_header(name)} is reserved'
    if auth is not None and lowered == auth.header_name.lower():
        return f'header {quoted_header(name)} is set by the auth settings'
    if len(name) + len(value) > MAX_HEADER_BYTES:
        return (
            f'header {quoted_header(name)} is too long (its name and value together at most {MAX_HEADER_BYTES} '
            'characters)'
        )
    if '\n' in value or '\r' in value:
        return f'header {quoted_header(name)} contains a line break'
    return header_problem(name, value)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboundWebhook:
    """A delivery request: to a configured endpoint (signed with its secret) or to an ad-hoc URL."""

    body: bytes
    url: str | None = None
    endpoint_id: str | None = None
    method: str = 'POST'
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: WebhookAuth | None = None
    execution_id: str | None = None
    source_key: str | None = None
    # values of named secrets used in the url or headers: sent as they are, shown and logged as ``***``
    secret_values: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookReceipt:
    delivery_id: str
    webhook_id: str
    status: str
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None


class WebhookPort(Protocol):
    """Where the engine hands webhook deliveries (implemented by the delivery service)."""

    async def submit(self, request: OutboundWebhook) -> WebhookReceipt:
        """Store the delivery durably and start sending it; raises :class:`WebhookRejected`."""
        ...

    async def wait_settled(self, delivery_id: str) -> WebhookReceipt:
        """Wait until the delivery succeeded, failed, was exhausted or was cancelled."""
        ...


class WebhookNodeConfig(NodeConfig):
    url: str | None = None
    endpoint: str | None = Field(default=None, min_length=1, max_length=40)
    method: Literal['POST', 'PUT', 'PATCH'] = 'POST'
    headers: dict[str, str] = Field(default_factory=dict)
    auth: WebhookAuth | None = None
    body: str | None = None  # JMESPath over the node input; the whole input when absent
    wait: bool = False

    @field_validator('url')
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return value if value is None else http_url(value)

    @field_validator('body')
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return optional_expression(value)

    @model_validator(mode='after')
    def _destination(self) -> WebhookNodeConfig:
        if (self.url is None) == (self.endpoint is None):
            raise ValueError('give exactly one of "url" or "endpoint"')
        if self.endpoint is not None and self.auth is not None:
            raise ValueError('"auth" applies to "url" only; an endpoint has its own auth settings')
        check_custom_headers(self.headers, auth=self.auth)
        return self


class WebhookNode(NodeType):
    """Output ``{"delivery_id", "webhook_id", "status"}`` (plus ``attempts`` and ``status_code`` with ``wait``)."""

    type_name = 'webhook'
    Config = WebhookNodeConfig

    def __init__(self, port: WebhookPort) -> None:
        self.port = port

    @classmethod
    def create(cls, services: NodeServices) -> WebhookNode | None:
        """Registered only where a delivery service is at hand (the composition root provides it)."""
        return cls(services.webhooks) if services.webhooks is not None else None

    async def run(self, config: WebhookNodeConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        payload = evaluate_input(config.body, input, ctx) if config.body is not None else dict(input)
        body = json.dumps(payload, separators=(',', ':'), ensure_ascii=False, default=str).encode()
        if len(body) > MAX_BODY_BYTES:
            raise NodeError(f'webhook body is {len(body)} bytes, over the {MAX_BODY_BYTES}-byte limit')
        request = OutboundWebhook(
            body=body,
            url=config.url,
            endpoint_id=config.endpoint,
            method=config.method,
            headers=config.headers,
            auth=config.auth,
            execution_id=ctx.execution_id,
            source_key=f'{ctx.execution_id}:{ctx.node_id}:{ctx.attempt}',
            secret_values=ctx.secret_values,
        )
        try:
            receipt = await self.port.submit(request)
        except WebhookRejected as exc:
            raise NodeError(str(exc)) from None
        if config.wait:
            receipt = await self.port.wait_settled(receipt.delivery_id)
            if receipt.status != 'succeeded':
                raise NodeError(f'webhook delivery {receipt.delivery_id} ended {receipt.status}: {receipt.error}')
            return {
                'delivery_id': receipt.delivery_id,
                'webhook_id': receipt.webhook_id,
                'status': receipt.status,
                'attempts': receipt.attempts,
                'status_code': receipt.status_code,
            }
        return {'delivery_id': receipt.delivery_id, 'webhook_id': receipt.webhook_id, 'status': receipt.status}


def endpoints_named(definition: Mapping[str, Any]) -> frozenset[str]:
    """The webhook endpoints a workflow definition's ``webhook`` nodes deliver to (``config.endpoint``)."""
    named = set()
    for node in definition.get('nodes') or ():
        if isinstance(node, Mapping) and node.get('type') == 'webhook' and isinstance(node.get('config'), Mapping):
            endpoint = node['config'].get('endpoint')
            if isinstance(endpoint, str):
                named.add(endpoint)
    return frozenset(named)
