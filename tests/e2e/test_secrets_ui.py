"""``/secrets`` in a real Chromium: the value goes in through a password field and is nowhere in the DOM afterwards.

Adds a secret, checks the browser's document (markup and every input's live value) for the value, replaces it
through the dialog, then deletes it after the confirmation. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import dialog_reads_whole, wait_loaded
from playwright.sync_api import Browser, Page, expect

Api = Callable[..., httpx.Response]
NAME = 'e2e_partner_token'
FIRST, SECOND = 'e2e-first-value-51c9a7', 'e2e-second-value-0d83f2'
INPUT_VALUES = 'Array.from(document.querySelectorAll("input, textarea")).map(e => e.value).join("\\n")'
# A button label's font size in px and the lines it takes
TEXT_SIZE = """e => { const range = document.createRange(); range.selectNodeContents(e);
 const lines = new Set([...range.getClientRects()].map(c => Math.round(c.top)));
 return [parseFloat(getComputedStyle(e).fontSize), lines.size]; }"""


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
    for button in ('Replace', 'Delete'):  # the 14 px of the app's buttons (Quasar's small size made them 10 px)
        assert row.get_by_role('button', name=button).locator('.block').evaluate(TEXT_SIZE) == [14, 1], button
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


LONG_NAME = 'e2e_partner_api_token_for_the_eu_region_production_primary_v2'  # 62 characters, no space to wrap at
NAMES = (LONG_NAME, 'e2e_partner_token', 'e2e_partner_url')
# How much of a name is hidden: [cut (scrollWidth - clientWidth), px past the right edge of its row]
PAST_THE_ROW = """(e, row) => [e.scrollWidth - e.clientWidth,
 Math.round(e.getBoundingClientRect().right - row.getBoundingClientRect().right)]"""


def test_on_a_phone_a_secrets_name_is_read_whole_in_the_list_and_its_dialogs(
    browser: Browser, server: Any, call_api: Api, shots: Path
) -> None:
    """Two names that start alike were both cut to 'e2e_part…' in the list, and a long one ran out of the Delete
    dialog (and the Replace dialog's title) past the screen's edge: which secret a question was about could not be
    read."""
    wait_loaded(server)
    for name in NAMES:
        assert call_api('PUT', f'/api/secrets/{name}', {'value': 'v'}).status_code in (200, 201)
    context = browser.new_context(base_url=server.url, viewport={'width': 390, 'height': 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f'/secrets?token={server.token}')
        for name in NAMES:
            row = page.locator(f'[data-secret-name="{name}"]')
            label = row.locator('.fm-mono')
            expect(label).to_have_text(name)
            cut, past = label.evaluate(PAST_THE_ROW, row.element_handle())
            assert cut <= 0 and past <= 0, (name, 'cut or past its row', cut, past)
            # Replace and Delete: 12 px text on one line (Quasar's small size made them 10 px)
            for button in ('Replace', 'Delete'):
                size, lines = row.get_by_role('button', name=button).locator('.block').evaluate(TEXT_SIZE)
                assert (size, lines) == (12, 1), (name, button, size, lines)
        page.screenshot(path=str(shots / 'narrow-secrets-long-name.png'), full_page=True)

        row = page.locator(f'[data-secret-name="{LONG_NAME}"]')
        for button in ('Delete', 'Replace'):
            row.get_by_role('button', name=button).click()
            dialog_reads_whole(page, LONG_NAME, str(shots / f'narrow-secret-{button.lower()}-dialog.png'))
    finally:
        context.close()
        for name in NAMES:
            call_api('DELETE', f'/api/secrets/{name}')
