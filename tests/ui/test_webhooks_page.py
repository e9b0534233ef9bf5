"""``/webhooks`` and the delivery detail page against real deliveries to a loopback receiver.

The app runs with 127.0.0.1 allow-listed and a short retry schedule (three attempts, 0.3 s apart, no jitter), so a
receiver that fails the first attempt sees the delivery succeed on the second within a second.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User
from sqlalchemy.exc import OperationalError
from uisim import (
    api,
    click_when_shown,
    shown_text,
    sign_in,
    start,
    text_of,
    wait_for_path,
    wait_for_text_containing,
    wait_until_ended,
)
from waiting import until
from webhook_receiver import Reply

from flowmon.application.automation import Automation
from flowmon.application.deliveries import Deliveries
from flowmon.application.endpoints import Endpoints
from flowmon.delivery import queries as queries_module
from flowmon.web.widgets import automation_panel, endpoint_list
from flowmon.web.widgets.text_block import TextBlock

pytestmark = pytest.mark.usefixtures('loopback_webhooks')


async def queue(user: User, url: str) -> str:
    response = await api(user, 'POST', '/api/webhooks/deliveries', {'url': url, 'body': {'hello': 'world'}})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


async def wait_for_status(user: User, delivery_id: str, status: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        seen.update((await api(user, 'GET', f'/api/webhooks/deliveries/{delivery_id}')).json())
        return dict(seen) if seen['status'] == status else None

    return await until(reached, f'delivery {delivery_id} to be {status}', seen=lambda: seen.get('status'))


def attempt_title(user: User, n: int) -> str:
    return str(next(iter(user.find(marker=f'attempt-{n}').elements)).props['title'])


def badge_status(user: User, marker: str) -> str:
    return str(next(iter(user.find(marker=marker).elements)).text)


async def create_endpoint(user: User, url: str, events: list[str], description: str = 'Ops alerts') -> dict[str, Any]:
    body = {'url': url, 'event_types': events, 'description': description}
    response = await api(user, 'POST', '/api/webhooks/endpoints', body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_empty_page_says_what_will_appear(user: User) -> None:
    await sign_in(user, '/webhooks')
    await user.should_see('No deliveries yet')
    await user.should_see('No endpoints yet')
    assert text_of(user, 'metric-webhooks-success_rate-value') == '—'  # nothing finished: no rate
    assert text_of(user, 'metric-webhooks-outstanding-value') == '0'


async def test_a_delivery_appears_and_goes_live_to_succeeded_after_a_retry(user: User, receivers: Any) -> None:
    receiver = receivers([Reply(503)])
    await sign_in(user, '/webhooks')
    await user.should_see('No deliveries yet')
    delivery_id = await queue(user, receiver.url)

    await user.should_see(marker=f'delivery-row-{delivery_id}')  # live: no reload
    await wait_for_row(user, delivery_id, 'succeeded', '2/3', 'HTTP 200')
    assert len(receiver.hits) == 2


async def test_a_read_that_fails_is_tried_again_at_the_next_pull(
    user: User, receivers: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A page's re-read after a change can fail (the database busy for a moment): the change stays unseen, so the next
    pull reads again, rather than the page keeping the old list until some other delivery changes."""
    receiver = receivers([])
    await sign_in(user, '/webhooks')
    await user.should_see('No deliveries yet')
    read = Deliveries.page
    failures: list[str] = []
    settled = asyncio.Event()

    async def fails_once(self: Deliveries, **query: Any) -> Any:
        if not failures:  # the first re-read fails once the delivery has settled: no change follows it
            await settled.wait()
            failures.append('database is locked')
            raise OperationalError('SELECT ...', {}, Exception('database is locked'))
        return await read(self, **query)

    monkeypatch.setattr(Deliveries, 'page', fails_once)
    delivery_id = await queue(user, receiver.url)
    await wait_for_status(user, delivery_id, 'succeeded')
    settled.set()
    await user.should_see(marker=f'delivery-row-{delivery_id}')  # no other delivery changes after it
    await wait_for_row(user, delivery_id, 'succeeded')
    assert failures
    caplog.clear()  # the failed pull's traceback, logged by NiceGUI: expected here


