"""``/workflows/{id}``: the workflow, Run and Run with input (JSON checked before sending), its history."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing.user import User
from sample_workflows import chain, delay, log, transform
from uisim import (
    EDITOR_LENGTH,
    api,
    click_when_shown,
    current_path,
    dialog_open,
    sign_in,
    start,
    text_of,
    wait_for_path,
    wait_until_ended,
)
from waiting import until

from flowmon.application.errors import Unavailable
from flowmon.application.executions import Executions
from flowmon.application.stats import NodeStatistics
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.dag_viewport import DagViewport


async def executions_of(user: User, workflow_id: str) -> list[dict[str, object]]:
    response = await api(user, 'GET', f'/api/executions?workflow_id={workflow_id}')
    return list(response.json()['items'])


async def test_shows_name_description_canvas_and_an_empty_history(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker='workflow-page')
    assert text_of(user, 'workflow-name') == 'Quick check'
    await user.should_see('One transform node')
    await user.should_see(marker='workflow-canvas')
    await user.should_see('Not run yet')


async def test_the_head_counts_nodes_and_edges_in_words_that_agree_with_the_number(user: User) -> None:
    await sign_in(user, '/workflows/quick')  # one node, no edge
    await user.should_see('1 node · 0 edges')
    definition = chain('pair', 'Pair', transform('shape', 'input'), log('report', 'x'))
    assert (await api(user, 'PUT', '/api/workflows/pair', definition)).status_code == 201
    await user.open('/workflows/pair')
    await user.should_see('2 nodes · 1 edge')


async def test_the_canvas_cards_say_each_nodes_type_not_pending(user: User) -> None:
    definition = chain('typed', 'Typed', transform('shape', 'input'), log('pause', 'x'))
    response = await api(user, 'PUT', '/api/workflows/typed', definition)
    assert response.status_code == 201, response.text
    await sign_in(user, '/workflows/typed')
    await user.should_see(marker='workflow-canvas')
    (chart,) = user.find(DagChart).elements
    assert isinstance(chart, DagChart)
    cards = {item['name']: (item.get('m'), item.get('s')) for item in chart.snapshot()['nodes']}
    assert cards == {'shape': ('transform', None), 'pause': ('log', None)}  # the card line; no status


async def test_the_canvas_cards_widen_to_show_long_names_whole(user: User) -> None:
    """A card is as wide as the longest name needs (7.2 px a character, as the browser clips), from 140 to 200 px,
    while the graph stays within 1000 px: the columns move apart with it; a name longer than that takes two lines.
    The browser clips a name only past what its card holds (dag_chart.js)."""

    async def card_of(workflow_id: str, *names: str) -> tuple[int, list[int]]:
        nodes = [transform('a', 'input'), *(log(chr(ord('b') + n), 'x') for n in range(len(names) - 1))]
        definition = chain(workflow_id, 'Named', *nodes)
        for node, name in zip(definition['nodes'], names, strict=True):
            node['name'] = name
        chart = await _canvas_of(user, definition)
        text = json.loads(chart.props['text'])
        assert list(text['names'].values()) == list(names)
        return text['card'], _card_size(chart)

    assert await card_of('short-names', 'Load', 'Ship') == (140, [140, 46])
    assert await card_of('long-names', 'Process shard 1 (A-C)', 'Record sale in analytics') == (173, [173, 46])
    # a name longer than the widest card takes two lines of a card as wide as half of it needs
    assert await card_of('longer-names', 'x' * 40, 'y') == (173, [173, 46])
    assert json.loads(user.find(DagChart).elements.pop().props['text'])['lines'] == 2
    # five columns: 1000 px leave 152 px a card (188 a column), too narrow for the name on one line: it takes two of
    # the narrowest cards; eight: the narrowest cards, as before
    assert await card_of('five-long', 'Record sale in analytics', *'bcde') == (140, [140, 46])
    assert await card_of('eight-long', 'Record sale in analytics', *'bcdefgh') == (140, [140, 46])

    # a graph that only zoomed in shows names (fourteen columns fitted into 1000 px) takes what its names need
    assert await card_of('fourteen-long', 'Record sale in analytics', *'bcdefghijklmn') == (173, [173, 46])

    # the editor's preview has half a page: 560 px leave no room to widen three columns
    assert await card_of('three-long', 'Record sale in analytics', 'b', 'c') == (173, [173, 46])
    await sign_in(user, '/workflows/three-long/edit')
    await user.should_see(marker='editor-preview')
    (preview,) = user.find(marker='editor-preview').elements
    await until(lambda: any(isinstance(element, DagChart) for element in preview.descendants()), 'the preview')
    (chart,) = [element for element in preview.descendants() if isinstance(element, DagChart)]
    assert json.loads(chart.props['text'])['card'] == 140


async def test_a_tall_column_keeps_the_names_on_its_cards_while_the_canvas_can_grow_for_them(user: User) -> None:
    """A canvas of height 'auto' is 72 px a row up to 640 px, and grows up to 720 px where that keeps the names on
    the cards: the fan-out demo's 16 nodes in a column were dots by a few pixels. A taller column is drawn taller
    than the canvas, its cards named."""

    async def canvas_of(workflow_id: str, leaves: int) -> tuple[int | None, list[int], str]:
        nodes = [transform('split', 'input'), *(log(f'leaf_{n:02d}', 'x') for n in range(leaves))]
        edges = [{'source': 'split', 'target': f'leaf_{n:02d}'} for n in range(leaves)]
        chart = await _canvas_of(user, {'id': workflow_id, 'name': 'Fan', 'nodes': nodes, 'edges': edges})
        height = next(
            element.style['height'] for element in chart.ancestors() if element.style.get('height', '100%') != '100%'
        )
        return json.loads(chart.props['text'])['card'], _card_size(chart), height

    assert await canvas_of('fan-eight', 8) == (140, [140, 46], '640px')  # 8 rows: 72 px a row, at most 640
    card, size, height = await canvas_of('fan-sixteen', 16)  # as the fan-out demo: 646 px keep the names
    assert (card, height) == (140, '646px') and size[1] >= 28
    # 720 px would not: the canvas is 640 px, its drawing 44 px a row (it starts fitted into view, the names to read
    # once zoomed in)
    card, size, height = await canvas_of('fan-twenty', 20)
    assert (card, height) == (140, f'{math.ceil(20.6 * 44)}px') and size[1] >= 28
    (viewport,) = user.find(DagViewport).elements
    assert viewport.style['height'] == '640px'


async def _canvas_of(user: User, definition: dict[str, Any]) -> DagChart:
    """The canvas of the workflow page of ``definition``, saved first."""
    response = await api(user, 'PUT', f'/api/workflows/{definition["id"]}', definition)
    assert response.status_code == 201, response.text
    await sign_in(user, f'/workflows/{definition["id"]}')
    await user.should_see(marker='workflow-canvas')
    (chart,) = user.find(DagChart).elements
    assert isinstance(chart, DagChart)
    return chart


def _card_size(chart: DagChart) -> list[int]:
    """A node's size on ``chart``: [width, height] in px."""
    (nodes,) = [series for series in json.loads(chart.props['options'])['series'] if series['id'] == 'nodes']
    return list(nodes['symbolSize'])


