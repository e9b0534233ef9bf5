"""How webhook deliveries read on screen: destinations, last responses, next retries, bodies and headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from flowmon.application.deliveries import DeliveryRecord, Endpoint, redact

from .format import DASH

BODY_PREVIEW_BYTES = 2048
WAITING = frozenset({'pending', 'retrying'})


def in_time(moment: datetime | None, now: datetime) -> str:
    """``in 4 s``, ``in 5 min``, ``now``, ``12 s ago``: a near moment relative to ``now``."""
    if moment is None:
        return DASH
    seconds = (moment - now).total_seconds()
    amount = abs(seconds)
    if amount < 1:
        return 'now'
    if amount < 60:
        text = f'{amount:.0f} s'
    elif amount < 3600:
        text = f'{amount / 60:.0f} min'
    elif amount < 86_400:
        text = f'{amount / 3600:.1f} h'
    elif amount < 864_000:
        text = f'{amount / 86_400:.1f} d'
    else:  # (330 d, not 329.9 d)
        text = f'{amount / 86_400:.0f} d'
    return f'in {text}' if seconds > 0 else f'{text} ago'


def next_retry(record: DeliveryRecord, now: datetime) -> str:
    """When the next attempt goes out: only waiting deliveries have one."""
    if record.status == 'sending':
        return 'sending…'
    if record.status not in WAITING or record.next_attempt_at is None:
        return DASH
    return in_time(record.next_attempt_at, now)


def last_response(record: DeliveryRecord) -> str:
    """``HTTP 503``, ``timeout: …`` or a dash before the first attempt."""
    if record.last_status_code is not None:
        return f'HTTP {record.last_status_code}'
    if record.last_error:
        return record.last_error.splitlines()[0]
    return DASH


def response_tone(record: DeliveryRecord) -> str:
    """A CSS class for the last response: good (2xx), bad (anything else) or none yet."""
    code = record.last_status_code
    if code is not None and 200 <= code < 300:
        return 'fm-good'
    if code is not None or record.last_error:
        return 'fm-bad'
    return ''


def destination(record: DeliveryRecord, endpoints: Mapping[str, Endpoint]) -> tuple[str, str]:
    """A short name for where the delivery goes (the endpoint's description or the URL's host) and the full URL."""
    endpoint = endpoints.get(record.endpoint_id) if record.endpoint_id else None
    if endpoint is not None and endpoint.description:
        return endpoint.description, record.url
    return host_and_path(record.url), record.url


def host_and_path(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    try:
        port = f':{parts.port}' if parts.port else ''
    except ValueError:  # (one stored before such a port was refused)
        port = ''
    return f'{host}{port}{parts.path if parts.path not in ("", "/") else ""}'


def endpoint_name(endpoint: Endpoint) -> str:
    return endpoint.description or host_and_path(endpoint.url)


def event_label(record: DeliveryRecord) -> str:
    """The event type for subscriptions, else where the delivery came from (a node, the API)."""
    if record.event_type:
        return record.event_type
    return {'node': 'webhook node', 'api': 'API'}.get(record.source, record.source)


def attempts_text(record: DeliveryRecord) -> str:
    return f'{record.attempts}/{record.round_base + record.max_attempts}'


def body_preview(body: bytes, limit: int = BODY_PREVIEW_BYTES) -> tuple[str, bool]:
    """The first ``limit`` bytes as text (pretty JSON when the whole body is small JSON), and whether it was cut."""
    if len(body) <= limit:
        text = body.decode('utf-8', 'replace')
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text, False
        return (pretty, False) if len(pretty.encode()) <= limit * 2 else (text, False)
    return body[:limit].decode('utf-8', 'ignore'), True


def masked_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Headers sorted by name, credentials masked (``***``) as in the attempt log."""
    return sorted(redact(headers).items())
