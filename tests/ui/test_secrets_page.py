"""``/secrets`` in the user simulation: list, add, replace, delete (confirmed), and values that never reach the page.

Whether a value was stored is checked where it matters: a workflow whose http node sends ``{"$secret": "api_key"}``
as a header runs against a loopback receiver, which sees the value; the page never holds it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from nicegui.testing.user import User
from uisim import api, click_when_shown, sign_in, start, wait_for_path, wait_until_ended
from waiting import until

FIRST, SECOND = 'first-value-8e41b7', 'second-value-2c95da'


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('FLOWMON_OUTBOUND_ALLOW', '127.0.0.1')


def page_holds(user: User, needle: str) -> bool:
    """Whether any element of the page holds ``needle`` in its text or in any prop (an input's value included)."""
    assert user.client is not None
    for element in user.client.elements.values():
        if needle in str(getattr(element, 'text', '')) or needle in json.dumps(element.props, default=str):
            return True
        if needle in str(getattr(element, 'value', '')):
            return True
    return False


async def sent_value(user: User, receiver: Any) -> str:
    """Run the workflow that sends the secret and return what the receiver got."""
    workflow = {
        'id': 'sends-secret',
        'name': 'Sends a secret',
        'nodes': [
            {
                'id': 'call',
                'type': 'http',
                'config': {'url': receiver.url, 'headers': {'X-Api-Key': {'$secret': 'api_key'}}},
            }
        ],
    }
    response = await api(user, 'PUT', '/api/workflows/sends-secret', workflow)
    assert response.status_code in (200, 201), response.text
    summary = await wait_until_ended(user, await start(user, 'sends-secret'))
    assert summary['status'] == 'succeeded', summary
    return str(receiver.hits[-1].headers['x-api-key'])


async def add(user: User, name: str, value: str) -> None:
    await user.should_see(marker='secret-name')  # (the page builds its form in a task of its own)
    user.find(marker='secret-name').clear().type(name)
    user.find(marker='secret-value').clear().type(value)
    user.find(marker='secret-save').click()


async def test_the_header_leads_to_an_empty_secrets_page(user: User) -> None:
    await sign_in(user, '/')
    await click_when_shown(user, 'nav-secrets')
    await wait_for_path(user, '/secrets')
    await user.should_see('No secrets yet')
    assert 'fm-nav-active' in next(iter(user.find(marker='nav-secrets').elements)).classes


async def test_add_then_replace_a_secret_without_the_page_ever_holding_a_value(user: User, receiver: Any) -> None:
    await sign_in(user, '/secrets')
    await user.should_see('No secrets yet')

    user.find(marker='secret-name').type('api_key')
    user.find(marker='secret-value').type(FIRST)
    assert page_holds(user, FIRST)  # the check does see a value while it is being typed
    user.find(marker='secret-save').click()
    await user.should_see("Secret 'api_key' created.")
    await user.should_see(marker='secret-row-api_key')
    await until(lambda: not page_holds(user, FIRST), 'the value gone from the page')  # the field is emptied once saved
    listed = (await api(user, 'GET', '/api/secrets')).json()
    assert [item['name'] for item in listed] == ['api_key']
    assert await sent_value(user, receiver) == FIRST

    user.find(marker='secret-replace-api_key').click()
    await user.should_see(marker='secret-replace-dialog')
    user.find(marker='secret-replace-value').type(SECOND)
    user.find(marker='secret-replace-ok').click()
    await user.should_see("Secret 'api_key' replaced.")
    await until(lambda: not page_holds(user, SECOND), 'the new value gone from the page')
    assert not page_holds(user, FIRST)
    assert await sent_value(user, receiver) == SECOND

    await sign_in(user, '/secrets')  # a fresh page has nothing to hide either
    await user.should_see(marker='secret-row-api_key')
    assert not page_holds(user, FIRST) and not page_holds(user, SECOND)


async def test_each_row_s_buttons_name_their_secret_for_a_screen_reader(user: User) -> None:
    for name in ('api_key', 'db_password'):
        response = await api(user, 'PUT', f'/api/secrets/{name}', {'value': 'v-0123456789'})
        assert response.status_code == 201, response.text
    await sign_in(user, '/secrets')
    await user.should_see(marker='secret-row-db_password')
    for name in ('api_key', 'db_password'):
        for action in ('Replace', 'Delete'):
            (button,) = user.find(marker=f'secret-{action.lower()}-{name}').elements
            assert button.props.get('aria-label') == f'{action} secret {name}'
            assert button.text == action
            assert button.props.get('size') is None  # the app's button size (Quasar's small size made them 10 px)


async def test_a_bad_name_or_an_empty_value_is_refused_by_name(user: User) -> None:
    await sign_in(user, '/secrets')
    await add(user, 'bad name', 'x')
    await user.should_see('Could not save the secret')
    await add(user, 'ok_name', '')
    await user.should_see('the value must not be empty')
    assert (await api(user, 'GET', '/api/secrets')).json() == []


async def test_delete_asks_first_and_is_refused_while_a_workflow_uses_the_secret(user: User, receiver: Any) -> None:
    response = await api(user, 'PUT', '/api/secrets/api_key', {'value': FIRST})
    assert response.status_code == 201, response.text
    assert await sent_value(user, receiver) == FIRST  # the workflow 'sends-secret' now names it
    response = await api(user, 'PUT', '/api/secrets/spare', {'value': SECOND})
    assert response.status_code == 201, response.text
    await sign_in(user, '/secrets')
    await user.should_see(marker='secret-row-spare')

    user.find(marker='secret-delete-spare').click()
    await user.should_see(marker='confirm-delete')
    user.find(marker='confirm-delete-cancel').click()  # changing one's mind deletes nothing
    await user.should_not_see(marker='confirm-delete-ok')
    assert [item['name'] for item in (await api(user, 'GET', '/api/secrets')).json()] == ['api_key', 'spare']

    user.find(marker='secret-delete-spare').click()
    await click_when_shown(user, 'confirm-delete-ok')
    await user.should_see("Secret 'spare' deleted.")
    await user.should_not_see(marker='secret-row-spare')

    user.find(marker='secret-delete-api_key').click()
    await click_when_shown(user, 'confirm-delete-ok')
    await user.should_see("used by workflow(s) 'sends-secret'")
    assert [item['name'] for item in (await api(user, 'GET', '/api/secrets')).json()] == ['api_key']
    assert not page_holds(user, FIRST) and not page_holds(user, SECOND)