async def test_unknown_workflow_says_so(user: User) -> None:
    await sign_in(user, '/workflows/nope')
    await user.should_see(marker='workflow-not-found')
    await user.should_see('Workflow not found')
    await user.should_see('If it was deleted, its executions stay in the history.')
    (link,) = user.find(marker='workflow-executions-link').elements
    assert link.props['href'] == '/executions?workflow_id=nope'


async def test_run_opens_the_new_execution(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'run')
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    summary = await wait_until_ended(user, path.rsplit('/', 1)[1])
    assert summary['workflow_id'] == 'quick'
    assert summary['status'] == 'succeeded'


async def test_input_dialog_checks_the_json_as_it_is_typed_and_sends_nothing_invalid(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'run-with-input')
    await user.should_see(marker='input-dialog')
    run = input_run_button(user)
    assert run.enabled  # empty means {}

    user.find(marker='input-json').type('{"order_id": ')
    await user.should_see('Not valid JSON', retries=20)  # as soon as typing pauses: no click needed
    assert not run.enabled
    user.find(marker='input-run').click()  # disabled: nothing happens
    user.find(marker='input-json').clear().type('[1, 2]')
    await user.should_see('must be a JSON object', retries=20)
    user.find(marker='input-json').clear().type('{"a": ' + '[' * 70 + ']' * 70 + '}')
    await user.should_see('nested more than 64 levels deep', retries=20)
    user.find(marker='input-json').clear().type('{"n": 100000000000000000000000}')  # the payload budget says no
    await user.should_see('the execution input at n holds an integer outside the 64-bit range', retries=20)
    assert not run.enabled
    user.find(marker='input-json').clear().type('{"n": 1, "ratio": NaN}')  # Python reads it; JSON has no NaN
    await user.should_see('the execution input at ratio: NaN and Infinity are not JSON numbers', retries=20)
    assert not run.enabled
    user.find(marker='input-json').clear().type('{"n": 1e999}')  # too large for a float: named as typed
    await user.should_see('the execution input at n: 1e999 is out of range: JSON numbers must be finite', retries=20)
    assert not run.enabled
    user.find(marker='input-json').clear().type('{"n": 1}')
    await user.should_not_see(marker='input-error', retries=20)
    assert run.enabled

    assert await executions_of(user, 'quick') == []
    await wait_for_path(user, '/workflows/quick')


