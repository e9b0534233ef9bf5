"""The execution page in the user simulation: live rows, the inspector, cancel with confirmation, rerun,
executions that only the store still knows, and unknown ids."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User
from uisim import (
    api,
    log_lines,
    node_status,
    sign_in,
    start,
    text_of,
    wait_for_log_line,
    wait_for_path,
    wait_until_ended,
)

from flowmon.engine.runtime.projector import Projector
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.event_log import LogLines
from flowmon.web.widgets.node_list import NodeList

# Three nodes in a row; the middle one fails once, then succeeds on its second attempt.
FLAKY: dict[str, Any] = {
    'id': 'flaky',
    'name': 'Flaky pipeline',
    'nodes': [
        {'id': 'fetch', 'type': 'transform', 'name': 'Fetch', 'config': {'expression': '{order: `42`}'}},
        {
            'id': 'charge',
            'type': 'fail',
            'name': 'Charge card',
            'config': {'message': 'gateway timeout', 'times': 1},
            'retry': {'max_attempts': 3, 'backoff_seconds': 0.2},
        },
        {'id': 'ship', 'type': 'delay', 'name': 'Ship', 'config': {'seconds': 0.2}},
    ],
    'edges': [{'source': 'fetch', 'target': 'charge'}, {'source': 'charge', 'target': 'ship'}],
}


async def add_flaky(user: User) -> None:
    response = await api(user, 'PUT', '/api/workflows/flaky', FLAKY)
    assert response.status_code in (200, 201), response.text


async def wait_for_text(user: User, marker: str, expected: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            text: str | None = text_of(user, marker)
        except AssertionError:  # not on the page (yet)
            text = None
        if text == expected:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f'{marker} shows {text!r}, expected {expected!r}')
        await asyncio.sleep(0.05)


def row_detail(user: User, node_id: str) -> str:
    """The detail line (attempts, duration) of the node's row in the node list."""
    node_list = next(iter(user.find(marker='node-list').elements))
    assert isinstance(node_list, NodeList)
    return node_list.row_of(node_id)['detail']


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError('condition not met in time')
        await asyncio.sleep(0.02)


def click_node(user: User, node_id: str) -> None:
    """What the canvas emits when a node is clicked."""
    user.find(DagChart).trigger('node_click', node_id)


async def test_live_page_follows_the_execution_to_the_end(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='node-list')
    await wait_for_text(user, 'execution-status', 'succeeded')
    assert node_status(user, 'fetch') == 'succeeded'
    assert node_status(user, 'charge') == 'succeeded'
    assert '2 attempts' in row_detail(user, 'charge')
    assert text_of(user, 'progress-text') == '3 / 3 nodes'
    await wait_for_log_line(user, 'node.retrying')
    await wait_for_log_line(user, 'node.completed')
    await user.should_see(marker='rerun-execution')
    await user.should_not_see(marker='cancel-execution')


