"""Webhook endpoints created on ``/webhooks`` in a real Chromium: the dialog's field errors are visible (Quasar draws
them), an endpoint made with it appears in the list, and its test event's outcome shows in its row: the action
outlives the redraw of the list it started (the user simulation does not see a notify that a real page cannot
send)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import Receiver, sign_in, wait_for, wait_loaded
from playwright.sync_api import Page, expect

Api = Callable[..., httpx.Response]


def test_create_an_endpoint_in_the_dialog_and_send_it_a_test_event(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    wait_loaded(server)
    receiver = Receiver().start()
    try:
        sign_in(page, server, '/webhooks')
        page.get_by_role('button', name='New endpoint').click()
        dialog = page.locator('.q-dialog')
        expect(dialog.get_by_text('New endpoint')).to_be_visible()
        dialog.get_by_role('button', name='Create').click()
        expect(dialog.locator('.q-field--error').first).to_be_visible()  # the URL field says what is wrong
        missing = page.get_by_text('enter the URL the events are sent to')
        expect(dialog.get_by_text('enter the URL the events are sent to')).to_be_visible()
        expect(missing).to_have_count(1)  # at the field only: not again under the fields nor in a notification
        page.screenshot(path=str(shots / 'webhook-endpoint-dialog-errors.png'))

        dialog.get_by_label('URL').fill(receiver.url)
        dialog.get_by_label('Name (optional)').fill('E2E dialog endpoint')
        dialog.get_by_role('button', name='Create').click()
        expect(page.get_by_text('Endpoint created')).to_be_visible()
        created = wait_for(
            lambda: [e for e in call_api('GET', '/api/webhooks/endpoints').json() if e['url'] == receiver.url],
            'the endpoint made in the dialog',
        )[0]
        row = page.locator(f'[data-endpoint-id="{created["id"]}"]')
        expect(row).to_contain_text('E2E dialog endpoint')
        expect(row).to_contain_text('execution.failed')
        try:
            row.get_by_role('button', name='Send test event').click()
            expect(row.get_by_text('Test event delivered: HTTP 200.')).to_be_visible(timeout=15_000)
            assert len(receiver.hits) == 1 and b'webhook.test' in receiver.hits[0].body
            page.screenshot(path=str(shots / 'webhook-endpoint-tested.png'), full_page=True)
        finally:
            call_api('DELETE', f'/api/webhooks/endpoints/{created["id"]}')
    finally:
        receiver.stop()


def test_a_name_holding_a_lone_surrogate_is_refused_at_its_field(page: Page, server: Any, call_api: Api) -> None:
    """The refusal is set beside the field, which keeps the text: the update holding both failed to go out (with
    every other update of that moment) while NiceGUI's encoder refused the surrogate, and the page showed nothing."""
    wait_loaded(server)
    logged = len(server.stderr)
    sign_in(page, server, '/webhooks')
    page.get_by_role('button', name='New endpoint').click()
    dialog = page.locator('.q-dialog')
    dialog.get_by_label('URL').fill('https://hooks.example.com/half-pair')
    name = dialog.get_by_label('Name (optional)')
    name.fill('Ops')
    name.evaluate("e => { e.value = 'Ops' + String.fromCharCode(0xd800); e.dispatchEvent(new Event('input')); }")
    dialog.get_by_role('button', name='Create').click()
    expect(dialog.get_by_role('alert')).to_contain_text('a lone surrogate')  # at the field, in flowmon's words
    assert name.input_value() == 'Ops\ud800'  # the field keeps what was typed
    assert not [e for e in call_api('GET', '/api/webhooks/endpoints').json() if e['url'].endswith('/half-pair')]
    assert 'surrogate' not in server.stderr[logged:]
