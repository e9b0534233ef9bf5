"""The DAG canvas draws on a page where it is the only element: its JavaScript's imports (ECharts, flowmon's shared
modules) are declared by the canvas, not brought by some other element of the app."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stalls
from flowmon_process import STARTUP_TIMEOUT_S, free_port, stop_process
from helpers import wait_for
from playwright.sync_api import Browser, expect

HERE = Path(__file__).resolve().parent


@pytest.fixture
def canvas_url() -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'} | {'CANVAS_PORT': str(port)}
    process = subprocess.Popen(
        [sys.executable, str(HERE / 'canvas_page.py')],
        cwd=HERE.parents[1],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f'http://127.0.0.1:{port}'

    def up() -> bool:
        assert process.poll() is None, f'the canvas page exited with {process.returncode}'
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 'the canvas page to start', timeout=STARTUP_TIMEOUT_S)  # as long as flowmon's own start
        stalls.watch(process)
        yield url
    finally:
        stop_process(process)


def test_a_page_with_only_the_canvas_draws_it(browser: Browser, canvas_url: str, shots: Path) -> None:
    page = browser.new_context(viewport={'width': 900, 'height': 400}).new_page()  # (its context goes with the browser)
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.goto(canvas_url)
    canvas = page.get_by_test_id('dag-canvas')
    expect(canvas.locator('svg text', has_text='Fetch')).to_be_visible()
    expect(canvas.locator('svg text', has_text='Store')).to_be_visible()
    expect(page.locator('.fm-edges path.c')).to_have_count(1)  # the edge data has passed along is drawn solid
    assert page.locator('.nicegui-echart').count() == 0  # no ui.echart on the page
    page.screenshot(path=str(shots / 'canvas-alone.png'))
    assert errors == []
    page.close()