async def test_clicking_a_node_opens_the_inspector_with_its_attempts(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    click_node(user, 'charge')
    await user.should_see('Charge card', marker='inspector')
    await wait_for_text(user, 'inspector-status', 'succeeded')
    await user.should_see('gateway timeout', marker='inspector-attempts')  # attempt 1 failed with this error
    with user.scope(marker='inspector-attempts'):
        await user.should_see('#1')
        await user.should_see('#2')
        await user.should_see('retried')  # it failed, and attempt 2 followed
        await user.should_see('succeeded')
    await user.should_see(marker='rerun-from-node')
    await user.should_see('usually takes')  # a past run of the same workflow predicts the duration


async def test_a_click_on_a_node_row_opens_the_inspector_too(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    user.find(marker='node-list').trigger('select', 'ship')  # what the list emits for a click on a row
    await user.should_see('Ship', marker='inspector')
    await user.should_see('usually takes')  # the page's history query (for the ETA) has finished too


async def test_cancel_asks_first_and_then_cancels(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'running')

    await user.should_not_see(marker='keep-running')  # the dialog is built when it is first needed
    user.find(marker='cancel-execution').click()
    await user.should_see(marker='keep-running')
    keep_running = next(iter(user.find(marker='keep-running').elements))
    confirm = next(element for element in keep_running.ancestors() if isinstance(element, ui.dialog))
    await until(lambda: confirm.value)
    await user.should_see('Cancel this execution?')
    user.find(marker='keep-running').click()
    await until(lambda: not confirm.value)
    await asyncio.sleep(0.3)
    assert text_of(user, 'execution-status') == 'running'  # declining the dialog changed nothing

    user.find(marker='cancel-execution').click()
    await until(lambda: confirm.value)
    user.find(marker='confirm-cancel').click()
    await wait_for_text(user, 'execution-status', 'cancelled')
    await until(lambda: node_status(user, 'wait') == 'cancelled')
    await user.should_see(marker='rerun-execution')


async def test_rerun_opens_the_new_execution(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'quick')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    user.find(marker='rerun-execution').click()
    path = await wait_for_path(user, r'/executions/(?!' + execution_id + r')[^/]+')
    new_id = path.rsplit('/', 1)[1]
    summary = (await api(user, 'GET', f'/api/executions/{new_id}')).json()
    assert summary['retry_of'] == execution_id
    await user.should_see('Rerun of')


async def test_rerun_from_a_node_reuses_the_nodes_before_it(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    click_node(user, 'ship')
    user.find(marker='rerun-from-node').click()
    path = await wait_for_path(user, r'/executions/(?!' + execution_id + r')[^/]+')
    new_id = path.rsplit('/', 1)[1]
    await wait_until_ended(user, new_id)
    summary = (await api(user, 'GET', f'/api/executions/{new_id}')).json()
    assert summary['nodes']['fetch']['reused'] is True
    assert summary['nodes']['ship']['reused'] is False


async def test_an_execution_only_the_store_knows_is_drawn_from_its_events(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    # As after a restart: the live projection no longer holds the execution.
    monkeypatch.setattr(Projector, 'get', lambda self, _id: None)
    monkeypatch.setattr(Projector, 'recent_events', lambda self, _id, after_seq=0: None)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    assert node_status(user, 'charge') == 'succeeded'
    assert text_of(user, 'progress-text') == '3 / 3 nodes'
    await user.should_see('Flaky pipeline')
    await wait_for_log_line(user, 'node.completed')
    await wait_for_log_line(user, 'execution.completed')


async def test_an_imported_execution_offers_no_rerun_or_cancel(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    document = (await api(user, 'GET', f'/api/executions/{execution_id}/export')).json()
    response = await api(user, 'POST', '/api/executions/import', document)
    assert response.status_code == 201, response.text
    imported = response.json()['id']
    await user.open(f'/executions/{imported}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    await user.should_see(marker='read-only-note')
    await user.should_not_see(marker='rerun-execution')
    await user.should_not_see(marker='cancel-execution')
    click_node(user, 'ship')
    await user.should_see('Ship', marker='inspector')
    await wait_for_text(user, 'inspector-status', 'succeeded')
    await user.should_not_see(marker='rerun-from-node')
    # The original still has its Rerun button: only imported executions are read-only.
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    await user.should_see(marker='rerun-execution')


async def test_unknown_execution_says_not_found(user: User) -> None:
    await sign_in(user)
    await user.open('/executions/no-such-execution')
    await user.should_see(marker='execution-not-found')
    await user.should_see('Execution not found')


async def test_the_event_log_filters_by_node(user: User) -> None:
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_log_line(user, 'node.completed')
    node_filter = user.find(marker='event-node-filter').elements.pop()
    assert isinstance(node_filter, ui.select)
    assert list(node_filter.options) == ['']  # the node choices are offered only while the menu is open
    user.find(marker='event-node-filter').trigger('popupShow')
    await until(lambda: 'ship' in node_filter.options and 'charge' in node_filter.options)
    assert any('gateway timeout' in line for line in log_lines(user))
    node_filter.set_value('ship')
    user.find(marker='event-node-filter').trigger('popupHide')
    await until(lambda: list(node_filter.options) == ['', 'ship'])
    await until(lambda: all(' ship ' in f'{line} ' for line in log_lines(user)))
    lines = log_lines(user)
    assert lines, 'the log shows nothing for node ship'
    assert any('node.completed' in line for line in lines)
    assert not any('gateway timeout' in line for line in lines)
    node_filter.set_value('')
    await until(lambda: any('gateway timeout' in line for line in log_lines(user)))


STAGGERED: dict[str, Any] = {
    'id': 'staggered',
    'name': 'Twelve waits',
    'nodes': [{'id': f'w{i:02d}', 'type': 'delay', 'config': {'seconds': round(0.3 + i * 0.15, 2)}} for i in range(12)],
    'edges': [],
}


def record_run_method(monkeypatch: pytest.MonkeyPatch, element: type[ui.element]) -> list[tuple[str, tuple[Any, ...]]]:
    """Record every ``run_method`` call on elements of the class ``element`` (and still make it)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    real_run_method = element.run_method

    def record(self: ui.element, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((name, args))
        return real_run_method(self, name, *args, **kwargs)

    monkeypatch.setattr(element, 'run_method', record)
    return calls


async def start_staggered(user: User) -> str:
    """Sign in and start the twelve staggered waits; returns the execution id."""
    assert (await api(user, 'PUT', '/api/workflows/staggered', STAGGERED)).status_code in (200, 201)
    await sign_in(user)
    return await start(user, 'staggered')


async def test_the_canvas_and_the_list_receive_only_the_nodes_that_changed(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve nodes finishing one after another: after the first sync, each patch carries a few nodes, not all."""
    canvas_patches: list[dict[str, Any]] = []
    monkeypatch.setattr(DagChart, 'patch', lambda self, diff: canvas_patches.append(diff))
    list_calls = record_run_method(monkeypatch, NodeList)
    execution_id = await start_staggered(user)
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='node-list')
    assert not canvas_patches and not list_calls  # nothing is sent before the browser says it is ready
    user.find(DagChart).trigger('ready')
    user.find(marker='node-list').trigger('ready')
    await wait_for_text(user, 'execution-status', 'succeeded', timeout=10)
    await until(lambda: node_status(user, 'w11') == 'succeeded')
    await asyncio.sleep(0.3)  # the last tick's patches
    list_patches = [args[0] for name, args in list_calls if name == 'patch']

    canvas_nodes = [diff['nodes'] for diff in canvas_patches if 'nodes' in diff]
    assert len(canvas_nodes) >= 4, canvas_patches  # the waits end 150 ms apart: several ticks, several patches
    assert all(len(nodes) < 12 for nodes in canvas_nodes[1:]), [len(nodes) for nodes in canvas_nodes]
    last_item = {item['name']: item for nodes in canvas_nodes for item in nodes}
    assert {name: item.get('s') for name, item in last_item.items()} == {f'w{i:02d}': 'succeeded' for i in range(12)}

    assert len(list_patches) >= 4
    assert all(len(rows) < 12 for rows in list_patches[1:]), [len(rows) for rows in list_patches]
    last_row = {row['id']: row['status'] for rows in list_patches for row in rows}
    assert last_row == {f'w{i:02d}': 'succeeded' for i in range(12)}


async def test_the_event_log_receives_only_new_lines(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing before the browser is ready, then every line once, then only the lines each tick adds."""
    sent = record_run_method(monkeypatch, LogLines)
    execution_id = await start_staggered(user)
    await user.open(f'/executions/{execution_id}')
    await wait_for_log_line(user, 'node.started')
    assert not sent  # nothing is sent before the browser says it is ready
    user.find(marker='event-log').trigger('ready')
    await until(lambda: bool(sent))
    name, (lines, follow) = sent[0]
    assert name == 'reset' and follow is True
    assert len(lines) == len(log_lines(user))  # every line shown so far, once
    await wait_for_text(user, 'execution-status', 'succeeded', timeout=10)
    await asyncio.sleep(0.3)  # the last tick's lines

    appended = [args[0] for name, args in sent[1:] if name == 'append']
    assert len(appended) >= 4, [name for name, _ in sent]  # the waits end 150 ms apart: several ticks
    assert sum(len(lines) for lines in [sent[0][1][0], *appended]) == len(log_lines(user))
    assert 'execution.completed' in [cells[2] for cells in appended[-1]]


async def test_a_page_keeps_its_per_node_and_per_event_data_untracked(user: User) -> None:
    """The garbage collector walks every tracked object on each full collection, for every open tab: the
    canvas items, node rows and log lines a page keeps must be of the kinds CPython stops tracking."""
    execution_id = await start_staggered(user)
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    await wait_for_log_line(user, 'execution.completed')
    user.find(DagChart).trigger('ready')
    user.find(marker='node-list').trigger('ready')
    user.find(marker='event-log').trigger('ready')
    await asyncio.sleep(0.3)
    pages = [timer.callback.__self__ for timer in user.find(ui.timer).elements if hasattr(timer.callback, '__self__')]
    view = next(page.view for page in pages if hasattr(page, 'view'))
    for _ in range(3):  # contents first, then what holds them: each full collection untracks one level
        gc.collect()
    kept = {
        'canvas items': view.dag._items,
        'canvas item signatures': view.dag._item_signatures,
        'canvas as shown': view.dag._browser['nodes'],
        'node rows': view.node_list._rows,
        'node entries': view.node_list._entries,
        'node signatures': view.node_list._signatures,
        'log buffer': view.event_log._buffer,
        'log lines': view.event_log.box._lines,
    }
    assert len(view.dag._items) == 12 and len(view.event_log._buffer) > 24
    for what, container in kept.items():
        values = container.values() if isinstance(container, dict) else container
        tracked = [value for value in values if gc.is_tracked(value)]
        assert not tracked, f'{what}: {len(tracked)} tracked, e.g. {tracked[0]!r}'


async def test_a_closed_page_leaves_no_reference_cycles(user: User) -> None:
    """A deleted client's page is freed by reference counting, not left for a full collection to find: its
    widgets do not hold each other in cycles, and the elements' own cycles are released (flowmon.web.teardown)."""
    execution_id = await start_staggered(user)
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')
    await wait_for_log_line(user, 'execution.completed')
    gc.collect()
    client = user.client
    assert client is not None
    elements = len(client.elements)
    client.delete()
    await asyncio.sleep(0.05)  # the release runs right after the deletion
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        kinds = Counter(type(item).__qualname__ for item in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    widgets = {'_LivePage', 'ExecutionView', 'DagView', 'NodeList', 'EventLog', 'LogLines', 'Inspector', 'DagChart'}
    assert not {kind: kinds[kind] for kind in widgets if kinds[kind]}
    assert elements > 60
    assert kinds['Props'] < elements / 5, kinds.most_common(10)  # the client's own few, not one per element
    assert sum(kinds.values()) < 1500, kinds.most_common(10)
