"""Replay and compare in Chromium: step through a finished execution and check the node list against the
API's state at each position, play at 4x, jump with the scrubber, compare two refund runs that took
different branches, and export an execution, import the file and replay the import."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

Server = Any  # the session server fixture of tests/e2e/conftest.py (url, token, ...)
POSITION = re.compile(r'event (\d+) / (\d+)')


def api(server: Server, method: str, path: str, json: Any = None) -> httpx.Response:
    headers = {'Authorization': f'Bearer {server.token}'}
    return httpx.request(method, f'{server.url}{path}', json=json, headers=headers, timeout=15.0)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, message: str = 'condition') -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'{message} not met within {timeout} s')
        time.sleep(0.1)


def sign_in(page: Page, server: Server) -> None:
    page.goto(f'/?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    wanted = {'order-pipeline', 'refund-approval'}
    wait_until(
        lambda: wanted <= {w['id'] for w in api(server, 'GET', '/api/workflows').json()}, message='workflows loaded'
    )


def run(server: Server, workflow_id: str, payload: dict[str, Any] | None = None) -> str:
    response = api(server, 'POST', f'/api/workflows/{workflow_id}/executions', json=payload or {})
    assert response.status_code == 202, response.text
    execution_id = str(response.json()['id'])
    wait_until(
        lambda: (
            api(server, 'GET', f'/api/executions/{execution_id}').json()['status']
            in {'succeeded', 'failed', 'cancelled', 'interrupted'}
        ),
        timeout=30,
        message=f'{execution_id} ending',
    )
    return execution_id


def position(page: Page) -> tuple[int, int]:
    match = POSITION.search(page.get_by_test_id('replay-position').inner_text())
    assert match, page.get_by_test_id('replay-position').inner_text()
    return int(match[1]), int(match[2])


def expect_position(page: Page, k: int) -> None:
    expect(page.get_by_test_id('replay-position')).to_contain_text(f'event {k} / ')


def api_statuses(server: Server, execution_id: str, k: int, node_ids: list[str]) -> dict[str, str]:
    body = api(server, 'GET', f'/api/executions/{execution_id}/state?at={k}').json()
    return {node_id: body['nodes'].get(node_id, {}).get('status', 'pending') for node_id in node_ids}


def page_statuses(page: Page, node_ids: list[str]) -> dict[str, str]:
    return {node_id: str(page.get_by_test_id(f'node-{node_id}').get_attribute('data-status')) for node_id in node_ids}


def expect_statuses(page: Page, expected: dict[str, str]) -> None:
    for node_id, status in expected.items():
        expect(page.get_by_test_id(f'node-{node_id}')).to_have_attribute('data-status', status)


def test_step_play_and_scrub_a_finished_execution(page: Page, server: Server, shots: Path) -> None:
    sign_in(page, server)
    execution_id = run(server, 'order-pipeline')
    node_ids = list(api(server, 'GET', f'/api/executions/{execution_id}').json()['nodes'])
    page.goto(f'/executions/{execution_id}/replay')
    expect_position(page, 0)
    n = position(page)[1]
    assert n > 12

    forward = page.get_by_role('button', name='Step forward')
    for k in range(1, 13):
        forward.click()
        expect_position(page, k)
        expect_statuses(page, api_statuses(server, execution_id, k, node_ids))
    back = page.get_by_role('button', name='Step back')
    for k in (11, 10):
        back.click()
        expect_position(page, k)
        expect_statuses(page, api_statuses(server, execution_id, k, node_ids))
    expect(page).to_have_url(re.compile(rf'/executions/{execution_id}/replay\?at=10$'))
    page.keyboard.press('ArrowRight')
    expect_position(page, 11)
    page.screenshot(path=str(shots / 'replay-midway.png'), full_page=True)

    page.get_by_role('button', name='Jump to start').click()
    expect_position(page, 0)
    page.get_by_test_id('replay-speed').click()
    page.get_by_role('option', name='4x').click()
    page.get_by_role('button', name='Play').click()
    expect(page.get_by_role('button', name='Pause')).to_be_visible()
    seen: list[int] = []
    wait_until(lambda: seen.append(position(page)[0]) is None and len(set(seen)) >= 3, message='position advancing')
    assert seen == sorted(seen) and seen[-1] > seen[0]
    expect_position(page, n)  # plays to the end (a ~1.5 s run at 4x) and stops there
    expect(page.get_by_role('button', name='Play')).to_be_visible()
    expect_statuses(page, api_statuses(server, execution_id, n, node_ids))

    slider = page.get_by_test_id('replay-slider')
    box = slider.bounding_box()
    assert box is not None
    page.mouse.click(box['x'] + box['width'] * 0.5, box['y'] + box['height'] / 2)
    wait_until(lambda: 0 < position(page)[0] < n, message='scrubber jump')
    k = position(page)[0]
    expect_statuses(page, api_statuses(server, execution_id, k, node_ids))
    expect(page).to_have_url(re.compile(rf'\?at={k}$'))

    page.reload()  # the URL carries the position
    expect_position(page, k)


def test_compare_two_refunds_names_the_first_divergence(page: Page, server: Server, shots: Path) -> None:
    sign_in(page, server)
    small = run(server, 'refund-approval', {'input': {'amount': 50}})
    large = run(server, 'refund-approval', {'input': {'amount': 500}})
    page.goto(f'/compare?a={small}&b={large}')
    banner = page.get_by_test_id('first-divergence')
    expect(banner).to_contain_text('First divergence:')
    expect(banner).to_contain_text('load_request')
    expect(banner).to_have_attribute('data-node', 'load_request')
    page.get_by_role('button', name='Jump to end').click()
    expect(page.get_by_test_id('diff-manager_review')).to_have_attribute('data-differs', 'yes')
    expect(page.get_by_test_id('diff-auto_approve')).to_have_attribute('data-differs', 'yes')
    page.mouse.move(0, 0)  # no tooltip in the picture
    page.wait_for_timeout(400)  # the slider glides to its new place
    page.screenshot(path=str(shots / 'compare.png'), full_page=True)
    page.get_by_test_id('diff-load_request').click()
    expect(page.get_by_test_id('json-diff')).to_contain_text('500')
    page.wait_for_timeout(400)  # the dialog's opening transition
    page.screenshot(path=str(shots / 'compare-json-diff.png'))

    page.goto(f'/compare?a={small}&b=no-such-run')
    expect(page.get_by_test_id('compare-problem')).to_contain_text("Execution B ('no-such-run') not found.")


def test_export_import_and_replay_the_import(page: Page, server: Server, tmp_path: Path, shots: Path) -> None:
    sign_in(page, server)
    execution_id = run(server, 'refund-approval', {'input': {'amount': 250}})
    page.goto(f'/executions/{execution_id}')
    with page.expect_download() as download_info:
        page.get_by_test_id('export-execution').click()
    exported = tmp_path / 'export.json'
    download_info.value.save_as(exported)
    document = json.loads(exported.read_text(encoding='utf-8'))
    assert document['format'] == 'flowmon.execution' and document['execution']['id'] == execution_id

    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": "nope"}', encoding='utf-8')
    page.goto('/executions')
    page.get_by_test_id('import-execution').click()
    page.locator('[data-testid=import-upload] input[type=file]').set_input_files(bad)
    expect(page.get_by_text('bad.json cannot be imported: not a flowmon execution export')).to_be_visible()
    page.locator('[data-testid=import-upload] input[type=file]').set_input_files(exported)
    expect(page).to_have_url(re.compile(r'/executions/[^/?]+/replay'), timeout=10_000)
    new_id = page.url.split('/executions/')[1].split('/')[0]
    assert new_id != execution_id
    page.get_by_role('button', name='Jump to end').click()
    expect(page.get_by_test_id('execution-status')).to_have_text('succeeded')
    expect(page.get_by_test_id('node-manager_review')).to_have_attribute('data-status', 'succeeded')
    expect(page.get_by_test_id('node-auto_approve')).to_have_attribute('data-status', 'skipped')
    original = api(server, 'GET', f'/api/executions/{execution_id}/state').json()['nodes']
    imported = api(server, 'GET', f'/api/executions/{new_id}/state').json()['nodes']
    assert {k: v['status'] for k, v in original.items()} == {k: v['status'] for k, v in imported.items()}


def test_replay_in_dark_mode(page: Page, server: Server, shots: Path) -> None:
    sign_in(page, server)
    execution_id = run(server, 'order-pipeline')
    page.get_by_test_id('theme-toggle').click()
    page.goto(f'/executions/{execution_id}/replay?at=20')
    expect_position(page, 20)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / 'replay-midway-dark.png'), full_page=True)
    page.get_by_test_id('theme-toggle').click()  # leave the session's preference as it was