async def test_input_dialog_runs_nothing_when_the_browser_text_never_reached_the_server(user: User) -> None:
    """The browser's editor holds more than the server's copy (an edit too large for the page's connection, a big
    paste, was dropped on its way): Run starts nothing and says why, as does the next pause in typing; closing the
    dialog puts the text back to what it opened with, and a run works again."""
    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'run-with-input')
    await user.should_see(marker='input-dialog')
    user.find(marker='input-json').type('{"n": 1}')
    await user.should_not_see(marker='input-error', retries=20)
    in_browser = {'extra': 1_200_000}  # characters the server never got
    rule = user.javascript_rules[EDITOR_LENGTH]
    user.javascript_rules[EDITOR_LENGTH] = lambda match: (rule(match) or 0) + in_browser['extra']

    user.find(marker='input-run').click()
    await user.should_see('This input did not reach flowmon', retries=20)
    assert not input_run_button(user).enabled
    user.find(marker='input-json').type(' ')  # a later edit applies to the server's wrong copy: still refused
    await user.should_see('This input did not reach flowmon', retries=20)
    assert not input_run_button(user).enabled
    assert await executions_of(user, 'quick') == []

    with user.scope(marker='input-dialog'):
        user.find('Cancel').click()  # (or Escape, or a click outside)
    in_browser['extra'] = 0  # the editor now shows what the server sends it
    await click_when_shown(user, 'run-with-input')
    await user.should_not_see(marker='input-error', retries=20)
    user.find(marker='input-json').type('{"n": 2}')
    user.find(marker='input-run').click()
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    assert (await wait_until_ended(user, path.rsplit('/', 1)[1]))['input'] == {'n': 2}


def input_run_button(user: User) -> ui.button:
    (button,) = user.find(marker='input-run').elements
    assert isinstance(button, ui.button)
    return button


async def test_input_dialog_sends_a_json_object_and_opens_the_execution(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'run-with-input')
    user.find(marker='input-json').type('{"order_id": "ORD-7", "total": 12.5}')
    user.find(marker='input-run').click()
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    summary = await wait_until_ended(user, path.rsplit('/', 1)[1])
    assert summary['input'] == {'order_id': 'ORD-7', 'total': 12.5}


async def typed_into_run_with_input(user: User, typed: str) -> None:
    await sign_in(user, '/workflows/quick')
    await user.should_see('Not run yet')  # (the whole page built)
    await click_when_shown(user, 'run-with-input')
    await user.should_see(marker='input-dialog')
    user.find(marker='input-json').type(typed)
    await until(lambda: input_run_button(user).enabled, 'the typed input to be checked')


async def refused_and_still_open(user: User, typed: str, refusal: str) -> None:
    """Run was refused: the notification names ``refusal``, and the dialog stays open with ``typed``, to try again."""
    user.find(marker='input-run').click()
    await until(lambda: any(refusal in message for message in user.notify.messages), 'the refusal to be said')
    await until(lambda: input_run_button(user).enabled, 'the click to be handled')
    assert dialog_open(user, 'input-dialog')
    (editor,) = user.find(marker='input-json').elements
    assert isinstance(editor, ui.codemirror) and editor.value == typed
    assert current_path(user) == '/workflows/quick'