def row_text(user: User, delivery_id: str) -> str:
    row = next(iter(user.find(marker=f'delivery-row-{delivery_id}').elements))
    return ' '.join(str(getattr(element, 'text', '')) for element in row.descendants())


async def wait_for_row(user: User, delivery_id: str, *needles: str) -> None:
    await until(
        lambda: all(needle in row_text(user, delivery_id) for needle in needles),
        f'row {delivery_id} to show {needles}',
        seen=lambda: row_text(user, delivery_id),
    )


async def test_detail_shows_the_attempt_timeline_and_masks_secrets(user: User, receivers: Any) -> None:
    receiver = receivers([Reply(503, body=b'try later')])
    response = await api(
        user,
        'POST',
        '/api/webhooks/deliveries',
        {'url': receiver.url, 'body': {'order': 42}, 'headers': {'X-Api-Key': 'hunter2', 'X-Trace': 'abc'}},
    )
    assert response.status_code == 202, response.text
    delivery_id = response.json()['id']
    await wait_for_status(user, delivery_id, 'succeeded')

    await sign_in(user, f'/webhooks/deliveries/{delivery_id}')
    await user.should_see(marker='attempt-2')
    assert attempt_title(user, 1) == 'Attempt 1 · HTTP 503'
    assert attempt_title(user, 2) == 'Attempt 2 · HTTP 200'
    await user.should_see('try later')  # the response body prefix of attempt 1
    assert badge_status(user, 'delivery-status') == 'succeeded'
    await user.should_see('X-Trace'.lower())
    await user.should_not_see('hunter2')  # custom credential headers are masked
    body = next(iter(user.find(marker='delivery-body').elements))
    assert isinstance(body, TextBlock) and '"order": 42' in body.text


async def test_redeliver_sends_again_after_confirmation(user: User, receivers: Any) -> None:
    receiver = receivers()
    delivery_id = await queue(user, receiver.url)
    await wait_for_status(user, delivery_id, 'succeeded')
    await sign_in(user, f'/webhooks/deliveries/{delivery_id}')
    await user.should_see(marker='attempt-1')
    assert attempt_title(user, 1) == 'Attempt 1 · HTTP 200'

    user.find(marker='delivery-redeliver').click()
    await user.should_see(marker='confirm-redeliver')
    user.find(marker='confirm-redeliver-cancel').click()  # changing one's mind sends nothing
    await user.should_not_see(marker='confirm-redeliver-ok')

    user.find(marker='delivery-redeliver').click()
    await click_when_shown(user, 'confirm-redeliver-ok')
    await user.should_see('Redelivery queued')
    await receiver.await_hits(2)
    await user.should_see(marker='attempt-2')  # the page follows live
    assert attempt_title(user, 2) == 'Attempt 2 · HTTP 200'
    assert len(receiver.hits) == 2  # the original and the one confirmed redelivery: the declined one sent nothing
    ids = {hit.headers['webhook-id'] for hit in receiver.hits}
    assert len(ids) == 1  # the same webhook-id


async def test_past_the_attempts_it_lists_the_page_shows_the_latest_and_says_so(
    user: User, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries_module, 'MAX_ATTEMPTS_LISTED', 1)
    receiver = receivers()
    delivery_id = await queue(user, receiver.url)
    await wait_for_status(user, delivery_id, 'succeeded')
    await sign_in(user, f'/webhooks/deliveries/{delivery_id}')
    await user.should_see(marker='attempt-1')
    await user.should_not_see(marker='attempts-cut')

    response = await api(user, 'POST', f'/api/webhooks/deliveries/{delivery_id}/redeliver')
    assert response.status_code == 202, response.text
    await user.should_see(marker='attempt-2')  # one attempt listed either way: the page follows the count
    await user.should_not_see(marker='attempt-1')
    assert text_of(user, 'attempts-cut') == 'The latest 1 of 2 attempts'
    shown = await wait_for_status(user, delivery_id, 'succeeded')
    assert (shown['attempts_total'], [x['n'] for x in shown['attempts']]) == (2, [2])


