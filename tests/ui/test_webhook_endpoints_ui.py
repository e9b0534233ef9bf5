"""Webhook endpoints managed on ``/webhooks`` in NiceGUI's user simulation of the real app: create from the empty
state, validation shown at the fields, edit with write-only credentials, a test event with its outcome, delete.
Deliveries go to a real loopback receiver (127.0.0.1 allow-listed)."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui.testing.user import User
from standardwebhooks.webhooks import Webhook
from uisim import api, click_when_shown, shown_text, sign_in, text_of, wait_for_text_containing
from webhook_receiver import Reply

from flowmon.delivery import endpoints as endpoints_module

pytestmark = pytest.mark.usefixtures('loopback_webhooks')


def element(user: User, marker: str) -> Any:
    found = user.find(marker=marker).elements
    assert len(found) == 1, f'{len(found)} elements marked {marker!r}'
    return next(iter(found))


def times_shown(user: User, message: str) -> int:
    """In how many places ``message`` shows: the page's elements (texts, field errors) and the notifications."""
    try:
        on_page = len(user.find(content=message).elements)
    except AssertionError:  # find fails when there is none
        on_page = 0
    return on_page + sum(message in notified for notified in user.notify.messages)


async def endpoints(user: User) -> list[dict[str, Any]]:
    return list((await api(user, 'GET', '/api/webhooks/endpoints')).json())


def fill(user: User, **fields: Any) -> None:
    """Set the dialog's fields (``url``, ``description``, ``event_types``, ``auth_type``, ``auth_token``, ...)."""
    for name, value in fields.items():
        element(user, f'endpoint-{name.replace("_", "-")}').set_value(value)


async def test_the_empty_state_creates_an_endpoint_whose_secret_shows_only_on_reveal(
    user: User, receivers: Any
) -> None:
    receiver = receivers()
    await sign_in(user, '/webhooks')
    await user.should_see('No endpoints yet')
    user.find(marker='endpoints-empty-create').click()
    await user.should_see(marker='endpoint-dialog')
    fill(user, url=receiver.url, description='Ops alerts', event_types=['execution.failed', 'node.failed'])
    fill(user, auth_type='bearer', auth_token='receiver-token-1')
    user.find(marker='endpoint-save').click()
    await user.should_see('Endpoint created')

    (created,) = await endpoints(user)
    assert created['url'] == receiver.url and created['description'] == 'Ops alerts'
    assert created['event_types'] == ['execution.failed', 'node.failed']
    assert created['auth'] == {'type': 'bearer'}
    endpoint_id = created['id']
    await user.should_see(marker=f'endpoint-{endpoint_id}', retries=50)
    secret = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}/secret')).json()['secret']
    await user.should_not_see(secret)
    user.find(marker=f'endpoint-reveal-{endpoint_id}').click()
    assert await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', secret) == secret


async def test_invalid_settings_are_shown_at_their_fields_and_nothing_is_created(user: User) -> None:
    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    fill(user, url='', event_types=[])
    user.find(marker='endpoint-save').click()
    await user.should_see('enter the URL the events are sent to')
    assert element(user, 'endpoint-url').error == 'enter the URL the events are sent to'
    assert element(user, 'endpoint-event-types').error == 'choose at least one event type'
    assert shown_text(user, 'endpoint-problems') is None  # each message is at its field, and only there

    fill(user, url='http://10.1.2.3/hook', event_types=['execution.failed'], auth_type='api_key', auth_value='')
    user.find(marker='endpoint-save').click()
    await user.should_see('api_key auth needs "value"')
    assert element(user, 'endpoint-auth-value').error

    fill(user, auth_type='none')
    user.find(marker='endpoint-save').click()
    await user.should_see('10.1.2.3 is refused')  # the outbound guard: a private address
    assert '10.1.2.3 is refused' in element(user, 'endpoint-url').error
    assert await endpoints(user) == []