async def test_a_run_with_input_refused_keeps_the_dialog_and_the_input(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = '{"order_id": "ORD-8"}'
    await typed_into_run_with_input(user, typed)

    async def queue_full(self: Executions, *args: Any, **kwargs: Any) -> str:
        raise Unavailable('1000 executions are queued already; try again later')

    with monkeypatch.context() as patched:
        patched.setattr(Executions, 'start', queue_full)
        await refused_and_still_open(user, typed, "Cannot run 'quick': 1000 executions are queued already")
    user.find(marker='input-run').click()  # the same input, once there is room
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    assert (await wait_until_ended(user, path.rsplit('/', 1)[1]))['input'] == {'order_id': 'ORD-8'}


async def test_a_run_with_input_of_a_workflow_deleted_meanwhile_keeps_the_input(user: User) -> None:
    typed = '{"order_id": "ORD-9"}'
    await typed_into_run_with_input(user, typed)
    assert (await api(user, 'DELETE', '/api/workflows/quick')).status_code == 204
    await refused_and_still_open(user, typed, "Workflow 'quick' no longer exists")


async def test_a_workflow_deleted_while_its_page_is_built_is_said_deleted_not_an_error(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted between the page's first read and its statistics' read: the page is built (no error panel, nothing
    logged as failed), the durations panel says why it is empty, and the page says the workflow was deleted."""
    trend = NodeStatistics.trend

    async def deleted_first(self: NodeStatistics, workflow_id: str) -> Any:
        assert (await api(user, 'DELETE', f'/api/workflows/{workflow_id}')).status_code == 204
        return await trend(self, workflow_id)

    monkeypatch.setattr(NodeStatistics, 'trend', deleted_first)
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker='durations-gone')
    await user.should_see('This workflow was deleted. Its executions stay in the history.')
    await user.should_not_see(marker='page-error')


async def test_history_lists_this_workflows_runs_live_and_filters_by_status(user: User) -> None:
    ok = await start(user, 'quick')
    await wait_until_ended(user, ok)
    other = await start(user, 'broken')
    await wait_until_ended(user, other)

    await sign_in(user, '/workflows/quick')
    await user.should_see(marker=f'execution-row-{ok}')
    await user.should_not_see(marker=f'execution-row-{other}')  # another workflow's run

    newer = await start(user, 'quick')
    await user.should_see(marker=f'execution-row-{newer}')  # joins the first page live

    await sign_in(user, '/workflows/quick?status=failed')
    await user.should_see('No executions match')
    await user.should_not_see(marker=f'execution-row-{ok}')


async def test_node_durations_chart_each_node_that_succeeded_once_it_has(user: User) -> None:
    """Before two runs the panel says so (one run is a lone dot, no trend); after two runs the chart has a line per
    node (named by node id, slowest median first) with a point per run, in milliseconds as every run took less than
    a second, and its labels carry the unit (no axis name under the legend on a phone)."""
    definition = chain('timed', 'Timed', transform('shape', 'input'), delay('pause', 0.2))
    response = await api(user, 'PUT', '/api/workflows/timed', definition)
    assert response.status_code == 201, response.text
    await sign_in(user, '/workflows/timed')
    await user.should_see(marker='duration-trend-empty')

    await wait_until_ended(user, await start(user, 'timed', {'input': {'n': 0}}))
    await sign_in(user, '/workflows/timed')
    await user.should_see(marker='duration-trend-empty')
    await user.should_see(marker='node-stats')
    await user.should_not_see('The chart shows')  # no chart: nothing left out of it to explain
    await wait_until_ended(user, await start(user, 'timed', {'input': {'n': 1}}))
    await sign_in(user, '/workflows/timed')
    await user.should_see(marker='duration-trend')
    await user.should_not_see('The chart shows')  # every node drawn
    (chart,) = user.find(marker='duration-trend').elements
    assert isinstance(chart, ui.echart)
    options = chart.options
    assert [line['name'] for line in options['series']] == ['pause', 'shape']  # the 200 ms delay first
    assert [len(line['data']) for line in options['series']] == [2, 2]
    assert options['legend']['data'] == ['pause', 'shape']
    assert options['yAxis']['axisLabel']['formatter'] == '{value} ms' and 'name' not in options['yAxis']
    assert all(200 <= value < 1000 for _, value in options['series'][0]['data'])  # the 0.2 s delay, in ms
    assert options['xAxis']['minInterval'] == 1000


DOOMED = {
    'id': 'doomed',
    'name': 'Doomed copy',
    'nodes': [{'id': 'shape', 'type': 'transform', 'config': {'expression': 'input'}}],
    'trigger': {'enabled': True},
    'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'},
}


def dialog_text(user: User) -> str:
    """Every line of the delete dialog, as shown."""
    (card,) = user.find(marker='confirm-delete-workflow').elements
    return ' '.join(element.text for element in card.descendants() if isinstance(element, ui.label))


async def test_delete_asks_what_goes_and_what_stays_then_opens_the_dashboard_without_it(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/doomed', DOOMED)).status_code == 201
    run = (await api(user, 'POST', '/api/workflows/doomed/executions', {})).json()
    await wait_until_ended(user, run['id'])
    await sign_in(user, '/workflows/doomed')
    await click_when_shown(user, 'delete-workflow')
    await user.should_see(marker='confirm-delete-workflow')
    text = dialog_text(user)
    assert 'Delete the workflow “Doomed copy”?' in text
    assert 'Its one execution stays in the history: it can still be opened, replayed and rerun' in text
    assert 'they can' not in text and 'This cannot be undone.' in text
    assert 'Its schedule (0 3 * * *) stops' in text
    assert 'Its trigger URL /hooks/doomed stops starting runs (calls get 404)' in text
    assert 'its trigger secret is deleted' in text
    assert 'next start' not in text  # not from a workflow file: nothing brings it back
    user.find(marker='confirm-delete-workflow-cancel').click()  # cancel keeps it
    await user.should_not_see(marker='confirm-delete-workflow')
    assert (await api(user, 'GET', '/api/workflows/doomed')).status_code == 200
    await wait_for_path(user, '/workflows/doomed')  # (still there)

    user.find(marker='delete-workflow').click()
    await click_when_shown(user, 'confirm-delete-workflow-ok')
    await wait_for_path(user, '/')
    await user.should_see('Workflow “Doomed copy” deleted.')
    assert (await api(user, 'GET', '/api/workflows/doomed')).status_code == 404
    assert (await api(user, 'GET', f'/api/executions/{run["id"]}')).status_code == 200  # its executions stay
    await user.should_see(marker='workflow-quick')  # the dashboard's list, without it
    await user.should_not_see(marker='workflow-doomed')
    user.find(marker='workflows-menu').trigger('beforeShow')  # the header's menu no longer lists it
    with user.scope(marker='workflows-menu'):
        await user.should_see('Quick check')
        await user.should_not_see('Doomed copy')


async def test_a_page_left_open_says_when_its_workflow_is_deleted_elsewhere_and_acts_no_more(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/doomed', DOOMED)).status_code == 201
    await sign_in(user, '/workflows/doomed')
    await user.should_see(marker='history-total')  # the page built whole
    await user.should_not_see(marker='workflow-deleted')
    assert (await api(user, 'DELETE', '/api/workflows/doomed')).status_code == 204  # another tab, the API
    await user.should_see(marker='workflow-deleted')
    await user.should_see('This workflow was deleted. Its executions stay in the history.')
    await user.should_not_see(marker='workflow-actions')
    with user:  # hidden, and disabled too (a keyboard shortcut clicks a hidden button)
        for marker in ('run', 'run-with-input', 'edit-workflow', 'delete-workflow'):
            (button,) = ElementFilter(kind=ui.button, marker=marker, only_visible=False)
            assert not button.enabled, marker
    await user.should_see('Doomed copy')  # what it showed stays readable


async def test_the_deleted_notice_is_told_to_screen_readers_and_links_to_the_workflows_executions(user: User) -> None:
    """As the execution page's notice: a status region, so a screen reader says it when it shows."""
    assert (await api(user, 'PUT', '/api/workflows/doomed', DOOMED)).status_code == 201
    await sign_in(user, '/workflows/doomed')
    await user.should_see(marker='history-total')
    assert (await api(user, 'DELETE', '/api/workflows/doomed')).status_code == 204
    await user.should_see(marker='workflow-deleted')
    (notice,) = user.find(marker='workflow-deleted').elements
    assert notice.props.get('role') == 'status'
    with user.scope(marker='workflow-deleted'):
        (link,) = user.find(kind=ui.link, content='Its executions').elements
    assert link.props['href'] == '/executions?workflow_id=doomed'


async def test_a_page_left_open_clears_the_revealed_trigger_secret_of_a_deleted_workflow_and_its_panel_acts_no_more(
    user: User,
) -> None:
    assert (await api(user, 'PUT', '/api/workflows/doomed', DOOMED)).status_code == 201
    secret = (await api(user, 'GET', '/api/workflows/doomed/trigger/secret')).json()['secret']
    await sign_in(user, '/workflows/doomed')
    await click_when_shown(user, 'trigger-reveal')
    await user.should_see(secret)
    assert (await api(user, 'DELETE', '/api/workflows/doomed')).status_code == 204  # another tab, the API
    await user.should_see(marker='workflow-deleted')
    await user.should_not_see(secret)  # gone with the workflow: nothing left to copy
    panel = (
        'trigger-copy',
        'trigger-copy-secret',
        'trigger-reveal',
        'trigger-rotate',
        'schedule-pause',
        'schedule-resume',
    )
    with user:  # hidden, and disabled too (a keyboard shortcut clicks a hidden button)
        for marker in panel:
            (button,) = ElementFilter(kind=ui.button, marker=marker, only_visible=False)
            assert not button.visible and not button.enabled, marker
    await user.should_see(marker='trigger-url')  # what it showed stays readable
    await user.should_see(marker='schedule-cron')
    with user:  # the schedule stopped with the workflow: not "active"
        (state,) = ElementFilter(kind=ui.badge, marker='schedule-state')
        assert state.text == 'stopped'


async def test_delete_deletes_nothing_when_the_workflow_was_saved_since_the_page_showed_it(user: User) -> None:
    assert (await api(user, 'PUT', '/api/workflows/doomed', DOOMED)).status_code == 201
    await sign_in(user, '/workflows/doomed')
    await click_when_shown(user, 'delete-workflow')
    saved = await api(user, 'PUT', '/api/workflows/doomed', {**DOOMED, 'description': 'saved meanwhile'})
    assert saved.status_code == 200, saved.text
    await click_when_shown(user, 'confirm-delete-workflow-ok')
    await user.should_see('Not deleted: “Doomed copy” was saved at')
    await user.should_see('Reload the page to see that version')
    stored = await api(user, 'GET', '/api/workflows/doomed')
    assert stored.status_code == 200 and stored.json()['description'] == 'saved meanwhile'
    await wait_for_path(user, '/workflows/doomed')  # (still there)

    await sign_in(user, '/workflows/doomed')  # reloaded: that version is the one deleted
    await click_when_shown(user, 'delete-workflow')
    await click_when_shown(user, 'confirm-delete-workflow-ok')
    await wait_for_path(user, '/')
    assert (await api(user, 'GET', '/api/workflows/doomed')).status_code == 404


async def test_deleting_a_workflow_from_a_file_says_the_file_brings_it_back_at_the_next_start(user: User) -> None:
    await sign_in(user, '/workflows/quick')  # quick.json in the workflows directory
    await click_when_shown(user, 'delete-workflow')
    await user.should_see(marker='confirm-delete-workflow')
    text = dialog_text(user)
    assert 'It comes back at the next start of flowmon: the workflow file quick.json loads it again' in text
    assert 'Remove the file from the workflows directory to delete it for good.' in text
    assert 'It has no executions.' in text and 'trigger' not in text and 'schedule (' not in text
    assert 'cannot be undone' not in text  # the file brings it back
    assert 'Until the next start of flowmon, which loads it again from its file.' in text
    user.find(marker='confirm-delete-workflow-ok').click()
    await wait_for_path(user, '/')
    await user.should_see('Workflow “Quick check” deleted.')
    assert (await api(user, 'GET', '/api/workflows/quick')).status_code == 404
