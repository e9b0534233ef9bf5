"""What the webhook buttons do: each checks the session again, calls a use case and reports with a notify.

A refused action (a delivery being sent, a disabled endpoint, one deleted meanwhile) is a ``ui.notify`` naming
the problem, never an exception in the page. Every function returns what it achieved (None when refused), so
callers can refresh what they show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.application import Application
from flowmon.application.deliveries import DeliveryRecord, Endpoint

from .actions import act, guarded, performed
from .format import plural

TEST_WAIT_SECONDS = 45.0  # one attempt takes at most FLOWMON_WEBHOOK_TIMEOUT (30 s at the most)


async def redeliver(application: Application, delivery_id: str) -> DeliveryRecord | None:
    """Send one delivery again now (same ``webhook-id``, same body)."""
    action = application.deliveries.redeliver
    return await act(
        application, 'redeliver', lambda: action(delivery_id), 'Redelivery queued: 1 delivery is being sent again.'
    )


async def redeliver_many(
    application: Application, *, statuses: Sequence[str], endpoint_id: str | None, since: datetime | None
) -> list[str] | None:
    """Bulk redeliver by filter; notifies how many were requeued."""
    ids = await guarded(
        application,
        'redeliver',
        lambda: application.deliveries.redeliver_many(statuses, endpoint_id=endpoint_id, since=since),
    )
    if ids is not None:
        if ids:
            ui.notify(f'Redelivery queued: {plural(len(ids), "delivery")} being sent again.', type='positive')
        else:
            ui.notify('Nothing to redeliver: no delivery matches any more.', type='info')
    return ids


async def cancel(application: Application, delivery_id: str) -> bool:
    """Cancel a delivery that is waiting for its next attempt."""
    cancel = application.deliveries.cancel
    done = 'Delivery cancelled: no further attempts.'
    return await performed(application, 'cancel', lambda: cancel(delivery_id), done, 'info')


async def set_endpoint_enabled(application: Application, endpoint_id: str, enabled: bool) -> Endpoint | None:
    what, done = ('enable', 'enabled') if enabled else ('disable', 'disabled')
    change = application.endpoints.set_enabled
    return await act(
        application, f'{what} the endpoint', lambda: change(endpoint_id, enabled), f'Endpoint {done}.',
        'positive' if enabled else 'info',
    )  # fmt: skip


async def reveal_secret(application: Application, endpoint_id: str) -> dict[str, Any] | None:
    return await guarded(application, 'reveal the secret', lambda: application.endpoints.reveal_secret(endpoint_id))


async def rotate_secret(application: Application, endpoint_id: str, grace_seconds: int) -> dict[str, Any] | None:
    """A new secret; the old one keeps signing alongside it for ``grace_seconds`` (0: it stops at once)."""
    rotate = application.endpoints.rotate_secret
    if grace_seconds:
        done = 'Secret rotated: the old one keeps signing alongside the new one for 24 h.'
    else:
        done = 'Secret rotated: the old one no longer signs.'
    return await act(application, 'rotate the secret', lambda: rotate(endpoint_id, grace_seconds), done)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """What a test event came to: a sentence, its delivery, and whether the receiver accepted it (None: not yet)."""

    text: str
    delivery_id: str | None = None
    ok: bool | None = None


async def send_test_event(application: Application, endpoint_id: str) -> TestOutcome | None:
    """Send the endpoint a test event and wait (at most ``TEST_WAIT_SECONDS``) for its one attempt's outcome."""
    queued = await guarded(application, 'send a test event', lambda: application.endpoints.send_test(endpoint_id))
    if queued is None:
        return None
    try:
        async with asyncio.timeout(TEST_WAIT_SECONDS):
            receipt = await application.deliveries.wait_settled(queued.id)
    except TimeoutError:
        outcome = TestOutcome('Test event still being sent: its delivery shows the outcome.', queued.id)
        ui.notify(outcome.text, type='info')
        return outcome
    answer = f'HTTP {receipt.status_code}' if receipt.status_code is not None else (receipt.error or receipt.status)
    if receipt.status == 'succeeded':
        outcome = TestOutcome(f'Test event delivered: {answer}.', queued.id, True)
    else:
        outcome = TestOutcome(f'Test event {receipt.status}: {answer}.', queued.id, False)
    ui.notify(outcome.text, type='positive' if outcome.ok else 'negative', multi_line=True)
    return outcome


async def delete_endpoint(application: Application, endpoint_id: str) -> bool:
    delete = application.endpoints.delete
    return await performed(application, 'delete the endpoint', lambda: delete(endpoint_id), 'Endpoint deleted.', 'info')


async def matching_count(
    application: Application, *, statuses: Sequence[str], endpoint_id: str | None, since: datetime | None
) -> int | None:
    """How many deliveries a bulk redeliver with these filters would requeue now."""
    return await guarded(
        application,
        'count the deliveries',
        lambda: application.deliveries.matching(statuses, endpoint_id=endpoint_id, since=since),
    )
