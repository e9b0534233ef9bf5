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
    page.screenshot(path=shots / 'dashboard-light.png', full_page=True)
    page.get_by_test_id('theme-toggle').click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    page.screenshot(path=shots / 'dashboard-dark.png', full_page=True)
    page.get_by_test_id('theme-toggle').click()  # leave the session's preference as it was
    page.wait_for_function("() => !document.body.classList.contains('body--dark')")