@pytest.mark.parametrize(
    ('fields', 'message', 'at'),
    [
        ({'url': ''}, 'enter the URL the events are sent to', 'endpoint-url'),  # the models
        ({'url': 'http://10.1.2.3/hook'}, '10.1.2.3 is refused', 'endpoint-url'),  # the use case (outbound guard)
        ({'auth_type': 'bearer'}, 'bearer auth needs "token"', 'endpoint-auth-token'),
    ],
    ids=['missing', 'refused', 'credential'],
)
async def test_a_refusal_shows_once_at_its_field_and_the_dialog_keeps_what_was_typed(
    user: User, fields: dict[str, str], message: str, at: str
) -> None:
    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    fill(user, url='https://hooks.example.com/in', description='Ops alerts', event_types=['node.failed'])
    fill(user, **fields)
    user.find(marker='endpoint-save').click()
    await user.should_see(message)
    assert message in element(user, at).error
    assert times_shown(user, message) == 1, user.notify.messages  # not again under the fields nor in a notification
    assert shown_text(user, 'endpoint-problems') is None  # nothing under the fields
    await user.should_see(marker='endpoint-dialog')  # still open, with what was typed
    assert element(user, 'endpoint-description').value == 'Ops alerts'
    assert element(user, 'endpoint-event-types').value == ['node.failed']
    assert element(user, 'endpoint-url').value == fields.get('url', 'https://hooks.example.com/in')
    assert await endpoints(user) == []


async def test_a_description_holding_a_nul_is_refused_at_its_field(user: User) -> None:
    """What no database stores (PostgreSQL's text holds no NUL): refused by the model the page and the API share."""
    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    fill(user, url='https://hooks.example.com/in', description='Ops\x00alerts', event_types=['node.failed'])
    user.find(marker='endpoint-save').click()
    message = 'a NUL character (\\u0000) cannot be stored'
    await user.should_see(message)
    assert message in element(user, 'endpoint-description').error
    assert await endpoints(user) == []


@pytest.mark.parametrize('url', ['not a url', 'hooks.example.com:8443/in'])
async def test_a_url_that_is_not_an_absolute_http_url_is_named_at_the_field_and_by_the_api(
    user: User, url: str
) -> None:
    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    fill(user, url=url, event_types=['execution.failed'])
    user.find(marker='endpoint-save').click()
    expected = 'not an absolute http(s) URL (such as https://example.com/hook)'  # (at the field: its text is there)
    await user.should_see(expected)
    assert expected in element(user, 'endpoint-url').error
    response = await api(user, 'POST', '/api/webhooks/endpoints', {'url': url, 'event_types': ['execution.failed']})
    assert response.status_code == 422 and response.json()['detail'] == f'url: {expected}', response.text
    delivery = await api(user, 'POST', '/api/webhooks/deliveries', {'url': url, 'body': {}})
    assert delivery.status_code == 422 and expected in delivery.json()['detail'], delivery.text
    assert await endpoints(user) == []


