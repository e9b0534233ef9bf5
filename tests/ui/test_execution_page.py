"""The execution page in the user simulation: live rows, the inspector, cancel with confirmation, rerun,
executions that only the store still knows, and unknown ids."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing.user import User
from sample_workflows import fan_out, flaky
from sqlalchemy.exc import OperationalError
from uisim import (
    another_browser,
    api,
    click_when_shown,
    dialog_open,
    log_lines,
    node_status,
    sign_in,
    start,
    text_of,
    wait_for_log_line,
    wait_for_path,
    wait_for_text,
    wait_until_ended,
)
from waiting import until

from flowmon.application.executions import Executions
from flowmon.application.history import ExecutionHistory
from flowmon.application.snapshots import SnapshotCache
from flowmon.application.workflows import Workflows
from flowmon.engine.core.events import Event, EventType
from flowmon.engine.runtime.projector import Projector
from flowmon.web.format import duration, short_id
from flowmon.web.pages import execution as execution_page
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.deletion_watch import ExecutionDeletions
from flowmon.web.widgets.node_list import NodeList
from flowmon.web.widgets.timeline_chart import TimelineChart

# Three nodes in a row; the middle one fails once, then succeeds on its second attempt.
FLAKY = flaky(backoff_seconds=0.2, last_seconds=0.2)


async def add_flaky(user: User) -> None:
    response = await api(user, 'PUT', '/api/workflows/flaky', FLAKY)
    assert response.status_code in (200, 201), response.text


async def finished_flaky(user: User, body: Any = None) -> str:
    """Sign in, run FLAKY (with ``body``, the run's request) to its end; the execution's id."""
    await add_flaky(user)
    await sign_in(user)
    execution_id = await start(user, 'flaky', body)
    await wait_until_ended(user, execution_id)
    return execution_id


async def open_finished(user: User, execution_id: str) -> None:
    """Open the page of a succeeded execution and wait until it shows it so."""
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'succeeded')


def row_detail(user: User, node_id: str) -> str:
    """The detail line (attempts, duration) of the node's row in the node list."""
    node_list = next(iter(user.find(marker='node-list').elements))
    assert isinstance(node_list, NodeList)
    return node_list.row_of(node_id)['detail']


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
    execution_id = await finished_flaky(user)
    await open_finished(user, execution_id)
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
    execution_id = await finished_flaky(user)
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='node-list')
    user.find(marker='node-list').trigger('select', 'ship')  # what the list emits for a click on a row
    await user.should_see('Ship', marker='inspector')
    await user.should_see('usually takes')  # the page's history query (for the ETA) has finished too


def notifications(user: User) -> list[str]:
    """The messages of the page's notifications (ui.notification elements, which ui.notify's are not)."""
    return [element.message for element in user.client.elements.values() if isinstance(element, ui.notification)]


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
    await until(lambda: confirm.value, 'the confirmation dialog to open')
    await user.should_see('Cancel this execution?')
    user.find(marker='keep-running').click()
    await until(lambda: not confirm.value, 'the confirmation dialog to close')
    # declining the dialog changed nothing (the engine still runs it: a cancel would have ended it at once)
    assert (await api(user, 'GET', f'/api/executions/{execution_id}')).json()['status'] == 'running'
    assert text_of(user, 'execution-status') == 'running'

    user.find(marker='cancel-execution').click()
    await until(lambda: confirm.value, 'the confirmation dialog to open again')
    user.find(marker='confirm-cancel').click()
    # the page says it (and dismisses it once the execution has ended, in the browser: test_execution_live.py)
    await until(lambda: notifications(user) == ['Cancelling…'], 'the page to say it is cancelling')
    (note,) = [element for element in user.client.elements.values() if isinstance(element, ui.notification)]
    await wait_for_text(user, 'execution-status', 'cancelled')
    # withdrawn at the end, also where the browser has not drawn it yet (a dismiss reaches only a drawn one): then
    # it is drawn for a blink, not its five seconds
    await until(lambda: note.timeout <= 0.1, 'the note to be withdrawn')
    await until(lambda: node_status(user, 'wait') == 'cancelled', 'the node to show cancelled')
    await user.should_see(marker='rerun-execution')
    # the cancelled node is settled but never ran: the summary does not read as a run that got through
    await wait_for_text(user, 'progress-text', '0 / 1 nodes succeeded')
    progress = next(iter(user.find(kind=ui.linear_progress).elements))
    assert progress.value == 0 and progress.props['color'] == 'deep-orange-10'


