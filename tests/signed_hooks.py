"""Signed inbound webhooks (``POST /hooks/{workflow_id}``): the headers a sender with the workflow's trigger secret
sends, made by the Standard Webhooks reference library, and a workflow that accepts them.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from flowmon.infra.signing import new_message_id

TRIGGERED = {
    'id': 'triggered',
    'name': 'Triggered',
    'trigger': {'enabled': True},
    'nodes': [{'id': 'echo', 'type': 'transform', 'config': {'expression': 'input'}}],
}


def signed(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: float | None = None
) -> dict[str, str]:
    """Headers made by the reference library, as a sender would: a new message id unless ``message_id`` is given,
    signed now (whole seconds) unless ``timestamp`` says when."""
    message_id = message_id or new_message_id()
    when = datetime.fromtimestamp(int(timestamp if timestamp is not None else time.time()), tz=UTC)
    signature = Webhook(secret).sign(message_id, when, body.decode())
    return {
        'webhook-id': message_id,
        'webhook-timestamp': str(int(when.timestamp())),
        'webhook-signature': signature,
        'content-type': 'application/json',
    }
