"""End-to-end fixtures: a real flowmon server process driven by Debian Chromium through sync Playwright.

Run these in their own pytest process (``pytest -m e2e tests/e2e``): sync Playwright cannot share a
process with the asyncio-based tests. The app under test runs as a process of its own, ``app.py`` run as
``__main__`` as a user starts it, here a copy of a process that has done its imports already (tests/flowmon_process.py,
tests/preloaded.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stalls
from chromium import HEADLESS_SHELL_ARGS, headless_shell_path
from flowmon_process import REPO_ROOT, FlowmonProcess, spawn, stop_process
from helpers import api
from playwright.sync_api import Browser, BrowserContext, Keyboard, Locator, Mouse, Page, expect, sync_playwright

TOKEN = 'e2e-token-0123456789'
# Every page is opened as by a visitor whose browser asks for less motion (prefers-reduced-motion): the live canvas's
# ripple and flowing dots (which redraw its SVG every frame, 60 times a second) and the status badge's pulse keep
# still. Headless Chromium draws without a GPU, and a live page's effects took most of a core while it was open:
# about half of the browser tests' CPU. The effects themselves are tested with motion
# (test_execution_live.py::test_the_canvas_keeps_still_for_a_visitor_who_asks_for_less_motion).
REDUCED_MOTION = 'reduce'
# what the pages of the running test said (NiceGUI logs why it reloads) and where they went: a failed test's report
# ends with it. Every page of every context the session's browser makes is watched (see browser()).
CONSOLE: deque[str] = deque(maxlen=200)
# Playwright's expectations wait 5 s unless told: a page's answer to a click (a round trip to the server, then the
# render) took longer than that on a loaded machine (an inspector after a canvas click, at a load of 13); a
# condition that holds returns at once, so only a failing test pays for the longer wait
expect.set_options(timeout=10_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an e2e test."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


Server = FlowmonProcess  # what the e2e tests know as the server: url, token, process, logs()


@pytest.fixture(scope='session')
def server() -> Iterator[FlowmonProcess]:
    """One flowmon for the whole e2e run, with the shipped example workflows; its log is kept in test-output."""
    tmp = Path(tempfile.mkdtemp(prefix='flowmon-e2e-'))
    flowmon = spawn(
        tmp,
        tmp / 'data',
        'server',
        FLOWMON_TOKEN=TOKEN,
        # loopback receivers started by a test are allowed; three attempts half a second apart
        FLOWMON_OUTBOUND_ALLOW='127.0.0.1',
        FLOWMON_WEBHOOK_RETRY_SCHEDULE='0,0.5,0.5',
        FLOWMON_WEBHOOK_JITTER='0',
    )
    try:
        flowmon.wait_started(token=TOKEN)
        yield flowmon
    finally:
        stop_process(flowmon.process)
        out = REPO_ROOT / 'test-output'  # where CI output can point at it
        out.mkdir(exist_ok=True)
        name = f'e2e-server-{os.environ.get("PYTEST_XDIST_WORKER", "main")}'  # one server per pytest worker
        shutil.copyfile(flowmon.stdout_path, out / f'{name}.log')
        shutil.copyfile(flowmon.stderr_path, out / f'{name}.err')
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def launch_servers(request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """``launch_servers(**env_overrides)``: more flowmon processes, started when returned; stopped after the module."""
    tmp = Path(tempfile.mkdtemp(prefix='flowmon-e2e-more-'))
    started: list[Server] = []

    def launch(**overrides: str) -> Server:
        directory = tmp / str(len(started))
        directory.mkdir()
        flowmon = spawn(directory, directory / 'data', 'server', FLOWMON_TOKEN=TOKEN, **overrides)
        started.append(flowmon)
        flowmon.wait_started(token=TOKEN)
        return flowmon

    try:
        yield launch
    finally:
        out = REPO_ROOT / 'test-output'  # their logs too, where CI output can point at them
        out.mkdir(exist_ok=True)
        for n, flowmon in enumerate(started):
            stop_process(flowmon.process)
            name = f'e2e-{Path(request.module.__file__).stem}-{n}'
            shutil.copyfile(flowmon.stdout_path, out / f'{name}.log')
            shutil.copyfile(flowmon.stderr_path, out / f'{name}.err')
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='session')
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=headless_shell_path(),
            args=HEADLESS_SHELL_ARGS,
        )
        new_context = chromium.new_context

        def watched_context(*args: Any, **kwargs: Any) -> BrowserContext:
            # the pages keep still (see REDUCED_MOTION) unless a test asks for motion
            context = new_context(*args, **{'reduced_motion': REDUCED_MOTION, **kwargs})
            context.on('page', _watch)
            return context

        chromium.new_context = watched_context  # type: ignore[method-assign]
        try:
            with stalls.stalling_browser():
                yield chromium
        finally:
            chromium.close()


def _watch(page: Page) -> None:
    def note(text: str) -> None:
        CONSOLE.append(f'{time.strftime("%H:%M:%S")} {text}')

    page.on('console', lambda message: note(f'{message.type}: {message.text}'))
    page.on('framenavigated', lambda frame: frame == page.main_frame and note(f'navigated: {frame.url}'))


@pytest.fixture(autouse=True)
def _console_per_test() -> None:
    CONSOLE.clear()


# what a test does to a page; with FLOWMON_STALL=click each stops the flowmon processes for a moment first
ACTIONS = {
    Locator: ('click', 'dblclick', 'check', 'uncheck', 'fill', 'press', 'select_option', 'set_input_files', 'tap'),
    Page: ('click', 'goto', 'reload', 'go_back', 'go_forward'),
    Mouse: ('click', 'dblclick', 'up', 'wheel'),
    Keyboard: ('press', 'type', 'insert_text'),
}


def pytest_configure(config: pytest.Config) -> None:
    try:
        stalls.modes()
        stalls.seed()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str | None:
    chosen = stalls.modes()
    return f'stall chaos: {", ".join(sorted(chosen))}, seed {stalls.seed()}' if chosen else None


@pytest.fixture(autouse=True, scope='session')
def _stall_at_actions() -> Iterator[None]:
    """With ``FLOWMON_STALL=click`` (tests/stalls.py), every action on a page meets the servers stopped."""
    if 'click' not in stalls.modes():
        yield
        return
    originals = [(cls, name, getattr(cls, name)) for cls, names in ACTIONS.items() for name in names]

    def stalling(original: Callable[..., Any]) -> Callable[..., Any]:
        def acting(*args: Any, **kwargs: Any) -> Any:
            stalls.pause_servers()
            return original(*args, **kwargs)

        return acting

    for cls, name, original in originals:
        setattr(cls, name, stalling(original))
    try:
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope='session')
def shots() -> Path:
    directory = REPO_ROOT / 'test-output' / 'screenshots'
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def call_api(server: Server) -> Callable[..., httpx.Response]:
    """``call_api('POST', '/api/...', json={...})``: :func:`api` bound to the session server."""

    def call(method: str, path: str, json: Any = None) -> httpx.Response:
        return api(server, method, path, json=json)

    return call


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report ends with the tail of the log of each flowmon process it used (the session server, a
    pair of them...) and of its page's console and navigations: what the servers and the browser were doing then."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != 'call' or not report.failed:
        return
    for name, value in getattr(item, 'funcargs', {}).items():
        processes = value if isinstance(value, (tuple, list)) else (value,)
        for n, flowmon in enumerate(p for p in processes if isinstance(p, FlowmonProcess)):
            label = name if len(processes) == 1 else f'{name}[{n}]'
            report.sections.append((f'flowmon log of {label} (port {flowmon.port}), last 40 lines', flowmon.logs(40)))
            stopped = stalls.stalls_of(flowmon.process)
            if stopped:
                listed = ', '.join(f'{stall.at} for {stall.seconds} s' for stall in stopped[-15:])
                report.sections.append((f'stalls of {label}, last 15 (seed {stalls.seed()})', listed))
    if CONSOLE:
        report.sections.append(('browser console and navigations, last 40 lines', '\n'.join(list(CONSOLE)[-40:])))
