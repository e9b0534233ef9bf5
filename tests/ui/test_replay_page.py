"""The replay page in the user simulation: stepping matches the API's state at each position, ?at=k opens
there, the URL follows, jumps, keys, Gantt clicks, a picked node's row on the Gantt chart, a running execution's note,
unknown ids, and the execution page's history actions (export download, compare with the previous run) and import."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from nicegui import ElementFilter, ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User
from sample_workflows import fan_out, flaky
from uisim import (
    api,
    click_when_shown,
    node_status,
    record_urls,
    sign_in,
    start,
    text_of,
    wait_for_path,
    wait_until_ended,
)
from waiting import until

from flowmon.web.format import duration, short_id
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.timeline_chart import TimelineChart

# A node that fails once and succeeds on its second attempt, between two quick ones.
FLAKY = flaky(backoff_seconds=0.05, last_seconds=0.05)
NODES = ('fetch', 'charge', 'ship')
POSITION = re.compile(r'event (\d+) / (\d+) · \+[\d.:]+( s)?')


async def finished_flaky(user: User) -> str:
    response = await api(user, 'PUT', '/api/workflows/flaky', FLAKY)
    assert response.status_code in (200, 201), response.text
    execution_id = await start(user, 'flaky')
    await wait_until_ended(user, execution_id)
    return execution_id


def position(user: User) -> tuple[int, int]:
    match = POSITION.fullmatch(text_of(user, 'replay-position'))
    assert match, text_of(user, 'replay-position')
    return int(match[1]), int(match[2])


async def api_statuses(user: User, execution_id: str, k: int) -> dict[str, str]:
    response = await api(user, 'GET', f'/api/executions/{execution_id}/state?at={k}')
    assert response.status_code == 200, response.text
    nodes = response.json()['nodes']
    return {node_id: nodes[node_id]['status'] if node_id in nodes else 'pending' for node_id in NODES}


def page_statuses(user: User) -> dict[str, str]:
    return {node_id: node_status(user, node_id) for node_id in NODES}


def log_empty_text(user: User) -> str:
    """What the event log says while it shows no line (its ``data-empty`` attribute, drawn by CSS)."""
    (log,) = user.find(marker='event-log').elements
    return str(log.props.get('data-empty'))


async def wait_position(user: User, k: int) -> None:
    await until(lambda: position(user)[0] == k, f'the replay at event {k}', seen=lambda: position(user))


async def test_stepping_matches_the_state_the_api_reports_at_each_position(user: User) -> None:
    execution_id = await finished_flaky(user)
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-position')
    k, n = position(user)
    assert k == 0 and n > 8
    assert page_statuses(user) == dict.fromkeys(NODES, 'pending')
    assert text_of(user, 'execution-status') == 'not queued yet'  # before its first event, execution.queued
    assert log_empty_text(user) == 'No event at this position yet: press play or step forward (→).'
    seen: set[str] = set()
    for expected in range(1, n + 1):
        user.find(marker='replay-step-forward').click()
        await wait_position(user, expected)
        if expected == 1:
            assert text_of(user, 'execution-status') == 'queued'
            assert log_empty_text(user) == 'No event matches the filters.'  # (shown only while no line is)
        statuses = page_statuses(user)
        assert statuses == await api_statuses(user, execution_id, expected), f'at event {expected}'
        seen.update(statuses.values())
    assert {'running', 'retrying', 'succeeded'} <= seen
    for expected in (n - 1, n - 2):
        user.find(marker='replay-step-back').click()
        await wait_position(user, expected)
        assert page_statuses(user) == await api_statuses(user, execution_id, expected)
    user.find(marker='replay-jump-to-start').click()
    await wait_position(user, 0)
    assert page_statuses(user) == dict.fromkeys(NODES, 'pending')
    assert text_of(user, 'execution-status') == 'not queued yet'
    assert log_empty_text(user).startswith('No event at this position yet')
    user.find(marker='replay-jump-to-end').click()
    await wait_position(user, n)
    assert page_statuses(user) == dict.fromkeys(NODES, 'succeeded')
    assert text_of(user, 'execution-status') == 'succeeded'


async def test_the_url_opens_at_a_position_and_follows_it(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = await finished_flaky(user)
    urls = record_urls(monkeypatch)
    await sign_in(user, f'/executions/{execution_id}/replay?at=4')
    await user.should_see(marker='replay-position')
    assert position(user)[0] == 4
    assert page_statuses(user) == await api_statuses(user, execution_id, 4)
    user.find(marker='replay-step-forward').click()
    await wait_position(user, 5)
    assert urls[-1] == f'/executions/{execution_id}/replay?at=5'
    assert f'/executions/{execution_id}/replay?at=4' not in urls  # opening at ?at=4 left the URL alone


async def test_out_of_range_and_junk_positions_are_clamped_or_ignored(user: User) -> None:
    execution_id = await finished_flaky(user)
    await sign_in(user, f'/executions/{execution_id}/replay?at=99999')
    await user.should_see(marker='replay-position')
    k, n = position(user)
    assert k == n
    await user.open(f'/executions/{execution_id}/replay?at=soon')
    await user.should_see(marker='replay-position')
    assert position(user)[0] == 0


async def test_playing_advances_to_the_end_and_stops(user: User) -> None:
    execution_id = await finished_flaky(user)
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-position')
    n = position(user)[1]
    user.find(marker='replay-speed').elements.pop().set_value('4x')
    user.find(marker='replay-play').click()
    await wait_position(user, n)
    await user.should_see(marker='replay-play')  # stopped at the end: Play shows again
    assert page_statuses(user) == dict.fromkeys(NODES, 'succeeded')


async def test_keys_step_play_and_jump(user: User) -> None:
    execution_id = await finished_flaky(user)
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-position')
    n = position(user)[1]

    def press(key: str) -> None:
        user.find(ui.keyboard).trigger(
            'key',
            {'action': 'keydown', 'key': key, 'code': key, 'location': 0, 'repeat': False,
             'altKey': False, 'ctrlKey': False, 'shiftKey': False, 'metaKey': False},
        )  # fmt: skip

    press('ArrowRight')
    press('ArrowRight')
    await wait_position(user, 2)
    press('ArrowLeft')
    await wait_position(user, 1)
    press('End')
    await wait_position(user, n)
    press('Home')
    await wait_position(user, 0)


async def test_scrubber_and_gantt_jump(user: User) -> None:
    execution_id = await finished_flaky(user)
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-position')
    n = position(user)[1]
    slider = user.find(marker='replay-slider').elements.pop()
    assert isinstance(slider, ui.slider)
    slider.set_value(slider.props['max'])  # as if dragged to the end
    await wait_position(user, n)
    gantt = user.find(marker='replay-gantt').elements.pop()
    series = json.loads(gantt.props['options'])['series'][0]['data']  # the segments the chart draws
    retried = next(item for item in series if item['value'][0] == 1 and item['itemStyle']['color'] == '#f59e0b')
    user.find(marker='replay-gantt').trigger('span_click', retried['value'])  # as a click on the segment emits
    await wait_position(user, retried['value'][4])
    assert node_status(user, 'charge') == 'retrying'
    await user.should_see(marker='inspector')
    await user.should_see('gateway timeout')


async def test_a_running_execution_replays_what_was_recorded_so_far(user: User) -> None:
    execution_id = await start(user, 'slow')
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-running-note')
    user.find(marker='replay-jump-to-end').click()
    await user.should_see(marker='replay-position')
    assert node_status(user, 'wait') == 'running'


async def test_a_replay_says_its_execution_was_deleted_and_leads_no_more_to_its_page(user: User) -> None:
    """Opened while the run went (the note offers its live view), then the run is cancelled and deleted elsewhere:
    the page says so, the replay goes on with what it read, and nothing leads to the page that is gone."""
    execution_id = await start(user, 'slow')
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-running-note')
    await user.should_see(marker='open-execution')
    await user.should_not_see(marker='replay-deleted')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')
    await wait_until_ended(user, execution_id)
    assert (await api(user, 'DELETE', f'/api/executions/{execution_id}')).status_code == 204
    await user.should_see('This execution was deleted', marker='replay-deleted')
    for marker in ('open-execution', 'replay-running-note'):  # "Live view" would open a "not found"
        await user.should_not_see(marker=marker)
    with user:  # nor the breadcrumb's link to it
        page = f'/executions/{execution_id}'
        assert not [link for link in ElementFilter(kind=ui.link, only_visible=True) if link.props['href'] == page]
    user.find(marker='replay-jump-to-end').click()  # what it read still replays
    await until(lambda: node_status(user, 'wait') == 'running', 'the replay to show the run as it read it')


async def test_unknown_execution_gets_a_message(user: User) -> None:
    await sign_in(user, '/executions/does-not-exist/replay')
    await user.should_see(marker='replay-not-found')
    await user.should_see("There is no execution with the id 'does-not-exist'.")


async def test_execution_page_offers_replay_export_and_compare_with_previous(user: User) -> None:
    first = await finished_flaky(user)
    second = await start(user, 'flaky')
    await wait_until_ended(user, second)
    await sign_in(user, f'/executions/{second}')
    await user.should_see(marker='export-execution')
    user.download.http_responses.clear()
    user.find(marker='export-execution').click()
    responses = await until(lambda: user.download.http_responses, 'the export download')
    document = json.loads(responses[-1].content)
    assert document['format'] == 'flowmon.execution' and document['execution']['id'] == second
    user.find(marker='compare-previous').click()
    await wait_for_path(user, rf'/compare\?a={first}&b={second}')
    await user.should_see(marker='first-divergence')
    await sign_in(user, f'/executions/{second}')
    await click_when_shown(user, 'replay-execution')
    await wait_for_path(user, rf'/executions/{second}/replay')


async def test_a_rerun_compares_with_the_run_it_reran_not_the_one_before_it(user: User) -> None:
    reran = await finished_flaky(user)
    between = await start(user, 'flaky')  # started after the original, before its rerun
    await wait_until_ended(user, between)
    response = await api(user, 'POST', f'/api/executions/{reran}/rerun')
    assert response.status_code == 202, response.text
    rerun = response.json()['id']
    await wait_until_ended(user, rerun)
    await sign_in(user, f'/executions/{rerun}')
    await user.should_see(marker='compare-previous')
    await user.should_see(f'Compare with the run it reruns ({short_id(reran)})')
    user.find(marker='compare-previous').click()
    await wait_for_path(user, rf'/compare\?a={reran}&b={rerun}')


async def test_import_rejects_a_bad_file_and_replays_a_good_one(user: User) -> None:
    execution_id = await finished_flaky(user)
    export = await api(user, 'GET', f'/api/executions/{execution_id}/export')
    before = (await api(user, 'GET', '/api/executions?limit=500')).json()['total']
    await sign_in(user, '/executions')
    await click_when_shown(user, 'import-execution')
    upload = user.find(ui.upload).elements.pop()
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload('bad.json', 'application/json', b'{"format": "something else"}')])
    await user.should_see('bad.json cannot be imported: not a flowmon execution export')
    assert (await api(user, 'GET', '/api/executions?limit=500')).json()['total'] == before
    await upload.handle_uploads([SmallFileUpload('run.json', 'application/json', export.content)])
    path = await wait_for_path(user, r'/executions/[^/]+/replay')
    new_id = path.split('/')[2]
    assert new_id != execution_id
    await user.should_see(marker='replay-position')
    user.find(marker='replay-jump-to-end').click()
    await user.should_see(marker='replay-position')
    assert page_statuses(user) == dict.fromkeys(NODES, 'succeeded')


async def test_a_file_over_the_import_limit_is_refused_saying_the_limit(user: User) -> None:
    await sign_in(user, '/executions')
    await click_when_shown(user, 'import-execution')
    user.find(ui.upload).trigger('rejected')  # what the browser's uploader says of a file over max_file_size
    await user.should_see('That file is too large to import: the limit is 50 MB.')


async def test_the_gantt_chart_shows_the_wait_in_the_queue(user: User) -> None:
    execution_id = await finished_flaky(user)
    summary = (await api(user, 'GET', f'/api/executions/{execution_id}')).json()
    waited = (
        datetime.fromisoformat(summary['started_at']) - datetime.fromisoformat(summary['created_at'])
    ).total_seconds()
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-gantt')
    options = json.loads(user.find(marker='replay-gantt').elements.pop().props['options'])
    (queue,) = next(series for series in options['series'] if series['id'] == 'queue')['data']
    assert queue['value'] == [0, round(waited, 4)] and queue['name'] == f'queued {duration(waited * 1000)}'
    assert 'until it started' in queue['tooltip']['formatter']
    assert options['grid']['top'] == 30  # the lane above the node rows
    spans = options['series'][0]['data']
    assert min(span['value'][1] for span in spans) >= round(waited, 4)  # the nodes ran after it


# A run with more nodes than the Gantt chart shows at a time: one node fanning out to thirty (31 rows).
FAN_OUT = fan_out('fan', 30)


async def test_a_picked_node_out_of_the_gantt_charts_window_is_brought_into_it_and_marked(user: User) -> None:
    response = await api(user, 'PUT', '/api/workflows/fan', FAN_OUT)
    assert response.status_code in (200, 201), response.text
    execution_id = await start(user, 'fan')
    await wait_until_ended(user, execution_id)
    await sign_in(user, f'/executions/{execution_id}/replay')
    await user.should_see(marker='replay-gantt')
    gantt = user.find(marker='replay-gantt').elements.pop()
    assert isinstance(gantt, TimelineChart)
    (rows,) = json.loads(gantt.props['options'])['dataZoom']
    assert (rows['show'], rows['startValue'], rows['endValue']) == (True, 0, 19)  # 20 of the 31 rows, and a slider
    assert gantt.snapshot()['picked'] == -1

    user.find(marker='node-list').trigger('select', 'w29')  # what the list emits for a click on a row
    await user.should_see('w29', marker='inspector')
    row = gantt.rows.index('w29')
    first, last = gantt.snapshot()['window']
    assert first <= row <= last and last - first == 19  # moved to it, keeping its size
    assert gantt.snapshot()['picked'] == row

    # the slider moved the window (as the browser reports it); a node picked on the canvas inside it leaves it there
    user.find(marker='replay-gantt').trigger('window', [5, 24])
    user.find(DagChart).trigger('node_click', 'w10')
    await user.should_see('w10', marker='inspector')
    assert gantt.snapshot()['picked'] == gantt.rows.index('w10') and gantt.snapshot()['window'] == (5, 24)


async def test_a_run_whose_events_share_one_time_is_scrubbed_by_event(user: User) -> None:
    """An import whose events all have one time: a track by time has both ends at +0 s, so its end showed event 0;
    the scrubber goes by event instead, its end the last one and its middle the middle one."""
    ended = await start(user, 'quick')
    await wait_until_ended(user, ended)
    exported = json.loads((await api(user, 'GET', f'/api/executions/{ended}/export')).content)
    at = exported['events'][0]['ts']
    for event in exported['events']:
        event['ts'] = at
    exported['execution']['finished_at'] = at
    imported = await api(user, 'POST', '/api/executions/import', exported)
    assert imported.status_code == 201, imported.text
    await sign_in(user, f'/executions/{imported.json()["id"]}/replay')
    await user.should_see(marker='replay-position')
    n = position(user)[1]
    slider = user.find(marker='replay-slider').elements.pop()
    assert isinstance(slider, ui.slider) and slider.props['max'] == n
    slider.set_value(slider.props['max'])  # as if dragged to the end
    await wait_position(user, n)
    slider.set_value(2)
    await wait_position(user, 2)