async def test_a_redelivered_test_event_counts_one_more_attempt_in_its_budget(user: User, receivers: Any) -> None:
    receiver = receivers([Reply(503), Reply(503)])  # the test event and its redelivery fail
    endpoint_id = (await create_endpoint(user, receiver.url, ['execution.failed']))['id']
    await sign_in(user, '/webhooks')
    await click_when_shown(user, f'endpoint-test-{endpoint_id}')
    await wait_for_text_containing(user, f'endpoint-test-result-{endpoint_id}', 'Test event exhausted')
    (link,) = user.find(marker=f'endpoint-test-delivery-{endpoint_id}').elements
    delivery_id = str(link.props['href']).rsplit('/', 1)[1]
    await user.should_see(marker=f'delivery-row-{delivery_id}', retries=50)  # the ledger's next pull
    await wait_for_row(user, delivery_id, 'exhausted', '1/1')  # one attempt, no retry: all of its budget

    await sign_in(user, f'/webhooks/deliveries/{delivery_id}')
    await user.should_see(marker='attempt-1')
    user.find(marker='delivery-redeliver').click()
    await click_when_shown(user, 'confirm-redeliver-ok')
    await user.should_see(marker='attempt-2')
    shown = await wait_for_status(user, delivery_id, 'exhausted')
    assert (shown['attempt_count'], shown['max_attempts']) == (2, 2)  # the redelivery is one more attempt
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'delivery-row-{delivery_id}')
    await wait_for_row(user, delivery_id, 'exhausted', '2/2')
    assert len(receiver.hits) == 2


async def test_bulk_redeliver_counts_then_requeues_and_says_how_many(user: User, receivers: Any) -> None:
    receiver = receivers(lambda index: Reply(400) if index < 2 else Reply(200))
    first, second = await queue(user, receiver.url), await queue(user, receiver.url)
    await wait_for_status(user, first, 'failed')
    await wait_for_status(user, second, 'failed')
    await sign_in(user, '/webhooks?status=failed')
    await user.should_see(marker=f'delivery-row-{first}')

    user.find(marker='bulk-redeliver-open').click()
    await wait_for_text_containing(user, 'bulk-count', '2 deliveries match')
    user.find(marker='bulk-ok').click()
    await user.should_see('Redelivery queued: 2 deliveries being sent again.')
    await wait_for_status(user, first, 'succeeded')
    await wait_for_status(user, second, 'succeeded')


async def test_endpoint_toggle_reveal_and_rotate(user: User, receivers: Any) -> None:
    receiver = receivers()
    created = await create_endpoint(user, receiver.url, ['execution.failed'])
    endpoint_id, secret = created['id'], created['secret']
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-{endpoint_id}')
    await user.should_see('Ops alerts')
    await user.should_not_see(secret)  # hidden until asked for
    # its actions read at the size of the app's buttons (Quasar's small size made them 10 px)
    actions = ('test', 'edit', 'rotate', 'redeliver', 'reveal', 'delete')
    sizes = {action: next(iter(user.find(marker=f'endpoint-{action}-{endpoint_id}').elements)).props.get('size')
             for action in actions}  # fmt: skip
    assert sizes == dict.fromkeys(actions), sizes

    user.find(marker=f'endpoint-reveal-{endpoint_id}').click()
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', secret)

    user.find(marker=f'endpoint-enabled-{endpoint_id}').click()
    await user.should_see('Endpoint disabled.')
    listed = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}')).json()
    assert listed['enabled'] is False
    user.find(marker=f'endpoint-enabled-{endpoint_id}').click()
    await user.should_see('Endpoint enabled.')
    assert (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}')).json()['enabled'] is True

    user.find(marker=f'endpoint-rotate-{endpoint_id}').click()
    await click_when_shown(user, 'confirm-rotate-ok')
    await user.should_see('Secret rotated')
    rotated = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}/secret')).json()
    assert rotated['secret'] != secret and rotated['previous_secret'] == secret
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', rotated['secret'])

    user.find(marker=f'endpoint-rotate-{endpoint_id}').click()  # after a leak: the old secret stops signing at once
    await user.should_see(marker='confirm-rotate-old')
    user.find(marker='confirm-rotate-old').elements.pop().set_value('stop')
    user.find(marker='confirm-rotate-ok').click()
    await user.should_see('Secret rotated: the old one no longer signs.')
    revoked = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}/secret')).json()
    assert revoked['secret'] not in (secret, rotated['secret']) and revoked['previous_secret'] is None
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', revoked['secret'])