async def create(user: User, url: str, **extra: Any) -> dict[str, Any]:
    body = {'url': url, 'event_types': ['execution.failed'], **extra}
    response = await api(user, 'POST', '/api/webhooks/endpoints', body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_refusal_about_no_field_shows_once_under_the_fields(user: User, receivers: Any) -> None:
    endpoint_id = (await create(user, receivers().url))['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{endpoint_id}')
    user.find(marker=f'endpoint-edit-{endpoint_id}').click()
    fill(user, description='Renamed')
    assert (await api(user, 'DELETE', f'/api/webhooks/endpoints/{endpoint_id}')).status_code == 204  # meanwhile
    user.find(marker='endpoint-save').click()
    message = f'webhook endpoint {endpoint_id!r} not found'
    await user.should_see(message)
    assert text_of(user, 'endpoint-problems') == message
    assert times_shown(user, message) == 1, user.notify.messages
    assert element(user, 'endpoint-description').value == 'Renamed'


async def test_an_endpoint_past_the_limit_is_refused_by_the_api_and_in_the_dialog(
    user: User, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each endpoint subscribed to an event type is a delivery of every such event: their number is bounded. Through
    the whole app the API answers 409 naming the limit, the dialog says it under the fields, nothing is stored, and
    deleting one makes room."""
    monkeypatch.setattr(endpoints_module, 'MAX_ENDPOINTS', 2)
    url = receivers().url
    first = (await create(user, url))['id']
    await create(user, url)
    message = 'at most 2 webhook endpoints can be stored; delete one first'
    refused = await api(user, 'POST', '/api/webhooks/endpoints', {'url': url, 'event_types': ['execution.failed']})
    assert refused.status_code == 409 and refused.json()['detail'] == message, refused.text

    await sign_in(user, '/webhooks')
    await click_when_shown(user, 'endpoint-create')
    fill(user, url='https://hooks.example.com/in', description='One more', event_types=['node.failed'])
    user.find(marker='endpoint-save').click()
    await user.should_see(message)
    assert text_of(user, 'endpoint-problems') == message
    assert times_shown(user, message) == 1, user.notify.messages
    await user.should_see(marker='endpoint-dialog')  # still open, with what was typed
    assert element(user, 'endpoint-description').value == 'One more'
    assert len(await endpoints(user)) == 2

    assert (await api(user, 'DELETE', f'/api/webhooks/endpoints/{first}')).status_code == 204
    user.find(marker='endpoint-save').click()
    await user.should_see('Endpoint created')
    assert sorted(endpoint['description'] for endpoint in await endpoints(user)) == ['', 'One more']


async def test_edit_changes_the_settings_and_keeps_credentials_left_empty(user: User, receivers: Any) -> None:
    old, new = receivers(), receivers()
    created = await create(user, old.url, description='Before', auth={'type': 'bearer', 'token': 'kept-token'})
    endpoint_id = created['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{endpoint_id}')
    user.find(marker=f'endpoint-edit-{endpoint_id}').click()
    await user.should_see(marker='endpoint-dialog')
    assert element(user, 'endpoint-url').value == old.url
    assert element(user, 'endpoint-auth-type').value == 'bearer'
    assert element(user, 'endpoint-auth-token').value == ''  # credentials are write-only
    await user.should_see('leave the fields empty to keep them')
    fill(user, url=new.url, description='After', event_types=['execution.completed', 'execution.failed'])
    user.find(marker='endpoint-save').click()
    await user.should_see('Endpoint saved')

    listed = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}')).json()
    assert (listed['url'], listed['description']) == (new.url, 'After')
    assert listed['event_types'] == ['execution.completed', 'execution.failed']
    assert listed['auth'] == {'type': 'bearer'}
    user.find(marker=f'endpoint-test-{endpoint_id}').click()  # the kept token still goes out
    (hit,) = await new.await_hits(1)
    assert hit.headers['authorization'] == 'Bearer kept-token'
    assert old.hits == []


async def test_a_test_event_shows_its_outcome_and_is_signed_with_the_endpoint_secret(
    user: User, receivers: Any
) -> None:
    accepting, refusing = receivers(), receivers(lambda _: Reply(500, body=b'broken'))
    good = (await create(user, accepting.url))['id']
    bad = (await create(user, refusing.url))['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{good}')

    user.find(marker=f'endpoint-test-{good}').click()
    assert 'HTTP 200' in await wait_for_text_containing(user, f'endpoint-test-result-{good}', 'Test event delivered')
    (hit,) = accepting.hits
    secret = (await api(user, 'GET', f'/api/webhooks/endpoints/{good}/secret')).json()['secret']
    payload = Webhook(secret).verify(hit.body, hit.headers)  # raises unless the signature is the endpoint's
    assert payload['type'] == 'webhook.test' and payload['data']['endpoint_id'] == good
    assert element(user, f'endpoint-test-delivery-{good}').props['href'].startswith('/webhooks/deliveries/dlv_')

    user.find(marker=f'endpoint-test-{bad}').click()
    assert 'HTTP 500' in await wait_for_text_containing(user, f'endpoint-test-result-{bad}', 'Test event exhausted')
    href = element(user, f'endpoint-test-delivery-{bad}').props['href']
    delivery = (await api(user, 'GET', f'/api/webhooks/deliveries/{href.rsplit("/", 1)[1]}')).json()
    assert (delivery['status'], len(delivery['attempts'])) == ('exhausted', 1)  # a test event is one attempt, no retry
    assert len(refusing.hits) == 1


async def test_a_disabled_endpoint_refuses_a_test_event_and_delete_asks_first(user: User, receivers: Any) -> None:
    receiver = receivers()
    endpoint_id = (await create(user, receiver.url, enabled=False))['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{endpoint_id}')
    assert element(user, f'endpoint-test-{endpoint_id}').props.get('disable') is True

    user.find(marker=f'endpoint-delete-{endpoint_id}').click()
    await user.should_see(marker='confirm-delete-endpoint')
    user.find(marker='confirm-delete-endpoint-ok').click()
    await user.should_see('Endpoint deleted')
    await user.should_see('No endpoints yet', retries=50)
    assert await endpoints(user) == []


async def test_a_new_api_key_header_needs_its_key_again(user: User, receivers: Any) -> None:
    receiver = receivers()
    auth = {'type': 'api_key', 'header': 'X-Key', 'value': 'first-key'}
    endpoint_id = (await create(user, receiver.url, auth=auth))['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{endpoint_id}')
    user.find(marker=f'endpoint-edit-{endpoint_id}').click()
    assert element(user, 'endpoint-auth-header').value == 'X-Key'  # the header name is shown, the key is not
    fill(user, auth_header='X-Other')
    user.find(marker='endpoint-save').click()
    await user.should_see('api_key auth needs "value"')
    assert element(user, 'endpoint-auth-value').error
    fill(user, auth_value='second-key')
    user.find(marker='endpoint-save').click()
    await user.should_see('Endpoint saved')
    user.find(marker=f'endpoint-test-{endpoint_id}').click()
    (hit,) = await receiver.await_hits(1)
    assert hit.headers['x-other'] == 'second-key' and 'x-key' not in hit.headers


async def test_every_control_of_an_endpoint_names_the_endpoint_for_a_screen_reader(user: User, receivers: Any) -> None:
    """With several endpoints, "Delete" alone does not say which: each control's accessible name does, its visible
    text unchanged (an endpoint's description is untrusted text: set as a value, never parsed)."""
    url = receivers().url
    ops = (await create(user, url, description='Ops "alerts" <b>'))['id']
    billing = (await create(user, url, description='Billing', enabled=False))['id']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{billing}')
    for endpoint_id, name in ((ops, 'Ops "alerts" <b>'), (billing, 'Billing')):
        expected = {
            'enabled': f'Enabled: endpoint {name}',
            'reveal': f'Reveal secret of endpoint {name}',
            'deliveries': f'Deliveries to endpoint {name}',
            'edit': f'Edit endpoint {name}',
            'rotate': f'Rotate secret of endpoint {name}',
            'redeliver': f'Redeliver deliveries to endpoint {name}',
            'test': f'Send test event to endpoint {name}',
            'delete': f'Delete endpoint {name}',
        }
        for control, label in expected.items():
            assert element(user, f'endpoint-{control}-{endpoint_id}').props.get('aria-label') == label, control
    assert element(user, f'endpoint-delete-{ops}').text == 'Delete'  # what shows stays short
    assert element(user, f'endpoint-rotate-{ops}').text == 'Rotate secret…'  # it opens a dialog, as on a workflow
    user.find(marker=f'endpoint-reveal-{ops}').click()
    await user.should_see(marker=f'endpoint-hide-{ops}')
    assert element(user, f'endpoint-hide-{ops}').props.get('aria-label') == 'Hide secret of endpoint Ops "alerts" <b>'
    assert element(user, f'endpoint-copy-{ops}').props.get('aria-label') == 'Copy secret of endpoint Ops "alerts" <b>'
