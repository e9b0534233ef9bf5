"""The dashboard in a real Chromium: the token link leaves no token in the address bar, the page connects its
socket (the connection badge turns online: JavaScript), every card renders a value, and the theme toggle switches
the page to dark. What the cards and lists show is tested in the user simulation (tests/ui)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import sign_in, start, wait_ended, wait_loaded
from playwright.sync_api import Page, expect

METRICS = ('active', 'queued', 'succeeded_today', 'failed_today', 'success_rate', 'avg_duration', 'p95_duration',
           'throughput')  # fmt: skip


# the colours the cascade gives (flowmon's rules against Quasar's !important utilities): the active tab in the primary
# colour, the other tabs and the header's buttons muted, a link, muted text (Quasar's text-grey-7)
COLOURS = """() => Object.fromEntries(Object.entries({
    active: '.fm-nav.fm-nav-active', tab: '.fm-nav:not(.fm-nav-active)', button: '.fm-header-btn',
    link: '.fm-link', muted: '.text-grey-7',
}).map(([name, selector]) => [name, getComputedStyle(document.querySelector(selector)).color]))"""
LIGHT_COLOURS = {
    'active': 'rgb(26, 95, 208)',  # theme.PRIMARY
    'tab': 'rgb(91, 98, 112)',  # --fm-muted
    'button': 'rgb(91, 98, 112)',
    'link': 'rgb(26, 95, 208)',
    'muted': 'rgb(91, 98, 112)',
}
DARK_COLOURS = {
    'active': 'rgb(96, 165, 250)',  # theme.PRIMARY_TEXT_DARK
    'tab': 'rgb(156, 163, 175)',
    'button': 'rgb(156, 163, 175)',
    'link': 'rgb(96, 165, 250)',
    'muted': 'rgb(156, 163, 175)',
}


def _colours(page: Page) -> dict[str, str]:
    return dict(page.evaluate(COLOURS))


@pytest.fixture(scope='module')
def finished_run(server: Any) -> str:
    """A finished run, so the dashboard shows a row."""
    wait_loaded(server, 'order-pipeline')
    execution_id = start(server, 'order-pipeline')
    wait_ended(server, execution_id)
    return execution_id


def test_the_dashboard_renders_connects_and_switches_theme(
    page: Page, server: Any, finished_run: str, shots: Path
) -> None:
    sign_in(page, server)
    assert page.url == f'{server.url}/'  # the token is not left in the address bar or the history
    for key in METRICS:
        card = page.get_by_test_id(f'metric-{key}')
        expect(card).to_be_visible()
        expect(card.locator('.fm-metric-value')).not_to_have_text('')
    expect(page.get_by_test_id('metric-succeeded_today').locator('.fm-metric-value')).to_have_text(re.compile(r'^\d'))
    expect(page.locator('[data-testid=execution-row]').first).to_be_visible()
    expect(page.get_by_test_id('connection')).to_have_attribute('data-state', 'online')
    assert _colours(page) == LIGHT_COLOURS
    page.screenshot(path=shots / 'dashboard-light.png', full_page=True)
    page.get_by_test_id('theme-toggle').click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    assert _colours(page) == DARK_COLOURS
    page.screenshot(path=shots / 'dashboard-dark.png', full_page=True)
    page.get_by_test_id('theme-toggle').click()  # leave the session's preference as it was
    page.wait_for_function("() => !document.body.classList.contains('body--dark')")