async def test_an_auto_disabled_endpoint_shows_why_and_re_enables_in_one_click(user: User, receivers: Any) -> None:
    receiver = receivers([Reply(410)])  # 410 Gone disables the endpoint at once
    endpoint_id = (await create_endpoint(user, receiver.url, ['execution.failed']))['id']
    await wait_until_ended(user, await start(user, 'broken'))
    await receiver.await_hits(1)
    await sign_in(user, '/webhooks')
    await user.should_see(marker=f'endpoint-reason-{endpoint_id}')
    await user.should_see('410 Gone')
    await wait_for_text_containing(user, f'endpoint-rate-{endpoint_id}', '0.0 %')  # health: 1 finished, 0 succeeded

    user.find(marker=f'endpoint-reenable-{endpoint_id}').click()
    await user.should_see('Endpoint enabled.')
    await user.should_not_see(marker=f'endpoint-reason-{endpoint_id}')
    assert (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}')).json()['enabled'] is True


async def test_filters_come_from_the_url_and_bad_values_are_reported(user: User, receivers: Any) -> None:
    receiver = receivers()
    delivery_id = await queue(user, receiver.url)
    await wait_for_status(user, delivery_id, 'succeeded')
    await sign_in(user, '/webhooks?status=exhausted')
    await user.should_see('No deliveries match these filters')
    await user.open('/webhooks?status=bogus')
    await user.should_see("Filter: unknown status 'bogus' ignored")
    await user.should_see(marker=f'delivery-row-{delivery_id}')
    for page in ('%C2%B2', '99999999999999999999999'):  # a Unicode digit; past the database's integers
        await user.open(f'/webhooks?page={page}')
        await user.should_see(marker=f'delivery-row-{delivery_id}')
        await user.should_not_see(marker='page-error')
    await user.open('/webhooks?status=succeeded')
    await click_when_shown(user, f'delivery-row-{delivery_id}')
    await wait_for_path(user, f'/webhooks/deliveries/{delivery_id}')
    await user.should_see(marker='attempt-1')


async def test_unknown_delivery_is_a_calm_not_found(user: User) -> None:
    await sign_in(user, '/webhooks/deliveries/nope')
    await user.should_see('Delivery not found')
    await user.should_see(kind=ui.link, content='Back to webhooks')


async def test_dashboard_cards_show_webhook_success_and_pending(user: User, receivers: Any) -> None:
    await sign_in(user)
    await user.should_see(marker='metric-webhook_pending')
    assert text_of(user, 'metric-webhook_success_rate-value') == '—'
    links = {key: next(iter(user.find(marker=f'metric-{key}').elements)).props['href']
             for key in ('webhook_success_rate', 'webhook_pending')}  # fmt: skip
    assert links == {
        'webhook_success_rate': '/webhooks?status=exhausted',
        'webhook_pending': '/webhooks?status=outstanding',
    }

    ok = receivers()
    bad = receivers([Reply(400)])
    await wait_for_status(user, await queue(user, ok.url), 'succeeded')
    await wait_for_status(user, await queue(user, bad.url), 'failed')
    await wait_for_text_containing(user, 'metric-webhook_success_rate-value', '50.0 %')
    assert text_of(user, 'metric-webhook_pending-value') == '0'


SCHEDULED = {
    'id': 'nightly',
    'name': 'Nightly report',
    'nodes': [{'id': 'shape', 'type': 'transform', 'name': 'Shape', 'config': {'expression': '{ok: `true`}'}}],
    'edges': [],
    'trigger': {'enabled': True},
    'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'},
}


