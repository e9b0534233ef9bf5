"""Inbound triggers (``POST /hooks/{workflow_id}``) through the whole ASGI app in-process (``app.py`` with every
middleware in front of the routes), where what the route reads can be counted."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nicegui.testing.user import User
from signed_hooks import TRIGGERED, signed
from uisim import api

from flowmon.automation.triggers import NO_TRIGGER
from flowmon.engine.model import Workflow
from flowmon.store import WorkflowCatalog


async def test_a_switched_off_trigger_is_refused_without_its_definition_being_read_and_works_again_on(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow whose trigger was switched off keeps its secret, and is refused as an unknown id is, from its
    small trigger row alone: reading its definition first took measurably longer, which told it exists. Switched on
    again, the same secret starts it."""
    assert (await api(user, 'PUT', '/api/workflows/triggered', TRIGGERED)).status_code == 201
    secret = (await api(user, 'GET', '/api/workflows/triggered/trigger/secret')).json()['secret']
    off: dict[str, Any] = {**TRIGGERED, 'trigger': {'enabled': False}}
    assert (await api(user, 'PUT', '/api/workflows/triggered', off)).status_code == 200
    read: list[str] = []
    definition_of = WorkflowCatalog.get

    async def reading(catalog: WorkflowCatalog, workflow_id: str) -> Workflow | None:
        read.append(workflow_id)
        return await definition_of(catalog, workflow_id)

    monkeypatch.setattr(WorkflowCatalog, 'get', reading)
    body = json.dumps({'order': 1}).encode()

    for workflow_id in ('triggered', 'nope'):
        response = await user.http_client.post(f'/hooks/{workflow_id}', content=body, headers=signed(secret, body))
        assert (response.status_code, response.json()) == (404, {'detail': NO_TRIGGER}), workflow_id
    assert read == []  # refused before the definition was read, as the unknown id was

    assert (await api(user, 'PUT', '/api/workflows/triggered', TRIGGERED)).status_code == 200
    response = await user.http_client.post('/hooks/triggered', content=body, headers=signed(secret, body))
    assert response.status_code == 202, response.text
    assert response.json()['replayed'] is False
    assert 'triggered' in read


async def test_a_call_is_refused_before_its_body_is_read_when_nothing_would_take_it(user: User) -> None:
    """The address is public: an unknown id, a switched-off trigger, and a trigger whose signature headers cannot
    verify (missing, or a timestamp out of its window) are refused before any of the body is read, so no anonymous
    sender makes flowmon wait for, or hold, up to FLOWMON_MAX_PAYLOAD_BYTES of it; a call that may verify is read."""
    assert (await api(user, 'PUT', '/api/workflows/triggered', TRIGGERED)).status_code == 201
    assert (await api(user, 'PUT', '/api/workflows/off', {**TRIGGERED, 'id': 'off'})).status_code == 201
    off: dict[str, Any] = {**TRIGGERED, 'id': 'off', 'trigger': {'enabled': False}}
    assert (await api(user, 'PUT', '/api/workflows/off', off)).status_code == 200
    secret = (await api(user, 'GET', '/api/workflows/triggered/trigger/secret')).json()['secret']
    read: list[int] = []

    async def large() -> AsyncIterator[bytes]:  # chunked, no content-length: only reading it tells its size
        for _ in range(32):
            read.append(64 * 1024)
            yield b' ' * (64 * 1024)

    body = b' ' * (32 * 64 * 1024)
    stale = signed(secret, body, timestamp=time.time() - 600)
    unsigned = {'content-type': 'application/json'}
    for workflow_id, headers, answer in [
        ('nope', signed(secret, body), (404, {'detail': NO_TRIGGER})),
        ('off', signed(secret, body), (404, {'detail': NO_TRIGGER})),
        ('triggered', unsigned, (401, None)),
        ('triggered', stale, (401, None)),
    ]:
        response = await user.http_client.post(f'/hooks/{workflow_id}', content=large(), headers=headers)
        detail = response.json() if answer[1] is not None else None
        assert (response.status_code, detail) == answer, (workflow_id, response.text)
        assert read == [], (workflow_id, response.status_code)

    response = await user.http_client.post('/hooks/triggered', content=large(), headers=signed(secret, body))
    assert response.status_code == 413, response.text
    assert 0 < sum(read) <= 1024 * 1024 + 64 * 1024  # read, and only up to the budget
