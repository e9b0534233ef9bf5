"""Turning delivery requests (API, ``webhook`` node, bus events) into validated delivery rows.

Everything a delivery needs is checked here, before the row exists: the destination (scheme, credentials in the
URL, internal names and literal addresses; DNS is checked again on every attempt), the custom headers, the secret
and the 256 KiB body limit. The body is stored as the exact bytes that every attempt will send.

A ``webhook`` node whose url or headers hold a named secret's value passes those values along: the row's ``url``
then shows ``***`` in their place (the real one goes to the sealed ``secret_url``), and ``secret_headers`` names the
headers whose values the ledger shows as ``***``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowmon.delivery.endpoints import Endpoint
from flowmon.delivery.policy import TEST_EVENT_TYPE, DeliveryStatus
from flowmon.engine.core.events import Event
from flowmon.engine.core.inputs import located, location
from flowmon.engine.nodes.webhook import MAX_BODY_BYTES, WebhookAuth, WebhookRejected, check_custom_headers
from flowmon.engine.runtime.secret_refs import redact_text
from flowmon.infra.outbound import OutboundGuard, OutboundRefused
from flowmon.infra.signing import new_message_id, new_secret, secret_key
from flowmon.store.codec import dumps

ALLOWED_METHODS = frozenset({'POST', 'PUT', 'PATCH'})
EVENT_DATA_KEYS = ('error', 'reason', 'attempt', 'failed_nodes', 'delay_seconds')


class PayloadTooLarge(WebhookRejected):
    """The body is over the 256 KiB limit (the API answers 413)."""


def new_delivery_id() -> str:
    """A time-ordered delivery id: ``dlv_`` + hex."""
    return f'dlv_{time.time_ns() // 1_000_000:011x}{secrets.token_hex(6)}'


def encode_json(value: Any) -> bytes:
    """The canonical body bytes: compact UTF-8 JSON."""
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False, default=str).encode()


def event_payload(event: Event, workflow_id: str | None) -> dict[str, Any]:
    """A thin payload for an endpoint: ``{type, timestamp, data: {execution_id, workflow_id, status, ...}}``."""
    data: dict[str, Any] = {
        'execution_id': event.execution_id,
        'workflow_id': workflow_id,
        'status': str(event.type).rsplit('.', 1)[1],
    }
    if event.node_id is not None:
        data['node_id'] = event.node_id
    data.update({key: event.data[key] for key in EVENT_DATA_KEYS if key in event.data})
    return {'type': str(event.type), 'timestamp': event.ts.isoformat(), 'data': data}


def test_payload(endpoint_id: str, now: datetime) -> dict[str, Any]:
    """The body of a test event sent to an endpoint from its page: shaped like every event payload."""
    return {
        'type': TEST_EVENT_TYPE,
        'timestamp': now.isoformat(),
        'data': {'endpoint_id': endpoint_id, 'message': 'A test event from flowmon: this endpoint is reachable.'},
    }


class Intake:
    """Builds delivery rows; raises :class:`WebhookRejected` (or :class:`PayloadTooLarge`) naming the problem."""

    def __init__(self, guard: OutboundGuard) -> None:
        self._guard = guard

    def check_url(self, url: str) -> None:
        try:
            self._guard.check_url(url)
        except OutboundRefused as exc:
            raise located(WebhookRejected(f'url: {exc}'), 'url') from None

    def row(
        self,
        *,
        source: str,
        body: bytes,
        now: datetime,
        max_attempts: int,
        url: str | None = None,
        endpoint: Endpoint | None = None,
        method: str = 'POST',
        headers: Mapping[str, str] | None = None,
        auth: WebhookAuth | Mapping[str, Any] | None = None,
        secret: str | None = None,
        event_type: str | None = None,
        execution_id: str | None = None,
        source_key: str | None = None,
        secret_values: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A ``webhook_deliveries`` row, ``pending`` and due now (``cancelled`` if the endpoint is disabled).

        The row holds plain values; the ledger seals the sealed columns when it inserts it."""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f'body is {len(body)} bytes, over the {MAX_BODY_BYTES}-byte limit')
        method = method.upper()
        if method not in ALLOWED_METHODS:
            raise located(
                WebhookRejected(f'method must be one of {", ".join(sorted(ALLOWED_METHODS))}, got {method!r}'), 'method'
            )
        parsed_auth = WebhookAuth.model_validate(dict(auth)) if isinstance(auth, Mapping) else auth
        try:
            custom = check_custom_headers(headers or {}, auth=parsed_auth)
        except ValueError as exc:
            raise located(WebhookRejected(f'headers: {exc}'), 'headers', *location(exc)) from None
        if endpoint is not None:
            url, secret, parsed_auth = endpoint.url, None, None
        elif url is None:
            raise WebhookRejected('a delivery needs a url or an endpoint')
        else:
            self.check_url(url)
            if secret is None:
                secret = new_secret()
            try:
                secret_key(secret)
            except ValueError as exc:
                raise located(WebhookRejected(f'secret: {exc}'), 'secret') from None
        status, reason = DeliveryStatus.PENDING, None
        if endpoint is not None and not endpoint.enabled:
            status, reason = DeliveryStatus.CANCELLED, 'endpoint_disabled'
        shown_url = redact_text(url, secret_values)
        hidden = [name.lower() for name, value in custom.items() if value != redact_text(value, secret_values)]
        return {
            'id': new_delivery_id(),
            'webhook_id': new_message_id(),
            'source': source,
            'source_key': source_key,
            'endpoint_id': endpoint.id if endpoint else None,
            'event_type': event_type,
            'execution_id': execution_id,
            'url': shown_url,
            'secret_url': url if shown_url != url else None,
            'method': method,
            'headers': dumps(custom),
            'secret_headers': dumps(sorted(hidden)) if hidden else None,
            'auth': dumps(parsed_auth.model_dump(exclude_none=True)) if parsed_auth else None,
            'secret': secret,
            'body': body,
            'status': status.value,
            'status_reason': reason,
            'attempts': 0,
            'round_base': 0,
            'max_attempts': max_attempts,
            'next_attempt_at': now if status is DeliveryStatus.PENDING else None,
            'created_at': now,
            'updated_at': now,
            'finished_at': None if status is DeliveryStatus.PENDING else now,
        }
