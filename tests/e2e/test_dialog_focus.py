"""Dialogs in a real Chromium: focus moves into a dialog when it opens and back to the control that opened it when it
closes (a keyboard or screen-reader user otherwise starts again from the top of the page)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import Server, sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Locator, Page, expect

Api = Callable[..., httpx.Response]
NAME = 'e2e_focus_secret'


def secrets_page(page: Page, server: Any, call_api: Api, name: str, action: str) -> Locator:
    """The secrets page with the secret ``name`` stored; its button ``action`` (Replace, Delete), shown."""
    wait_loaded(server)
    call_api('PUT', f'/api/secrets/{name}', {'value': 'first-value-0123'})
    page.goto(f'/secrets?token={server.token}')
    button = page.get_by_role('button', name=f'{action} secret {name}')
    expect(button).to_be_visible()
    return button


def test_dialogs_take_focus_and_give_it_back(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    replace = secrets_page(page, server, call_api, NAME, 'Replace')

    replace.focus()
    page.keyboard.press('Enter')
    field = page.locator('.q-dialog input[type=password]')
    expect(field).to_be_visible()
    expect(field).to_be_focused()  # the dialog's one field: type at once
    page.screenshot(path=str(shots / 'dialog-focus-replace.png'))
    page.keyboard.press('Escape')
    expect(page.locator('.q-dialog')).to_have_count(0)
    expect(replace).to_be_focused()

    replace.focus()
    page.keyboard.press('Enter')
    expect(field).to_be_focused()
    field.fill('second-value-0123')
    page.keyboard.press('Tab')
    page.keyboard.press('Tab')  # Cancel, then Replace
    page.keyboard.press('Enter')
    expect(page.get_by_text(f"Secret '{NAME}' replaced.")).to_be_visible()
    expect(page.locator('.q-dialog')).to_have_count(0)
    expect(page.get_by_role('button', name=f'Replace secret {NAME}')).to_be_focused()

    delete = page.get_by_role('button', name=f'Delete secret {NAME}')
    delete.focus()
    page.keyboard.press('Enter')
    expect(page.locator('.q-dialog')).to_be_visible()
    page.locator('.q-dialog').get_by_role('button', name='Cancel').click()
    expect(page.locator('.q-dialog')).to_have_count(0)
    expect(delete).to_be_focused()

    page.keyboard.press('?')
    expect(page.get_by_text('Keyboard shortcuts')).to_be_visible()
    page.keyboard.press('Escape')
    expect(page.get_by_text('Keyboard shortcuts')).to_be_hidden()
    expect(delete).to_be_focused()


def test_a_dialog_tabbed_round_still_gives_focus_back(page: Page, server: Any, call_api: Api) -> None:
    """Tab past a dialog's last control wraps round (through the page once, in Chromium): the control that opened
    the dialog is still the one focus goes back to, not whatever the wrap passed over."""
    delete = secrets_page(page, server, call_api, f'{NAME}_wrap', 'Delete')
    delete.focus()
    page.keyboard.press('Enter')
    expect(page.locator('.q-dialog')).to_be_visible()
    for _ in range(6):
        page.keyboard.press('Tab')
    page.keyboard.press('Escape')
    expect(page.locator('.q-dialog')).to_have_count(0)
    expect(delete).to_be_focused()


def test_the_seamless_inspector_leaves_the_page_reachable(page: Page, server: Server) -> None:
    """The node inspector is a seamless dialog beside the page: focus moves to the page's controls while it is open
    (the modal dialogs' trap pulled every focus into it)."""
    execution_id = start(server, 'order-pipeline')
    assert wait_ended(server, execution_id)['status'] == 'succeeded'
    sign_in(page, server, f'/executions/{execution_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('succeeded', timeout=10_000)
    page.get_by_test_id('node-ship_order').click()
    expect(page.get_by_test_id('inspector')).to_be_visible()
    expect(page.locator('.q-dialog--seamless')).to_have_count(1)
    # it takes focus as it opens, as a dialog does (a tick after it shows): moved away before that, focus came back
    page.wait_for_function('() => !!document.activeElement?.closest(".q-dialog")')
    control = page.locator('header button').first
    control.focus()
    expect(control).to_be_focused()
    page.keyboard.press('Tab')  # on through the page, not back into the inspector
    assert not page.evaluate('() => !!document.activeElement.closest(".q-dialog")'), 'focus went into the inspector'
    assert page.evaluate('() => document.activeElement !== document.body'), 'focus was lost'
    page.keyboard.press('?')  # the page's shortcuts work beside it
    expect(page.get_by_text('Keyboard shortcuts')).to_be_visible(timeout=10_000)
    page.keyboard.press('?')  # a modal dialog holds the keys: no second one
    expect(page.get_by_text('Keyboard shortcuts')).to_have_count(1)
