"""Two flowmon processes on one PostgreSQL database, in Chromium: the execution page of one process shows a run of
the other live, node by node, and its Cancel button stops that run where it runs."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowmon_process import stop_process
from helpers import sign_in, wait_for
from playwright.sync_api import Browser, Page, expect
from postgres_support import create_database_now, drop_database_now
from webhook_receiver import Receiver, Reply

GATE = threading.Event()  # step2 of `steps` runs until the test opens it: the page sees it running, however slow


def steps(gate_url: str) -> dict[str, Any]:
    delay = {'type': 'delay', 'config': {'seconds': 0.2}}
    return {
        'id': 'steps',
        'name': 'Steps',
        'nodes': [
            {'id': 'step0', **delay},
            {'id': 'step1', **delay},
            {'id': 'step2', 'type': 'http', 'config': {'url': gate_url, 'timeout_seconds': 90}},
            {'id': 'step3', **delay},
        ],
        'edges': [{'source': f'step{n}', 'target': f'step{n + 1}'} for n in range(3)],
    }


def _through_the_gate(_: int) -> Reply:
    GATE.wait(60)
    return Reply()


SLOW = {'id': 'slow', 'name': 'Slow', 'nodes': [{'id': 'wait', 'type': 'delay', 'config': {'seconds': 60}}]}
STATUSES = """
window.__seen = [];
new MutationObserver(() => {
  const row = document.querySelector('[data-testid="node-step2"]');
  const status = row && row.getAttribute('data-status');
  if (status && window.__seen[window.__seen.length - 1] !== status) window.__seen.push(status);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status']});
"""


Server = Any  # the Server of tests/e2e/conftest.py: a FlowmonProcess (url, token, process)


@pytest.fixture(scope='module')
def pair(postgres_server: str, launch_servers: Callable[..., Server]) -> Iterator[tuple[Server, Server]]:
    """Processes a and b on one fresh PostgreSQL database, each with a data directory of its own."""
    url = create_database_now(postgres_server)
    GATE.clear()  # closed until the test opens it (a rerun in this process finds it closed again)
    gate = Receiver(_through_the_gate).start()
    workflows = Path(tempfile.mkdtemp(prefix='flowmon-e2e-workflows-'))
    for workflow in (steps(gate.url), SLOW):
        (workflows / f'{workflow["id"]}.json').write_text(json.dumps(workflow))
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    shared = {
        'FLOWMON_DATABASE_URL': url,
        'FLOWMON_SECRET_KEY': key,
        'FLOWMON_WORKFLOWS_DIR': str(workflows),
        'FLOWMON_OUTBOUND_ALLOW': '127.0.0.1',  # the gate
    }
    servers: list[Server] = []
    try:
        servers.append(launch_servers(**shared))
        servers.append(launch_servers(**shared))
        yield servers[0], servers[1]
    finally:
        GATE.set()
        gate.stop()
        for server in servers:  # before their database goes (launch_servers would stop them only after)
            stop_process(server.process)
        drop_database_now(url)


def api(server: Server, method: str, path: str) -> Any:
    response = httpx.request(method, f'{server.url}{path}', headers={'Authorization': f'Bearer {server.token}'})
    assert response.status_code in (200, 202), response.text
    return response.json()


def _statuses(server: Server, execution_id: str) -> dict[str, str]:
    summary = api(server, 'GET', f'/api/executions/{execution_id}')
    return {'execution': summary['status'], **{node: view['status'] for node, view in summary['nodes'].items()}}


def start(server: Server, workflow_id: str) -> str:
    return str(api(server, 'POST', f'/api/workflows/{workflow_id}/executions')['id'])


def test_the_page_of_one_process_shows_a_run_of_the_other_live(browser: Browser, pair: tuple[Server, Server]) -> None:
    a, b = pair
    context = browser.new_context(base_url=b.url, viewport={'width': 1400, 'height': 900})
    page: Page = context.new_page()
    try:
        sign_in(page, b)
        page.add_init_script(STATUSES)
        execution_id = start(a, 'steps')  # runs in a
        page.goto(f'/executions/{execution_id}')  # watched in b
        wait_for(
            lambda: _statuses(a, execution_id).get('step2') == 'running',
            'step2 running in a',
            seen=lambda: _statuses(a, execution_id),
        )
        row = page.get_by_test_id('node-step2')
        try:
            expect(row).to_contain_text('running', ignore_case=True, timeout=15_000)
        except AssertionError as exc:  # say what b's API holds of it (the page's source) beside what the page shows
            raise AssertionError(f'{exc}\nb: {_statuses(b, execution_id)}, a: {_statuses(a, execution_id)}') from None
        GATE.set()
        expect(page.get_by_test_id('execution-status')).to_have_text('succeeded', timeout=15_000)
        # the node list is patched by its own component, apart from the status label: it may end a moment later
        expect(row).to_have_attribute('data-status', 'succeeded', timeout=10_000)
        seen = page.evaluate('window.__seen')
        assert 'running' in seen and seen[-1] == 'succeeded', seen
    finally:
        context.close()


def test_cancel_on_the_page_of_one_process_stops_the_run_in_the_other(
    browser: Browser, pair: tuple[Server, Server]
) -> None:
    a, b = pair
    context = browser.new_context(base_url=b.url, viewport={'width': 1400, 'height': 900})
    page: Page = context.new_page()
    try:
        sign_in(page, b)
        execution_id = start(a, 'slow')
        page.goto(f'/executions/{execution_id}')
        expect(page.get_by_test_id('node-wait')).to_contain_text('running', ignore_case=True, timeout=10_000)
        page.get_by_test_id('cancel-execution').click()
        page.get_by_test_id('confirm-cancel').click()
        wait_for(
            lambda: api(a, 'GET', f'/api/executions/{execution_id}')['status'] == 'cancelled',
            'the run in a cancelled from the page of b',
            timeout=20,  # a wait, not a latency figure (bench/postgres.py measures that): CI's two cores are busy
        )
        expect(page.get_by_test_id('execution-status')).to_have_text('cancelled', timeout=15_000)
    finally:
        context.close()