async def test_workflow_page_shows_trigger_url_secret_and_schedule_with_pause(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await user.should_see(marker='workflow-automation')
    await user.should_see(marker='schedule-cron')  # (the panel is built across reads of the store: its last part)
    assert text_of(user, 'trigger-url').endswith('/hooks/nightly')
    assert text_of(user, 'trigger-secret').startswith('whsec_•')  # hidden until asked for
    for marker in ('trigger-reveal', 'trigger-rotate'):  # the app's button size (Quasar's small size: 10 px text)
        assert [button.props.get('size') for button in user.find(marker=marker).elements] == [None]
    user.find(marker='trigger-reveal').click()
    await wait_for_text_containing(user, 'trigger-secret', 'whsec_')
    await until(lambda: '•' not in text_of(user, 'trigger-secret'), 'the trigger secret to be revealed')
    secret = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    assert text_of(user, 'trigger-secret') == secret

    assert text_of(user, 'schedule-cron') == '0 3 * * *'
    await wait_for_text_containing(user, 'schedule-next', '03:00:00')
    user.find(marker='schedule-pause').click()
    await user.should_see('Schedule paused.')
    await wait_for_text_containing(user, 'schedule-next', 'none while paused')
    assert (await api(user, 'GET', '/api/workflows/nightly/schedule')).json()['paused'] is True
    user.find(marker='schedule-resume').click()
    await user.should_see('Schedule resumed.')
    assert (await api(user, 'GET', '/api/workflows/nightly/schedule')).json()['paused'] is False


async def test_rotate_trigger_secret_asks_whether_the_old_one_keeps_working_for_24_h_or_stops_now(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    first = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    await sign_in(user, '/workflows/nightly')
    await click_when_shown(user, 'trigger-rotate')
    await user.should_see(marker='confirm-rotate')
    assert 'senders must sign their calls to this trigger URL with it' in text_of(user, 'confirm-rotate-message')
    await user.should_see('Keep it working for 24 h, so senders have time to switch')
    await user.should_see('Stop it now (after a leak): calls signed with it are refused from this moment')
    user.find(marker='confirm-rotate-cancel').click()
    await user.should_not_see(marker='confirm-rotate')
    assert (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret'] == first  # kept

    user.find(marker='trigger-rotate').click()
    await click_when_shown(user, 'confirm-rotate-ok')  # as it comes: the old secret is kept for 24 h
    await user.should_see('Secret rotated: the old one keeps working alongside the new one for 24 h.')
    kept = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()
    assert kept['secret'] != first and kept['previous_secret'] == first
    await wait_for_text_containing(user, 'trigger-secret', kept['secret'])  # shown, to copy to the senders
    await wait_for_text_containing(user, 'trigger-previous', 'The previous secret also works until')
    assert kept['previous_secret_expires_at'][:16].replace('T', ' ') in text_of(user, 'trigger-previous')

    user.find(marker='trigger-rotate').click()
    await user.should_see(marker='confirm-rotate-old')
    user.find(marker='confirm-rotate-old').elements.pop().set_value('stop')
    user.find(marker='confirm-rotate-ok').click()
    await user.should_see('Secret rotated: the old one no longer works.')
    revoked = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()
    assert revoked['secret'] not in (first, kept['secret'])
    assert revoked['previous_secret'] is None and revoked['previous_secret_expires_at'] is None
    await wait_for_text_containing(user, 'trigger-secret', revoked['secret'])
    assert text_of(user, 'trigger-previous') == 'The previous secret no longer works.'


async def test_a_second_rotation_says_that_the_secret_still_in_its_grace_stops_now(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await click_when_shown(user, 'trigger-rotate')
    await user.should_see(marker='confirm-rotate')
    await user.should_not_see(marker='confirm-rotate-replacing')  # no grace running: nothing to say
    user.find(marker='confirm-rotate-cancel').click()
    await user.should_not_see(marker='confirm-rotate')
    kept = (await api(user, 'POST', '/api/workflows/nightly/trigger/secret/rotate')).json()  # elsewhere, kept 24 h

    user.find(marker='trigger-rotate').click()  # the page has not seen that rotation: the dialog reads it
    await user.should_see(marker='confirm-rotate-replacing')
    said = text_of(user, 'confirm-rotate-replacing')
    assert 'stops working now' in said and kept['previous_secret_expires_at'][:16].replace('T', ' ') in said
    assert kept['previous_secret'] not in said and kept['secret'] not in said


async def test_a_second_endpoint_rotation_says_that_the_secret_still_in_its_grace_stops_now(
    user: User, receivers: Any
) -> None:
    endpoint_id = (await create_endpoint(user, receivers().url, ['execution.failed']))['id']
    await sign_in(user, '/webhooks')
    await click_when_shown(user, f'endpoint-rotate-{endpoint_id}')
    await user.should_see(marker='confirm-rotate')
    await user.should_not_see(marker='confirm-rotate-replacing')
    user.find(marker='confirm-rotate-cancel').click()
    await user.should_not_see(marker='confirm-rotate')
    kept = (await api(user, 'POST', f'/api/webhooks/endpoints/{endpoint_id}/secret/rotate')).json()

    user.find(marker=f'endpoint-rotate-{endpoint_id}').click()
    await user.should_see(marker='confirm-rotate-replacing')
    said = text_of(user, 'confirm-rotate-replacing')
    assert 'stops working now' in said and kept['previous_secret_expires_at'][:16].replace('T', ' ') in said
    assert kept['previous_secret'] not in said


async def test_a_revealed_endpoint_secret_follows_a_rotation_made_elsewhere(
    user: User, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint_list, 'RECHECK_SECONDS', 0.0)
    created = await create_endpoint(user, receivers().url, ['execution.failed'])
    endpoint_id = created['id']
    await sign_in(user, '/webhooks')
    await click_when_shown(user, f'endpoint-reveal-{endpoint_id}')
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', created['secret'])
    rotate = f'/api/webhooks/endpoints/{endpoint_id}/secret/rotate?grace_seconds=0'  # after a leak, in another tab
    rotated = (await api(user, 'POST', rotate)).json()
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', rotated['secret'])
    await user.should_see('The secret of Ops alerts was rotated elsewhere: the new one is shown.')
    assert created['secret'] not in text_of(user, f'endpoint-{endpoint_id}')  # the stopped secret is not offered


class ReadAcrossRotation:
    """Makes the page's periodic re-read of a revealed secret land inside the page's own rotation: once armed, the
    next read waits for the rotation's write and reads the new secret, and the rotation answers only after that read
    (the window in which a page took its own rotation for one made elsewhere)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: type, reveal: str, rotate: str) -> None:
        self.armed = False
        self.read_started = asyncio.Event()
        self.committed = asyncio.Event()
        self.read_done = asyncio.Event()
        real_reveal, real_rotate = getattr(owner, reveal), getattr(owner, rotate)

        async def reveal_(this: Any, key: str) -> dict[str, Any]:
            if not self.armed or self.read_started.is_set():
                return dict(await real_reveal(this, key))
            self.read_started.set()
            await self.committed.wait()
            try:
                return dict(await real_reveal(this, key))
            finally:
                self.read_done.set()

        async def rotate_(this: Any, key: str, grace_seconds: int | None = None) -> dict[str, Any]:
            rotated = dict(await real_rotate(this, key, grace_seconds))
            if self.armed:
                self.committed.set()
                await self.read_done.wait()
            return rotated

        monkeypatch.setattr(owner, reveal, reveal_)
        monkeypatch.setattr(owner, rotate, rotate_)

    async def rotate_from_the_dialog(self, user: User) -> None:
        """With the rotation dialog open: wait for a re-read to be under way, then confirm."""
        self.armed = True
        await until(self.read_started.is_set, 'a re-read of the revealed secret to start')
        user.find(marker='confirm-rotate-ok').click()


async def test_a_rotation_made_on_the_page_is_not_taken_for_one_made_elsewhere(
    user: User, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint_list, 'RECHECK_SECONDS', 0.0)
    race = ReadAcrossRotation(monkeypatch, Endpoints, 'reveal_secret', 'rotate_secret')
    created = await create_endpoint(user, receivers().url, ['execution.failed'])
    endpoint_id = created['id']
    await sign_in(user, '/webhooks')
    await click_when_shown(user, f'endpoint-reveal-{endpoint_id}')
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', created['secret'])
    user.find(marker=f'endpoint-rotate-{endpoint_id}').click()
    await user.should_see(marker='confirm-rotate-ok')
    await race.rotate_from_the_dialog(user)
    await user.should_see('Secret rotated')
    assert race.read_done.is_set()
    rotated = (await api(user, 'GET', f'/api/webhooks/endpoints/{endpoint_id}/secret')).json()
    await wait_for_text_containing(user, f'endpoint-secret-{endpoint_id}', rotated['secret'])
    await user.should_not_see('rotated elsewhere')


async def test_an_endpoint_says_until_when_its_previous_secret_signs_in_the_viewers_time_also_hidden(
    user: User, receivers: Any
) -> None:
    endpoint_id = (await create_endpoint(user, receivers().url, ['execution.failed']))['id']
    kept = (await api(user, 'POST', f'/api/webhooks/endpoints/{endpoint_id}/secret/rotate')).json()
    await sign_in(user, '/webhooks')
    line = f'endpoint-previous-{endpoint_id}'
    await wait_for_text_containing(user, line, 'The previous secret also signs until')
    assert f'{kept["previous_secret_expires_at"][:19].replace("T", " ")} UTC' in text_of(user, line)  # whole
    assert text_of(user, f'endpoint-secret-{endpoint_id}').startswith('whsec_•')
    assert kept['previous_secret'] not in text_of(user, f'endpoint-{endpoint_id}')


async def test_an_endpoint_grace_that_runs_out_is_no_longer_said_to_run(user: User, receivers: Any) -> None:
    endpoint_id = (await create_endpoint(user, receivers().url, ['execution.failed']))['id']
    rotate = f'/api/webhooks/endpoints/{endpoint_id}/secret/rotate?grace_seconds=6'
    assert (await api(user, 'POST', rotate)).json()['previous_secret_expires_at']
    await sign_in(user, '/webhooks')
    await click_when_shown(user, f'endpoint-reveal-{endpoint_id}')
    await wait_for_text_containing(user, f'endpoint-previous-{endpoint_id}', 'The previous secret also signs until')

    def gone() -> bool:  # (looked for anew each time: the list may be redrawn meanwhile)
        return shown_text(user, f'endpoint-previous-{endpoint_id}') is None

    await until(gone, 'the grace line to go once the grace has run out', timeout=30)


async def test_the_hidden_secret_still_says_that_a_grace_is_running(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    kept = (await api(user, 'POST', '/api/workflows/nightly/trigger/secret/rotate')).json()
    await sign_in(user, '/workflows/nightly')  # as after a reload: the secret hidden
    await wait_for_text_containing(user, 'trigger-previous', 'The previous secret also works until')
    assert kept['previous_secret_expires_at'][:16].replace('T', ' ') in text_of(user, 'trigger-previous')
    assert text_of(user, 'trigger-secret').startswith('whsec_•')
    assert kept['previous_secret'] not in text_of(user, 'workflow-automation')


async def test_a_grace_that_runs_out_is_no_longer_said_to_run(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    rotate = '/api/workflows/nightly/trigger/secret/rotate?grace_seconds=6'
    assert (await api(user, 'POST', rotate)).json()['previous_secret_expires_at']
    await sign_in(user, '/workflows/nightly')
    await wait_for_text_containing(user, 'trigger-previous', 'The previous secret also works until')
    (line,) = user.find(marker='trigger-previous').elements
    await until(lambda: not line.visible, 'the grace line to go once the grace has run out', timeout=30)


async def test_a_revealed_trigger_secret_follows_a_rotation_made_elsewhere(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(automation_panel, 'RECHECK_SECONDS', 0.0)
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await click_when_shown(user, 'trigger-reveal')
    first = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    await wait_for_text_containing(user, 'trigger-secret', first)
    rotated = (await api(user, 'POST', '/api/workflows/nightly/trigger/secret/rotate')).json()  # another tab
    await wait_for_text_containing(user, 'trigger-secret', rotated['secret'])
    await user.should_see('The trigger secret was rotated elsewhere: the new one is shown.')
    await wait_for_text_containing(user, 'trigger-previous', 'The previous secret also works until')


async def test_a_trigger_rotation_made_on_the_page_is_not_taken_for_one_made_elsewhere(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(automation_panel, 'RECHECK_SECONDS', 0.0)
    race = ReadAcrossRotation(monkeypatch, Automation, 'reveal_trigger_secret', 'rotate_trigger_secret')
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await click_when_shown(user, 'trigger-reveal')
    first = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    await wait_for_text_containing(user, 'trigger-secret', first)
    user.find(marker='trigger-rotate').click()
    await user.should_see(marker='confirm-rotate-ok')
    await race.rotate_from_the_dialog(user)
    await user.should_see('Secret rotated: the old one keeps working alongside the new one for 24 h.')
    assert race.read_done.is_set()
    rotated = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    assert rotated != first
    await wait_for_text_containing(user, 'trigger-secret', rotated)
    await user.should_not_see('rotated elsewhere')


async def test_two_rotations_asked_for_one_after_the_other_are_both_the_pages_own(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first rotation answers after the second has written: the re-read stands aside until both have answered."""
    monkeypatch.setattr(automation_panel, 'RECHECK_SECONDS', 0.0)
    real_rotate, real_tick = Automation.rotate_trigger_secret, automation_panel._TriggerSecret.tick
    rotations: list[str] = []
    second_written, second_may_answer = asyncio.Event(), asyncio.Event()
    ticks: list[int] = []

    async def rotate_(this: Any, key: str, grace_seconds: int | None = None) -> dict[str, Any]:
        rotations.append(key)
        if len(rotations) == 1:
            rotated = dict(await real_rotate(this, key, grace_seconds))
            await second_written.wait()  # the first answers late...
            return rotated
        rotated = dict(await real_rotate(this, key, grace_seconds))  # ...after the second has written
        second_written.set()
        await second_may_answer.wait()
        return rotated

    async def counted_tick(this: Any) -> None:
        ticks.append(1)
        await real_tick(this)

    monkeypatch.setattr(Automation, 'rotate_trigger_secret', rotate_)
    monkeypatch.setattr(automation_panel._TriggerSecret, 'tick', counted_tick)
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await click_when_shown(user, 'trigger-reveal')
    first = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    await wait_for_text_containing(user, 'trigger-secret', first)
    for count in (1, 2):
        user.find(marker='trigger-rotate').click()
        await click_when_shown(user, 'confirm-rotate-ok')
        await until(lambda count=count: len(rotations) == count, f'rotation {count} to be under way')
    await user.should_see('Secret rotated: the old one keeps working alongside the new one for 24 h.')  # the first
    seen = len(ticks)
    await until(lambda: len(ticks) >= seen + 2, 'two re-reads while the second rotation has not answered')
    second_may_answer.set()
    second = (await api(user, 'GET', '/api/workflows/nightly/trigger/secret')).json()['secret']
    await wait_for_text_containing(user, 'trigger-secret', second)
    await user.should_not_see('rotated elsewhere')


async def test_the_schedule_panel_follows_a_pause_made_elsewhere(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/nightly', SCHEDULED)).status_code in {200, 201}
    await sign_in(user, '/workflows/nightly')
    await wait_for_text_containing(user, 'schedule-next', '03:00:00')
    assert text_of(user, 'schedule-state') == 'active'
    assert (await api(user, 'POST', '/api/workflows/nightly/schedule/pause')).status_code == 200  # not by this page
    await wait_for_text_containing(user, 'schedule-state', 'paused')
    await wait_for_text_containing(user, 'schedule-next', 'none while paused')
    await user.should_see(marker='schedule-resume')
    assert (await api(user, 'POST', '/api/workflows/nightly/schedule/resume')).status_code == 200
    await wait_for_text_containing(user, 'schedule-state', 'active')
    await wait_for_text_containing(user, 'schedule-next', '03:00:00')
    await user.should_see(marker='schedule-pause')


async def test_workflow_without_trigger_or_schedule_shows_no_automation_panel(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker='workflow-name')
    await user.should_not_see(marker='workflow-automation')
