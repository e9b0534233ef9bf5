"""A double-click (two clicks before the first one's action is done) does the action once: Run and the run and
rerun dialogs start one execution, Create makes one endpoint, the secret and view forms store once (no "replaced"
after "created"). The second click is made while the first one's handler waits on its first answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui.testing.user import User
from uisim import api, click_when_shown, sign_in, wait_until_ended
from waiting import until

pytestmark = pytest.mark.usefixtures('loopback_webhooks')
SETTLE_SECONDS = 0.5  # a second action, had it started, ends within this of the first (a wait, not a timing check)


def element(user: User, marker: str) -> Any:
    (found,) = user.find(marker=marker).elements
    return found


def double_click(user: User, marker: str) -> None:
    button = user.find(marker=marker)
    button.click()
    button.click()


async def runs_of(user: User, workflow_id: str) -> int:
    listed = await api(user, 'GET', f'/api/executions?workflow_id={workflow_id}')
    return int(listed.json()['total'])


async def settled_count(user: User, count: Any, at_least: int) -> int:
    found = 0

    async def reached() -> bool:
        nonlocal found
        found = await count()
        return found >= at_least

    await until(reached, f'{at_least} done')
    await asyncio.sleep(SETTLE_SECONDS)
    return int(await count())


async def test_run_run_with_input_and_rerun_start_one_execution_each(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker='run')
    double_click(user, 'run')
    assert await settled_count(user, lambda: runs_of(user, 'quick'), 1) == 1

    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'run-with-input')
    await user.should_see(marker='input-dialog')
    user.find(marker='input-json').type('{"n": 1}')
    await user.should_not_see(marker='input-error', retries=20)
    double_click(user, 'input-run')
    assert await settled_count(user, lambda: runs_of(user, 'quick'), 2) == 2

    listed = (await api(user, 'GET', '/api/executions?workflow_id=quick')).json()
    rerun_of = listed['items'][-1]['id']  # (the rerun dialog of an ended run)
    await wait_until_ended(user, rerun_of)
    await sign_in(user, f'/executions/{rerun_of}')
    await click_when_shown(user, 'rerun-execution')
    await user.should_see(marker='input-run')
    await user.should_not_see(marker='input-error', retries=20)
    double_click(user, 'input-run')
    assert await settled_count(user, lambda: runs_of(user, 'quick'), 3) == 3


async def test_create_makes_one_endpoint(user: User) -> None:
    async def endpoints() -> int:
        return len((await api(user, 'GET', '/api/webhooks/endpoints')).json())

    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    element(user, 'endpoint-url').set_value('http://127.0.0.1:9/hook')
    double_click(user, 'endpoint-save')
    assert await settled_count(user, endpoints, 1) == 1
    assert [m.startswith('Endpoint created') for m in user.notify.messages] == [True], user.notify.messages


async def test_the_secret_and_view_forms_store_once(user: User) -> None:
    await sign_in(user, '/secrets')
    await user.should_see(marker='secret-name')
    user.find(marker='secret-name').type('k1')
    user.find(marker='secret-value').type('v1')
    double_click(user, 'secret-save')
    await user.should_see("Secret 'k1' created.")
    await asyncio.sleep(SETTLE_SECONDS)
    assert not [message for message in user.notify.messages if 'replaced' in message], user.notify.messages

    await sign_in(user, '/executions?status=failed')
    await click_when_shown(user, 'save-view')
    element(user, 'save-view-name').set_value('v')
    double_click(user, 'save-view-ok')
    await user.should_see('Saved view “v”')
    await asyncio.sleep(SETTLE_SECONDS)
    assert not [message for message in user.notify.messages if 'Replaced' in message], user.notify.messages


async def test_a_double_click_on_a_confirmed_action_asks_once(user: User) -> None:
    """Rotate secret… double-clicked opened two dialogs: confirming both rotated twice, so the secret the receiver
    holds stopped signing at once (both dialogs had promised it 24 h more)."""
    spec = {'url': 'http://127.0.0.1:9/hook', 'event_types': ['execution.failed']}
    endpoint_id = (await api(user, 'POST', '/api/webhooks/endpoints', spec)).json()['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-rotate-{endpoint_id}')
    double_click(user, f'endpoint-rotate-{endpoint_id}')
    await user.should_see(marker='confirm-rotate-ok')
    await asyncio.sleep(SETTLE_SECONDS)
    assert len(user.find(marker='confirm-rotate-ok').elements) == 1