async def test_cancelling_is_not_said_when_the_page_shows_the_end_before_the_cancel_answers(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel whose answer comes after the page has shown the execution cancelled (a loaded machine): "Cancelling…"
    is not said then; it stayed its five seconds beside the "cancelled" badge."""
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'running')
    asked = Executions.cancel
    answered = asyncio.Event()

    async def answer_late(self: Executions, cancelled_id: str) -> None:
        await asked(self, cancelled_id)
        await until(lambda: text_of(user, 'execution-status') == 'cancelled', 'the page to show the end first')
        answered.set()

    monkeypatch.setattr(Executions, 'cancel', answer_late)
    user.find(marker='cancel-execution').click()
    await click_when_shown(user, 'confirm-cancel')
    await asyncio.wait_for(answered.wait(), timeout=10)
    for _ in range(5):  # (the page's handling of the answer: a few turns of the loop)
        await asyncio.sleep(0)
    assert 'Cancelling…' not in notifications(user)


async def test_rerun_shows_the_previous_input_and_runs_it_fixed(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'quick', {'input': {'order_id': 'A-1001', 'qty': 'two'}})
    await wait_until_ended(user, execution_id)
    await open_finished(user, execution_id)
    user.find(marker='rerun-execution').click()
    await user.should_see(marker='input-dialog')
    assert text_of(user, 'input-title') == 'Rerun this execution'
    editor = input_editor(user)
    assert json.loads(editor.value) == {'order_id': 'A-1001', 'qty': 'two'}  # the previous input, to fix

    editor.value = '{"order_id": "A-1001", "qty": '  # half-way through the fix: refused as it is typed
    await user.should_see('Not valid JSON', retries=20)
    assert not rerun_button(user).enabled
    editor.value = '{"order_id": "A-1001", "qty": 2}'
    await user.should_not_see(marker='input-error', retries=20)
    await until(lambda: rerun_button(user).enabled, 'Run to be enabled again')
    user.find(marker='input-run').click()

    path = await wait_for_path(user, r'/executions/(?!' + execution_id + r')[^/]+')
    new_id = path.rsplit('/', 1)[1]
    summary = (await api(user, 'GET', f'/api/executions/{new_id}')).json()
    assert summary['retry_of'] == execution_id
    assert summary['input'] == {'order_id': 'A-1001', 'qty': 2}
    assert summary['trigger'] == {'type': 'rerun', 'retry_of': execution_id}
    await user.should_see(marker='execution-trigger')
    await user.should_see('Started by')
    await user.should_see(short_id(execution_id))  # the execution it reran, linked


async def test_rerun_from_a_node_reuses_the_nodes_before_it(user: User) -> None:
    execution_id = await finished_flaky(user, {'input': {'order': 7}})
    await open_finished(user, execution_id)
    click_node(user, 'ship')
    user.find(marker='rerun-from-node').click()
    await user.should_see(marker='input-dialog')
    assert text_of(user, 'input-title') == 'Rerun from node ship'
    assert json.loads(input_editor(user).value) == {'order': 7}
    user.find(marker='input-run').click()
    path = await wait_for_path(user, r'/executions/(?!' + execution_id + r')[^/]+')
    new_id = path.rsplit('/', 1)[1]
    await wait_until_ended(user, new_id)
    summary = (await api(user, 'GET', f'/api/executions/{new_id}')).json()
    assert summary['nodes']['fetch']['reused'] is True
    assert summary['nodes']['ship']['reused'] is False
    assert (summary['retry_of'], summary['trigger']['type']) == (execution_id, 'rerun')


async def test_a_rerun_says_the_workflow_changed_since_and_refuses_a_node_it_no_longer_has(user: User) -> None:
    execution_id = await finished_flaky(user)
    renamed = json.loads(json.dumps(FLAKY).replace('"ship"', '"deliver"'))
    assert (await api(user, 'PUT', '/api/workflows/flaky', renamed)).status_code == 200
    await open_finished(user, execution_id)
    click_node(user, 'ship')
    user.find(marker='rerun-from-node').click()
    await user.should_see('Node ship is not in the current definition of Flaky pipeline (changed since this run')
    await user.should_not_see(marker='input-dialog')

    user.find(marker='rerun-execution').click()
    await user.should_see(marker='input-dialog')
    await user.should_see('The workflow was changed since this run (saved ')
    await user.should_see('the rerun runs the current definition.')


async def test_a_rerun_of_an_unchanged_workflow_says_nothing_of_changes(user: User) -> None:
    execution_id = await finished_flaky(user)
    await open_finished(user, execution_id)
    user.find(marker='rerun-execution').click()
    await user.should_see(marker='input-dialog')
    await user.should_not_see('was changed since this run')


def input_editor(user: User) -> ui.codemirror:
    (editor,) = user.find(marker='input-json').elements
    assert isinstance(editor, ui.codemirror)
    return editor


def rerun_button(user: User) -> ui.button:
    (button,) = user.find(marker='input-run').elements
    assert isinstance(button, ui.button)
    return button


async def test_an_execution_only_the_store_knows_is_drawn_from_its_events(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await finished_flaky(user)
    # As after a restart: the live projection no longer holds the execution.
    monkeypatch.setattr(Projector, 'get', lambda self, _id: None)
    monkeypatch.setattr(Projector, 'recent_events', lambda self, _id, after_seq=0: None)
    await open_finished(user, execution_id)
    assert node_status(user, 'charge') == 'succeeded'
    assert text_of(user, 'progress-text') == '3 / 3 nodes'
    await user.should_see('Flaky pipeline')
    await wait_for_log_line(user, 'node.completed')
    await wait_for_log_line(user, 'execution.completed')


async def test_an_execution_deleted_before_its_events_are_read_is_said_deleted_not_an_error(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted between the page's read of the execution and its read of the stored events (for the log): the page
    says it was deleted, with what it read; nothing is logged as failed."""
    execution_id = await finished_flaky(user)
    monkeypatch.setattr(Projector, 'get', lambda self, _id: None)  # only the store knows it
    monkeypatch.setattr(Projector, 'recent_events', lambda self, _id, after_seq=0: None)
    events = ExecutionHistory.events
    deleted: list[str] = []

    async def deleted_first(self: ExecutionHistory, read_id: str, **kwargs: Any) -> list[Event]:
        if not deleted:  # (once: the page's first read of the stored events)
            deleted.append(read_id)
            assert (await api(user, 'DELETE', f'/api/executions/{read_id}')).status_code == 204
        return await events(self, read_id, **kwargs)

    monkeypatch.setattr(ExecutionHistory, 'events', deleted_first)
    await user.open(f'/executions/{execution_id}')
    await user.should_see('This execution was deleted', marker='execution-deleted')
    await wait_for_text(user, 'execution-status', 'deleted')
    assert deleted == [execution_id]
    assert node_status(user, 'charge') == 'succeeded'  # what it read stays readable
    await user.should_not_see(marker='page-error')


@pytest.fixture
def projectors(monkeypatch: pytest.MonkeyPatch) -> list[Projector]:
    """The projectors made from now on (ask for it before ``user``: the app's one is then in the list)."""
    made: list[Projector] = []
    build = Projector.__init__

    def init(self: Projector, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Projector, '__init__', init)
    return made


async def test_a_run_that_moves_on_while_its_page_loads_is_shown_as_it_is_now(
    projectors: list[Projector], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page of a run this process does not run itself (another process's, followed from the database) reads its
    state and definition over several awaits. An event taken meanwhile must reach the page even when none follows it
    for a long time (here the node's start: nothing more happens until the node ends a minute later)."""
    [projector] = projectors
    await sign_in(user)
    source = await start(user, 'slow')
    events = await until(
        lambda: (found := projector.recent_events(source, 0)) and found[-1].type == EventType.NODE_STARTED and found,
        'the node of the slow run to start',
    )
    other = f'{source}-elsewhere'  # the same events, as another process would have recorded them for its run
    copies = [Event.unmarshal({**event.marshal(), 'execution_id': other}) for event in events]
    projector.take_stored(copies[:-1])  # the tail has read the run up to the node's start
    later = copies[-1:]
    monkeypatch.setattr(SnapshotCache, 'get', lambda self, digest: None)  # this process never ran its workflow
    resolve = ExecutionHistory.definition

    async def definition(self: ExecutionHistory, execution_id: str, state: Any = None) -> dict[str, Any]:
        if execution_id == other and later:  # while the page loads, the tail reads the node's start
            projector.take_stored(later)
            later.clear()
            projector.tick()  # the projector's own 10 Hz tick closes it into a version
        return await resolve(self, execution_id, state)

    monkeypatch.setattr(ExecutionHistory, 'definition', definition)
    await user.open(f'/executions/{other}')
    await user.should_see(marker='node-list')
    assert not later, 'the page did not load the run the way a page of another process does'
    await until(
        lambda: node_status(user, 'wait') == 'running', 'the node shown running', seen=lambda: node_status(user, 'wait')
    )
    await wait_for_text(user, 'execution-status', 'running')


async def test_a_run_the_live_view_lets_go_of_while_its_page_shows_it_running_ends_on_the_page(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live view keeps the latest finished runs only: when more end between two looks of a page than it keeps,
    the run the page shows is gone from it with its end. The page reads how it ended from the store."""
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='node-list')
    await until(lambda: node_status(user, 'wait') == 'running', 'the node shown running')
    held = Projector.get

    def let_go_once_ended(self: Projector, key: str) -> Any:
        state = held(self, key)
        return None if state is not None and state.is_terminal else state  # evicted with its end, at once

    monkeypatch.setattr(Projector, 'get', let_go_once_ended)
    response = await api(user, 'POST', f'/api/executions/{execution_id}/cancel')
    assert response.status_code == 202, response.text
    await wait_for_text(user, 'execution-status', 'cancelled')
    assert node_status(user, 'wait') == 'cancelled'
    await wait_for_log_line(user, 'execution.cancelled')


async def test_an_imported_execution_offers_no_rerun_or_cancel(user: User) -> None:
    execution_id = await finished_flaky(user)
    document = (await api(user, 'GET', f'/api/executions/{execution_id}/export')).json()
    response = await api(user, 'POST', '/api/executions/import', document)
    assert response.status_code == 201, response.text
    imported = response.json()['id']
    await open_finished(user, imported)
    await user.should_see(marker='read-only-note')
    await user.should_not_see(marker='rerun-execution')
    await user.should_not_see(marker='cancel-execution')
    click_node(user, 'ship')
    await user.should_see('Ship', marker='inspector')
    await wait_for_text(user, 'inspector-status', 'succeeded')
    await user.should_not_see(marker='rerun-from-node')
    # The original still has its Rerun button: only imported executions are read-only.
    await open_finished(user, execution_id)
    await user.should_see(marker='rerun-execution')


@pytest.mark.parametrize(
    ('ts', 'zone'),
    [('9999-12-31T23:59:59.999999+00:00', 'Asia/Tokyo'), ('0001-01-01T00:00:00+00:00', 'Etc/GMT+12')],
)
async def test_an_import_dated_at_the_calendars_end_shows_in_utc_where_the_viewers_zone_would_pass_it(
    user: User, ts: str, zone: str
) -> None:
    """In the viewer's zone such a time would fall outside the calendar: the list and the page failed to build."""
    user.javascript_rules[re.compile(r'.*Intl\.DateTimeFormat.*')] = lambda _: zone
    execution_id = await finished_flaky(user)
    await user.open('/')  # (the zone is asked for once signed in)
    document = (await api(user, 'GET', f'/api/executions/{execution_id}/export')).json()
    for event in document['events']:
        event['ts'] = ts
    for key in ('created_at', 'started_at', 'finished_at'):
        document['execution'][key] = ts
    response = await api(user, 'POST', '/api/executions/import', document)
    assert response.status_code == 201, response.text
    imported = response.json()['id']
    await user.open('/executions')
    await user.should_see(marker=f'execution-row-{imported}')
    await user.should_see(ts[:10])  # the time in UTC
    await user.should_not_see(marker='page-error')
    await open_finished(user, imported)
    await wait_for_log_line(user, 'execution.completed')
    click_node(user, 'ship')
    await wait_for_text(user, 'inspector-status', 'succeeded')


ACTIONS_ON_IT = ('rerun-execution', 'delete-execution', 'export-execution', 'compare-menu', 'replay-execution')


async def test_an_execution_deleted_in_another_tab_says_so_and_offers_nothing_more(user: User) -> None:
    execution_id = await finished_flaky(user)
    await open_finished(user, execution_id)
    click_node(user, 'charge')
    await user.should_see(marker='rerun-from-node')
    for marker in ACTIONS_ON_IT:
        await user.should_see(marker=marker)
    async with another_browser(user) as other:  # another tab deletes it from the same page
        await sign_in(other, f'/executions/{execution_id}')
        await click_when_shown(other, 'delete-execution')
        await click_when_shown(other, 'confirm-delete-ok')
        await wait_for_path(other, '/executions$')
    await user.should_see('This execution was deleted', marker='execution-deleted')
    for marker in (*ACTIONS_ON_IT, 'rerun-from-node'):
        await user.should_not_see(marker=marker)
    with user:  # hidden, and disabled too (as the workflow page's are)
        for marker in ('cancel-execution', 'rerun-execution', 'delete-execution', *ACTIONS_ON_IT[2:]):
            (button,) = ElementFilter(kind=ui.button, marker=marker, only_visible=False)
            assert not button.enabled, marker
    assert node_status(user, 'charge') == 'succeeded'  # what it showed stays readable, its status says it is gone
    await wait_for_text(user, 'execution-status', 'deleted')
    assert text_of(user, 'execution-timing').endswith(' · deleted') and ' · ran ' in text_of(user, 'execution-timing')
    await user.should_see('gateway timeout', marker='inspector-attempts')


async def test_a_run_deleted_while_its_page_shows_it_running_is_frozen_as_last_seen(
    projectors: list[Projector], user: User
) -> None:
    """Another process cancelled and deleted it before this one read its end (its tail of the database behind): the
    page never learns how it ended. It shows the run as last seen, stopped, with the status "deleted", not running
    on, and nothing acts on it."""
    [projector] = projectors
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'running')
    await user.should_see(marker='cancel-execution')
    assert projector.forget(execution_id, elsewhere=True)  # what the news of the other process's deletion does
    await user.should_see('This execution was deleted', marker='execution-deleted')
    await wait_for_text(user, 'execution-status', 'deleted')
    timing = text_of(user, 'execution-timing')
    assert ' · last seen running for ' in timing and timing.endswith(' · deleted'), timing
    assert node_status(user, 'wait') == 'running'  # as last seen
    await user.should_not_see(marker='cancel-execution')
    with user:
        (cancel,) = ElementFilter(kind=ui.button, marker='cancel-execution', only_visible=False)
        assert not cancel.enabled
    await user.should_see('Execution deleted', marker='execution-announcement')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')  # (the run this process still has)
    await wait_until_ended(user, execution_id)
    assert text_of(user, 'execution-status') == 'deleted'  # the page no longer follows it


async def test_a_read_in_flight_when_the_run_is_deleted_does_not_show_it_running_again(
    projectors: list[Projector], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's first read of the stored events and of the usual duration is still under way when the run is
    deleted: when it ends, it draws nothing (not the status, clock or ETA of the run as it was when it was read)."""
    [projector] = projectors
    await sign_in(user)
    execution_id = await start(user, 'slow')
    monkeypatch.setattr(Projector, 'recent_events', lambda self, _id, after_seq=0: None)  # the log from the store
    reading, release, loaded = asyncio.Event(), asyncio.Event(), asyncio.Event()
    stored = ExecutionHistory.events

    async def slow_events(self: ExecutionHistory, *args: Any, **kwargs: Any) -> list[Event]:
        events = await stored(self, *args, **kwargs)
        reading.set()
        await release.wait()
        return events

    async def usual_duration_ms(self: ExecutionHistory, *args: Any, **kwargs: Any) -> float:
        return 3_600_000.0  # (an ETA to show)

    load_history = execution_page._LivePage._load_history

    async def load_history_then_say(self: Any) -> None:
        await load_history(self)
        loaded.set()

    monkeypatch.setattr(ExecutionHistory, 'events', slow_events)
    monkeypatch.setattr(ExecutionHistory, 'usual_duration_ms', usual_duration_ms)
    monkeypatch.setattr(execution_page._LivePage, '_load_history', load_history_then_say)
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'running')
    await until(reading.is_set, 'the stored events to be read')
    assert projector.forget(execution_id, elsewhere=True)  # what the news of the other process's deletion does
    await wait_for_text(user, 'execution-status', 'deleted')
    release.set()
    await until(loaded.is_set, 'the read to end')
    assert text_of(user, 'execution-status') == 'deleted'
    assert text_of(user, 'execution-timing').endswith(' · deleted')
    assert text_of(user, 'execution-eta') == ''
    await user.should_see('Execution deleted', marker='execution-announcement')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')  # (the run this process still has)
    await wait_until_ended(user, execution_id)


async def test_an_execution_deleted_unheard_is_found_gone_in_the_store(
    projectors: list[Projector], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process deleted it and its news was lost (the listener reconnected): the live view cannot say, so the
    page asks the store, once."""
    [projector] = projectors
    execution_id = await finished_flaky(user)
    await open_finished(user, execution_id)
    forget = Projector.forget
    monkeypatch.setattr(
        Projector, 'forget', lambda self, _id, elsewhere=False: False
    )  # this process does not hear of it
    response = await api(user, 'DELETE', f'/api/executions/{execution_id}')
    assert response.status_code == 204, response.text
    monkeypatch.setattr(Projector, 'forget', forget)
    await user.should_see(marker='rerun-execution')
    projector.forget_unknown()  # what a reconnect of the listener does
    await user.should_see(marker='execution-deleted')
    await user.should_not_see(marker='rerun-execution')


TYPED = '{"order": 8, "note": "fixed by hand"}'


async def rerun_dialog_with(user: User, typed: str) -> str:
    """Run FLAKY to its end, open its page's rerun dialog and type ``typed``; the run's id."""
    execution_id = await finished_flaky(user, {'input': {'order': 7}})
    await open_finished(user, execution_id)
    user.find(marker='rerun-execution').click()
    await user.should_see(marker='input-dialog')
    input_editor(user).value = typed
    return execution_id


async def rerun_of_a_run_deleted_meanwhile(user: User, monkeypatch: pytest.MonkeyPatch) -> str:
    """Open FLAKY's rerun dialog, type ``TYPED`` and submit it as the run is deleted (elsewhere, a moment before);
    the run's id, with the refusal said."""
    execution_id = await rerun_dialog_with(user, TYPED)
    rerun = Executions.rerun

    async def deleted_first(self: Executions, rerun_id: str, **kwargs: Any) -> str:
        await self.delete(rerun_id)
        return await rerun(self, rerun_id, **kwargs)

    monkeypatch.setattr(Executions, 'rerun', deleted_first)
    await until(lambda: rerun_button(user).enabled, 'the typed input to be checked')
    user.find(marker='input-run').click()
    await until(lambda: any('not found' in message for message in user.notify.messages), 'the refusal to be said')
    return execution_id


async def test_a_rerun_refused_because_the_run_was_deleted_keeps_the_input_and_starts_it_anew(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is deleted as its rerun is submitted (elsewhere, a moment before): Rerun is refused with a
    notification, the dialog stays with the input typed, and offers to start the workflow with it instead."""
    execution_id = await rerun_of_a_run_deleted_meanwhile(user, monkeypatch)
    await user.should_see('This execution was deleted, so it cannot be rerun', marker='input-note')
    assert input_editor(user).value == TYPED  # still open, with what was typed
    assert rerun_button(user).text == 'Start new execution'
    user.find(marker='input-run').click()
    path = await wait_for_path(user, r'/executions/(?!' + execution_id + r')[^/]+')
    summary = (await api(user, 'GET', f'/api/executions/{path.rsplit("/", 1)[1]}')).json()
    assert summary['input'] == {'order': 8, 'note': 'fixed by hand'}
    assert summary['retry_of'] is None and summary['workflow_id'] == 'flaky' and summary['trigger']['type'] != 'rerun'


async def test_a_rerun_dialog_open_when_the_run_and_its_workflow_are_deleted_keeps_the_input_to_copy(
    user: User,
) -> None:
    typed = '{"order": 9}'
    execution_id = await rerun_dialog_with(user, typed)
    assert (await api(user, 'DELETE', '/api/workflows/flaky')).status_code == 204
    assert (await api(user, 'DELETE', f'/api/executions/{execution_id}')).status_code == 204
    await user.should_see(marker='execution-deleted')
    await user.should_see('and so was its workflow', marker='input-note')
    await user.should_not_see(marker='input-run')  # nothing can run it: the input stays, to copy
    assert input_editor(user).value == typed
    await user.should_see(marker='input-dialog')


async def test_a_new_execution_offered_for_a_workflow_deleted_since_says_nothing_can_run_it(
    user: User,
) -> None:
    execution_id = await rerun_dialog_with(user, TYPED)
    assert (await api(user, 'DELETE', f'/api/executions/{execution_id}')).status_code == 204
    await user.should_see('This execution was deleted, so it cannot be rerun', marker='input-note')
    assert (await api(user, 'DELETE', '/api/workflows/flaky')).status_code == 204  # after the note was written
    user.find(marker='input-run').click()  # "Start new execution"
    await until(lambda: any('no longer exists' in message for message in user.notify.messages), 'the refusal')
    await user.should_see('and so was its workflow', marker='input-note')
    await user.should_not_see(marker='input-run')
    assert input_editor(user).value == TYPED
    await user.should_see(marker='input-dialog')


def one_traceback(caplog: pytest.LogCaptureFixture, logger: str) -> None:
    """The unexpected error was logged once, with its traceback, by ``logger`` (and nothing else was)."""
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert [(record.name, record.exc_info is not None) for record in errors] == [(logger, True)], errors
    caplog.clear()  # (expected here)


async def still_open_with_the_input(user: User, unexpected: str) -> None:
    await until(lambda: any(unexpected in message for message in user.notify.messages), 'the error to be said')
    assert 'unexpected error (see the server log)' in ' '.join(user.notify.messages)
    await until(lambda: rerun_button(user).enabled, 'Run to be enabled again')
    assert dialog_open(user, 'input-dialog')
    assert input_editor(user).value == TYPED


async def test_an_unexpected_error_looking_up_the_workflow_of_a_deleted_run_keeps_the_rerun_dialog(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def database_error(self: Workflows, workflow_id: str) -> Any:
        raise RuntimeError('database is locked')

    execution_id = await rerun_dialog_with(user, TYPED)
    monkeypatch.setattr(Workflows, 'get', database_error)
    assert (await api(user, 'DELETE', f'/api/executions/{execution_id}')).status_code == 204
    await user.should_see(marker='execution-deleted')
    await still_open_with_the_input(user, "Could not look up workflow 'flaky'")
    one_traceback(caplog, 'flowmon.web.pages.execution')
    assert rerun_button(user).text == 'Rerun'
    user.find(marker='input-run').click()  # refused (the execution was deleted), and the workflow looked up again
    await until(lambda: sum('Could not look up' in message for message in user.notify.messages) == 2, 'a 2nd look')
    await user.should_see(marker='input-dialog')
    one_traceback(caplog, 'flowmon.web.pages.execution')


def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read and write the rerun dialog makes fails as with the database unreachable."""

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError('SELECT 1', None, ConnectionRefusedError('connection refused'))

    for owner, name in (
        (Executions, 'rerun'), (Executions, 'start'), (ExecutionHistory, 'record'), (Workflows, 'get'),
    ):  # fmt: skip
        monkeypatch.setattr(owner, name, unreachable)


async def said_once(user: User, unexpected: str) -> None:
    """``unexpected`` was said, in the one notification the click gave."""
    await still_open_with_the_input(user, unexpected)  # (Run is enabled again once the click's handling is over)
    assert [message for message in user.notify.messages if 'unexpected error' in message] == [
        f'{unexpected}: unexpected error (see the server log).'
    ]


async def test_an_unexpected_error_starting_the_new_execution_keeps_the_dialog(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is down: "Start new execution" fails, once (no lookup of the workflow follows)."""
    await rerun_of_a_run_deleted_meanwhile(user, monkeypatch)
    await user.should_see('This execution was deleted, so it cannot be rerun', marker='input-note')
    database_down(monkeypatch)
    user.find(marker='input-run').click()  # "Start new execution"
    await said_once(user, "Could not run 'flaky'")
    assert rerun_button(user).text == 'Start new execution'
    one_traceback(caplog, 'flowmon.web.actions')


def deletions_seen_late(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The page's watch sees no deletion until the function returned is called."""
    seen = False
    counted = ExecutionDeletions.__call__

    def later(self: ExecutionDeletions) -> bool | None:
        return counted(self) if seen else False

    def now() -> None:
        nonlocal seen
        seen = True

    monkeypatch.setattr(ExecutionDeletions, '__call__', later)
    return now


def told_once_and_nothing_more(user: User, caplog: pytest.LogCaptureFixture) -> None:
    """The rerun dialog offers "Start new execution" with the input, and no unexpected error was said or logged."""
    assert [message for message in user.notify.messages if 'unexpected error' in message] == []
    assert [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR] == []
    assert rerun_button(user).text == 'Start new execution'
    assert input_editor(user).value == TYPED


async def test_the_page_seeing_a_deletion_the_rerun_dialog_said_already_looks_nothing_up_again(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The refused rerun said the run was deleted before the page saw it go; by the time the page sees it, the
    database is down: the dialog stays as it was told, with nothing more looked up or said."""
    page_sees_it = deletions_seen_late(monkeypatch)
    await rerun_of_a_run_deleted_meanwhile(user, monkeypatch)
    await user.should_see('This execution was deleted, so it cannot be rerun', marker='input-note')
    database_down(monkeypatch)
    page_sees_it()
    await user.should_see(marker='execution-deleted')  # (the page withdrew its actions: any look-up is under way)
    await until(
        lambda: not any(task.get_name().startswith('rerun of deleted') for task in asyncio.all_tasks()),
        'what the page did about the deletion to be over',
    )
    told_once_and_nothing_more(user, caplog)


async def test_a_refused_rerun_finding_the_dialog_told_by_the_page_meanwhile_looks_nothing_up_again(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The refused rerun is still reading whether the run exists when the page sees it deleted and tells the dialog;
    the database is down by the time that read answers: the refusal leaves the dialog as the page told it."""
    page_sees_it = deletions_seen_late(monkeypatch)
    holding, reached, released = False, asyncio.Event(), asyncio.Event()
    record = ExecutionHistory.record

    async def held(self: ExecutionHistory, execution_id: str) -> Any:
        if holding:
            reached.set()
            await released.wait()
        return await record(self, execution_id)

    monkeypatch.setattr(ExecutionHistory, 'record', held)
    await rerun_dialog_with(user, TYPED)
    rerun = Executions.rerun

    async def deleted_first(self: Executions, rerun_id: str, **kwargs: Any) -> str:
        nonlocal holding
        await self.delete(rerun_id)
        holding = True  # (from here on: the refusal's read of whether the run exists)
        return await rerun(self, rerun_id, **kwargs)

    monkeypatch.setattr(Executions, 'rerun', deleted_first)
    await until(lambda: rerun_button(user).enabled, 'the typed input to be checked')
    user.find(marker='input-run').click()
    await until(reached.is_set, 'the refused rerun to read whether the run exists')
    page_sees_it()
    await user.should_see('This execution was deleted, so it cannot be rerun', marker='input-note')  # the page's
    database_down(monkeypatch)
    released.set()
    await until(lambda: rerun_button(user).enabled, "the click's handling to be over")
    assert any('not found' in message for message in user.notify.messages)  # the refusal
    told_once_and_nothing_more(user, caplog)


async def test_a_rerun_failing_with_the_database_down_is_said_and_logged_once(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error is not a refusal: no look at whether the run still exists follows it."""
    await rerun_dialog_with(user, TYPED)
    await until(lambda: rerun_button(user).enabled, 'the typed input to be checked')
    database_down(monkeypatch)
    user.find(marker='input-run').click()
    await said_once(user, 'Could not rerun')
    assert rerun_button(user).text == 'Rerun'
    one_traceback(caplog, 'flowmon.web.pages.execution')


async def test_a_status_change_is_announced_to_screen_readers_and_the_first_status_is_not(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await wait_for_text(user, 'execution-status', 'running')
    (region,) = user.find(marker='execution-announcement').elements
    assert (region.props.get('role'), region.props.get('aria-live')) == ('status', 'polite')
    assert text_of(user, 'execution-announcement') == ''  # what the page opened with is not news
    response = await api(user, 'POST', f'/api/executions/{execution_id}/cancel')
    assert response.status_code == 202, response.text
    await wait_for_text(user, 'execution-announcement', 'Execution cancelled')


async def test_unknown_execution_says_not_found(user: User) -> None:
    await sign_in(user)
    await user.open('/executions/no-such-execution')
    await user.should_see(marker='execution-not-found')
    await user.should_see('Execution not found')


async def test_the_event_log_filters_by_node(user: User) -> None:
    execution_id = await finished_flaky(user)
    await user.open(f'/executions/{execution_id}')
    await wait_for_log_line(user, 'node.completed')
    node_filter = user.find(marker='event-node-filter').elements.pop()
    assert isinstance(node_filter, ui.select)
    assert list(node_filter.options) == ['']  # the node choices are offered only while the menu is open
    user.find(marker='event-node-filter').trigger('popupShow')
    await until(
        lambda: 'ship' in node_filter.options and 'charge' in node_filter.options,
        'the node choices',
        seen=lambda: node_filter.options,
    )
    assert any('gateway timeout' in line for line in log_lines(user))
    node_filter.set_value('ship')
    user.find(marker='event-node-filter').trigger('popupHide')
    await until(
        lambda: list(node_filter.options) == ['', 'ship'], 'only the chosen node', seen=lambda: node_filter.options
    )
    await until(
        lambda: all(' ship ' in f'{line} ' for line in log_lines(user)),
        'only lines of ship',
        seen=lambda: log_lines(user),
    )
    lines = log_lines(user)
    assert lines, 'the log shows nothing for node ship'
    assert any('node.completed' in line for line in lines)
    assert not any('gateway timeout' in line for line in lines)
    node_filter.set_value('')
    await until(lambda: any('gateway timeout' in line for line in log_lines(user)), 'every node again in the log')
    (log,) = user.find(marker='event-log').elements
    type_filter = user.find(marker='event-type-filter').elements.pop()
    assert isinstance(type_filter, ui.select)
    type_filter.set_value([])  # no type at all: the empty log says why
    await until(lambda: not log_lines(user), 'no line for no type', seen=lambda: log_lines(user))
    assert log.props.get('data-empty') == 'No event matches the filters.'


STAGGERED: dict[str, Any] = {
    'id': 'staggered',
    'name': 'Twelve waits',
    'nodes': [{'id': f'w{i:02d}', 'type': 'delay', 'config': {'seconds': round(0.3 + i * 0.15, 2)}} for i in range(12)],
    'edges': [],
}


async def start_staggered(user: User) -> str:
    """Sign in and start the twelve staggered waits; returns the execution id."""
    assert (await api(user, 'PUT', '/api/workflows/staggered', STAGGERED)).status_code in (200, 201)
    await sign_in(user)
    return await start(user, 'staggered')


async def test_a_closed_page_leaves_no_reference_cycles(user: User) -> None:
    """A deleted client's page is freed by reference counting, not left for a full collection to find: its
    widgets do not hold each other in cycles, and the elements' own cycles are released (flowmon.web.teardown)."""
    execution_id = await start_staggered(user)
    await wait_until_ended(user, execution_id)
    await open_finished(user, execution_id)
    await wait_for_log_line(user, 'execution.completed')
    gc.collect()
    client = user.client
    assert client is not None
    elements = len(client.elements)
    client.delete()
    await asyncio.sleep(0)  # one turn of the loop: the deletion schedules the release with call_soon
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        kinds = Counter(type(item).__qualname__ for item in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    widgets = {'_LivePage', 'ExecutionView', 'DagView', 'NodeList', 'EventLog', 'LogLines', 'Inspector'}
    widgets |= {'DagChart', 'EdgeLayer', 'ExecutionActions', 'LiveGantt', 'HistoryActions', 'DeletionWatch'}
    assert not {kind: kinds[kind] for kind in widgets if kinds[kind]}
    assert elements > 60
    assert kinds['Props'] < elements / 5, kinds.most_common(10)  # the client's own few, not one per element
    assert sum(kinds.values()) < 1500, kinds.most_common(10)


SLOW_PAIR: dict[str, Any] = {
    'id': 'slow-pair',
    'name': 'Slow pair',
    'nodes': [
        {'id': 'first', 'type': 'delay', 'config': {'seconds': 1.0}},
        {'id': 'second', 'type': 'delay', 'config': {'seconds': 1.0}},
    ],
    'edges': [{'source': 'first', 'target': 'second'}],
}


def gantt_of(user: User) -> dict[str, Any]:
    """What the execution page's Gantt chart shows now: its snapshot (rows, segments, time axis)."""
    (gantt,) = user.find(marker='replay-gantt').elements
    assert isinstance(gantt, TimelineChart)
    return gantt.snapshot()


def segments(snapshot: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(node, start s, end s, opacity) of each segment; a running attempt is drawn translucent, up to now."""
    labels = snapshot.get('labels', [])
    return [
        (labels[item['value'][0]], item['value'][1], item['value'][2], item['itemStyle']['opacity'])
        for item in snapshot.get('data', [])
    ]


async def test_the_gantt_chart_grows_while_the_run_goes(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/slow-pair', SLOW_PAIR)).status_code in (200, 201)
    await sign_in(user)
    execution_id = await start(user, 'slow-pair')
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='replay-gantt')
    await until(lambda: [s[0] for s in segments(gantt_of(user))] == ['first'], 'first running alone')
    (running,) = segments(gantt_of(user))
    assert running[3] == 0.55 and gantt_of(user)['labels'] == ['first', 'second']
    axis = gantt_of(user)['max']
    await until(lambda: gantt_of(user)['max'] > axis, 'the time axis to grow')  # with the open attempt
    grown = segments(gantt_of(user))[0]
    assert grown[2] > running[2]

    await until(lambda: len(segments(gantt_of(user))) == 2, 'second to start')  # a second row fills
    await wait_for_text(user, 'execution-status', 'succeeded')
    await until(lambda: all(s[3] == 1 for s in segments(gantt_of(user))), 'every segment closed')
    first, second = segments(gantt_of(user))
    assert first[0] == 'first' and second[0] == 'second'
    assert first[2] - first[1] >= 1.0 and second[1] >= first[2]  # real times, in order
    summary = (await api(user, 'GET', f'/api/executions/{execution_id}')).json()
    assert gantt_of(user)['max'] > 2.0 and summary['status'] == 'succeeded'

    user.find(marker='replay-gantt').trigger('span_click', [1, 0, 0, 0, 0, 0])  # a click on second's segment
    await user.should_see(marker='inspector')


@pytest.fixture
def one_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """One execution runs at a time: the next ones wait in the queue."""
    monkeypatch.setenv('FLOWMON_MAX_CONCURRENT_EXECUTIONS', '1')


def queue_of(user: User) -> dict[str, Any]:
    """The Gantt chart's queue lane: value [0, until s], its label (name) and tooltip."""
    queue = gantt_of(user).get('queue')
    assert queue is not None, 'no queue lane'
    return dict(queue)


async def test_the_gantt_chart_shows_the_wait_in_the_queue(one_slot: None, user: User) -> None:
    await sign_in(user)
    blocker = await start(user, 'slow')
    waiting, cancelled = await start(user, 'quick'), await start(user, 'quick')
    await user.open(f'/executions/{waiting}')
    await user.should_see(marker='replay-gantt')
    await until(lambda: 'queue' in gantt_of(user), 'the queue lane')
    queue = queue_of(user)
    assert queue['name'].startswith('queued ') and queue['value'][0] == 0 and not segments(gantt_of(user))
    assert 'still waiting for a free slot' in queue['tooltip']['formatter']
    # the wait so far fills the time axis (its end rounded up to the millisecond)
    assert -0.0001 < gantt_of(user)['max'] - queue['value'][1] < 0.0011
    await until(lambda: queue_of(user)['value'][1] > queue['value'][1], 'the wait to grow')

    await api(user, 'POST', f'/api/executions/{cancelled}/cancel')
    await api(user, 'POST', f'/api/executions/{blocker}/cancel')
    await wait_for_text(user, 'execution-status', 'succeeded')
    await until(lambda: 'until it started' in queue_of(user)['tooltip']['formatter'], 'the wait to end at the start')
    summary = (await api(user, 'GET', f'/api/executions/{waiting}')).json()
    waited = (
        datetime.fromisoformat(summary['started_at']) - datetime.fromisoformat(summary['created_at'])
    ).total_seconds()
    queue = queue_of(user)
    assert queue['value'] == [0, round(waited, 4)] and queue['name'] == f'queued {duration(waited * 1000)}'
    assert waited > 0 and gantt_of(user)['max'] >= waited
    ((node, start_s, _, _),) = segments(gantt_of(user))
    assert node == 'Shape' and start_s >= round(waited, 4)  # the node ran after the wait

    await user.open(f'/executions/{cancelled}')  # cancelled while it waited
    await wait_for_text(user, 'execution-status', 'cancelled')
    await until(
        lambda: 'ended before it started' in queue_of(user)['tooltip']['formatter'], 'a wait that ended the run'
    )


async def test_a_picked_node_out_of_the_gantt_charts_window_is_brought_into_it(user: User) -> None:
    await sign_in(user)
    response = await api(user, 'PUT', '/api/workflows/fan', fan_out('fan', 24))
    assert response.status_code in (200, 201), response.text
    execution_id = await start(user, 'fan')
    await wait_until_ended(user, execution_id)
    await open_finished(user, execution_id)
    assert (gantt_of(user)['window'], gantt_of(user)['picked']) == ((0, 19), -1)  # 20 of its 25 rows
    click_node(user, 'w23')  # the last row
    await user.should_see('w23', marker='inspector')
    assert (gantt_of(user)['window'], gantt_of(user)['picked']) == ((5, 24), 24)

    # on a phone the browser says the room above the inspector's sheet: 300 px, which 8 rows take (8 x 26 px, the
    # time axis and the queue's lane): the window holds them, with the picked row, and the chart is as tall
    (gantt,) = user.find(marker='replay-gantt').elements
    user.find(marker='replay-gantt').trigger('room', {'px': 300})
    assert (gantt_of(user)['window'], gantt_of(user)['picked']) == ((17, 24), 24)
    assert gantt.style['height'] == f'{8 * 26 + 56 + 22}px'
    user.find(marker='replay-gantt').trigger('window', [10, 17])  # its slider moves it, 8 rows at a time
    click_node(user, 'w12')  # (row 13, in it)
    await user.should_see('w12', marker='inspector')
    assert (gantt_of(user)['window'], gantt_of(user)['picked']) == ((10, 17), 13)
    user.find(marker='replay-gantt').trigger('room', {'px': None})  # a wide window: no sheet, 20 rows
    assert gantt_of(user)['window'] == (5, 24) and gantt.style['height'] == f'{20 * 26 + 56 + 22}px'
