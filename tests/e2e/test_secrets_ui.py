"""``/secrets`` in a real Chromium: the value goes in through a password field and is nowhere in the DOM afterwards.

Adds a secret, checks the browser's document (markup and every input's live value) for the value, replaces it
through the dialog, then deletes it after the confirmation. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import wait_loaded
from playwright.sync_api import Page, expect

Api = Callable[..., httpx.Response]
NAME = 'e2e_partner_token'
FIRST, SECOND = 'e2e-first-value-51c9a7', 'e2e-second-value-0d83f2'
INPUT_VALUES = 'Array.from(document.querySelectorAll("input, textarea")).map(e => e.value).join("\\n")'


def _nowhere_in_the_page(page: Page, value: str) -> None:
    assert value not in page.content()
    assert value not in page.evaluate(INPUT_VALUES)


def test_add_replace_delete_with_values_never_in_the_dom(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    call_api('DELETE', f'/api/secrets/{NAME}')
    page.goto(f'/secrets?token={server.token}')
    expect(page.get_by_text('Stored secrets')).to_be_visible()

    value_field = page.locator('input[type=password]')
    expect(value_field).to_have_count(1)  # masked, no reveal toggle
    page.get_by_label('Name').fill(NAME)
    value_field.fill(FIRST)
    assert FIRST in page.evaluate(INPUT_VALUES)  # the check sees a value while it is in a field
    page.get_by_role('button', name='Save').click()
    expect(page.get_by_text(f"Secret '{NAME}' created.")).to_be_visible()
    row = page.locator(f'[data-secret-name="{NAME}"]')
    expect(row).to_be_visible()
    expect(value_field).to_have_value('')
    _nowhere_in_the_page(page, FIRST)
    page.screenshot(path=str(shots / 'secrets.png'), full_page=True)

    row.get_by_role('button', name='Replace').click()
    dialog_field = page.locator('.q-dialog input[type=password]')
    expect(dialog_field).to_be_visible()
    dialog_field.fill(SECOND)
    page.locator('.q-dialog').get_by_role('button', name='Replace').click()
    expect(page.get_by_text(f"Secret '{NAME}' replaced.")).to_be_visible()
    expect(page.locator('.q-dialog')).to_have_count(0)
    _nowhere_in_the_page(page, SECOND)
    _nowhere_in_the_page(page, FIRST)

    page.reload()
    expect(row).to_be_visible()
    _nowhere_in_the_page(page, SECOND)

    row.get_by_role('button', name='Delete').click()
    page.get_by_test_id('confirm-delete-ok').click()
    expect(page.get_by_text(f"Secret '{NAME}' deleted.")).to_be_visible()
    expect(row).to_have_count(0)
    assert NAME not in [item['name'] for item in call_api('GET', '/api/secrets').json()]


# The field's text as a script or a broken paste leaves it: "abc", half of a UTF-16 pair, "def" (Quasar takes the input
# event and sends the value)
HALF_PAIR = "e => { e.value = 'abc' + String.fromCharCode(0xd800) + 'def'; e.dispatchEvent(new Event('input')); }"


def test_a_lone_surrogate_in_a_field_is_refused_naming_the_field(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    """The browser's message held JSON's escape of it, which NiceGUI's decoder refused: the event was dropped with an
    error logged, and Save stored the secret's value as it was before ("abc"), saying "created"."""
    wait_loaded(server)
    logged = len(server.stderr)
    page.goto(f'/secrets?token={server.token}')
    page.get_by_label('Name').fill('e2e_half_pair')
    value_field = page.locator('input[type=password]')
    value_field.fill('abc')
    value_field.evaluate(HALF_PAIR)
    page.get_by_role('button', name='Save').click()
    refused = 'Could not save the secret: the value is not valid Unicode text (it holds a lone surrogate)'
    expect(page.locator('.q-notification').filter(has_text=refused)).to_be_visible()
    expect(value_field).to_have_value('')  # refused or saved, the value does not stay in the page
    page.screenshot(path=str(shots / 'secrets-lone-surrogate.png'), full_page=True)
    assert 'e2e_half_pair' not in [item['name'] for item in call_api('GET', '/api/secrets').json()]

    page.goto('/executions')
    page.get_by_test_id('save-view').click()
    page.get_by_label('Name').evaluate(HALF_PAIR)
    page.get_by_test_id('save-view-ok').click()
    refused = 'Could not save the view: name must not contain a lone surrogate'
    expect(page.locator('.q-notification').filter(has_text=refused)).to_be_visible()
    assert not [view for view in call_api('GET', '/api/views').json() if view['name'].startswith('abc')]
    assert 'surrogate' not in server.stderr[logged:]  # nothing failed to decode
