"""Untrusted text is data, never markup, on every page that shows it (issue 10, findings 1 and 8).

Markers go in through every field a page shows: the workflow's name and description, node names, a log node's
message, node inputs and outputs (a transform's string and object outputs, an http node's response), a fail node's
error, a webhook receiver's response body, the request body of a delivery, an endpoint's description, and an
imported execution whose events carry markers in errors, tracebacks, outputs and the webhook-id of its trigger.
Every page that shows them is opened in Chromium (with the inspector on the marked nodes, the replay scrubber's tick
titles, the Gantt and DAG tooltips, the compare page's output diff and the delivery's response body), and each time:

- no element the markers describe exists (``#fm-marker-b``, ``#fm-marker-form``, an ``<img>`` from them),
- no script from them ran (``window.__xss`` stays undefined) and nothing was fetched from 198.51.100.1,
- the marker is on the page as literal text (so a page that simply did not show the field would fail too).

Screenshots (light and dark) go to test-output/screenshots/markers-*.png.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import Receiver, Reply, start, wait_ended, wait_for, wait_loaded
from playwright.sync_api import Page, Request, expect

Server = Any  # the session server fixture of tests/e2e/conftest.py
Api = Callable[..., httpx.Response]

PIXEL_HOST = '198.51.100.1'
IMG = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
BOLD = '<b id="fm-marker-b">bold</b>'
FORM = f'<form id="fm-marker-form"><img src="http://{PIXEL_HOST}/pixel.png">'
LINE = f'{IMG}{BOLD}```{FORM}'  # one line, for names (at most 200 characters)
TEXT = f'{IMG}{BOLD}\n```\n{FORM}\n```\nend of marker'  # with a fence on its own lines, for messages and bodies
# What a page shows when the marker is text: substrings that survive JSON escaping (no quotes, no backslashes).
LITERALS = ('<img src=x onerror=', 'bold</b>', '<form id=')
WORKFLOW_ID = 'xss-markers'
PADDING = '\n' + '. ' * 2500  # makes the http node's output too big for the tree view: the plain-text path


def workflow(receiver_url: str) -> dict[str, Any]:
    return {
        'id': WORKFLOW_ID,
        'name': LINE,
        'description': TEXT,
        'nodes': [
            {'id': 'say', 'type': 'log', 'name': f'say {LINE}', 'config': {'message': TEXT}},
            {'id': 'echo', 'type': 'transform', 'name': f'echo {LINE}', 'config': {'expression': 'input.text'}},
            {'id': 'shape', 'type': 'transform', 'name': 'shape', 'config': {'expression': '{text: input.text}'}},
            {'id': 'fetch', 'type': 'http', 'name': 'fetch', 'config': {'url': receiver_url}},
            {'id': 'notify', 'type': 'webhook', 'name': 'notify', 'config': {'url': receiver_url, 'wait': True}},
            {'id': 'boom', 'type': 'fail', 'name': f'boom {LINE}', 'config': {'message': TEXT}},
            {'id': 'after', 'type': 'log', 'name': 'after', 'config': {'message': 'never runs'}},
        ],
        'edges': [{'source': 'echo', 'target': 'after'}, {'source': 'boom', 'target': 'after'}],
    }


def run(server: Any, payload: dict[str, Any]) -> str:
    execution_id = start(server, WORKFLOW_ID, {'input': payload})
    wait_ended(server, execution_id)
    return execution_id


class Watch:
    """What the page did that markup from the markers would cause: requests to the pixel host."""

    def __init__(self, page: Page) -> None:
        self.pixel_requests: list[str] = []
        page.context.on('request', self._seen)

    def _seen(self, request: Request) -> None:
        if PIXEL_HOST in request.url:
            self.pixel_requests.append(request.url)


def assert_inert(page: Page, watch: Watch, where: str, *, literal_in: str = 'body') -> None:
    """No element, no script, no remote fetch from the markers; and the marker shown as text in ``literal_in``."""
    page.wait_for_timeout(150)  # let a late render (a timer tick, a dialog) land before looking
    found = page.evaluate(
        """() => ({
            bold: document.querySelectorAll('#fm-marker-b').length,
            form: document.querySelectorAll('#fm-marker-form').length,
            imgs: [...document.querySelectorAll('img')].filter(
                (i) => i.getAttribute('src') === 'x' || (i.getAttribute('src') || '').includes('198.51.100.1')).length,
            xss: typeof window.__xss,
        })"""
    )
    assert found == {'bold': 0, 'form': 0, 'imgs': 0, 'xss': 'undefined'}, f'{where}: markup from a marker: {found}'
    assert not watch.pixel_requests, f'{where}: fetched {watch.pixel_requests}'
    text = page.locator(literal_in).first.evaluate('(el) => el.innerText || el.textContent')
    missing = [literal for literal in LITERALS if literal not in text]
    assert not missing, f'{where}: the marker is not shown as text in {literal_in} (missing {missing})'


def inspect(page: Page, watch: Watch, node_id: str, where: str) -> None:
    """Open the inspector on ``node_id`` and check it (and the page) with the node's error and payloads shown."""
    close = page.get_by_role('button', name='Close inspector')
    if close.count() and close.is_visible():  # it covers the node list
        close.click()
        expect(page.get_by_test_id('inspector')).to_be_hidden()
    page.get_by_test_id(f'node-{node_id}').click()
    inspector = page.get_by_test_id('inspector')
    expect(inspector).to_be_visible()
    expect(inspector).to_contain_text(node_id)
    traceback = inspector.get_by_role('button', name='Traceback')
    if traceback.count():
        traceback.click()  # an expansion opens once the server has the click: wait for what it shows
        expect(inspector.get_by_test_id('inspector-traceback')).to_be_visible()
    assert_inert(page, watch, f'{where}, inspector on {node_id}', literal_in='[data-testid=inspector]')


def shot(page: Page, path: Path, *, full_page: bool = False) -> None:
    """A screenshot once dialogs and expansions have finished opening."""
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=full_page)


def show_tooltips(page: Page, testid: str) -> str:
    """Show the ECharts tooltip of every item of the chart in ``testid`` (as hovering would); their texts."""
    return str(
        page.evaluate(
            """(testid) => {
                const chart = getElement(document.querySelector(`[data-testid=${testid}]`)).chart;
                const texts = [];
                chart.getOption().series.forEach((series, seriesIndex) => {
                    (series.data || []).forEach((_, dataIndex) => {
                        chart.dispatchAction({type: 'showTip', seriesIndex, dataIndex});
                        // the chart's tooltip: the one with its class name (the canvas's, in the body), or in the chart
                        const name = (chart.getOption().tooltip || [{}])[0].className;
                        const tips = name
                            ? document.querySelectorAll(`.${name}`)
                            : chart.getDom().parentElement.querySelectorAll('div');
                        texts.push([...tips]
                            .filter((d) => d.style.zIndex === '9999999' && d.style.visibility !== 'hidden')
                            .map((d) => d.innerText).join(' '));
                    });
                });
                return texts.join('\\n');
            }""",
            testid,
        )
    )


def assert_tooltips(page: Page, watch: Watch, testid: str, where: str) -> None:
    texts = show_tooltips(page, testid)
    missing = [literal for literal in LITERALS if literal not in texts]
    assert not missing, f'{where}: tooltips do not show the marker as text (missing {missing}): {texts[:500]}'
    assert_inert(page, watch, where)


@pytest.fixture
def marked(server: Any, call_api: Api) -> Iterator[dict[str, Any]]:
    """The marked workflow, a receiver answering with markers, an endpoint (described with markers) subscribed to
    execution.failed, and two finished runs with different marked inputs."""
    wait_loaded(server)
    receiver = Receiver(lambda _: Reply(200, headers={'Content-Type': 'text/plain'}, body=(TEXT + PADDING).encode()))
    receiver.start()
    endpoint = call_api(
        'POST',
        '/api/webhooks/endpoints',
        {'url': receiver.url, 'event_types': ['execution.failed'], 'description': LINE},
    )
    assert endpoint.status_code == 201, endpoint.text
    endpoint_id = endpoint.json()['id']
    try:
        saved = call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', workflow(receiver.url))
        assert saved.status_code in (200, 201), saved.text
        first = run(server, {'text': TEXT})
        second = run(server, {'text': f'{TEXT} (second run)'})
        yield {'receiver': receiver, 'endpoint_id': endpoint_id, 'a': first, 'b': second}
    finally:
        call_api('DELETE', f'/api/webhooks/endpoints/{endpoint_id}')
        call_api('DELETE', f'/api/workflows/{WORKFLOW_ID}')
        receiver.stop()


def marked_export(call_api: Api, execution_id: str) -> dict[str, Any]:
    """The export of a real run with markers written into its events' errors, tracebacks and outputs."""
    response = call_api('GET', f'/api/executions/{execution_id}/export')
    assert response.status_code == 200, response.text
    document = copy.deepcopy(response.json())
    document['events'][0]['data']['trigger'] = {'type': 'hook', 'webhook-id': LINE}  # how it started, kept on import
    for event in document['events']:
        data = event.get('data') or {}
        if 'error' in data:
            data['error'] = f'imported {TEXT}'
        if event['type'] == 'node.failed':
            data['traceback'] = f'Traceback (most recent call last):\n  imported {TEXT}'
        if event['type'] == 'node.completed' and event.get('node_id') == 'echo':
            data['output'] = f'imported {TEXT}'
    return document


def test_markers_stay_text_on_every_page(
    page: Page, server: Server, call_api: Api, marked: dict[str, Any], shots: Path
) -> None:
    watch = Watch(page)
    a, b = marked['a'], marked['b']
    assert call_api('GET', f'/api/executions/{a}').json()['status'] == 'failed'

    page.goto(f'/?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    expect(page.get_by_test_id(f'workflow-{WORKFLOW_ID}')).to_be_visible()
    assert_inert(page, watch, 'dashboard', literal_in=f'[data-testid=workflow-{WORKFLOW_ID}]')
    shot(page, shots / 'markers-dashboard.png', full_page=True)

    page.goto(f'/workflows/{WORKFLOW_ID}')
    expect(page.get_by_test_id('execution-row').first).to_be_visible()
    assert_inert(page, watch, 'workflow page')
    page.wait_for_function('() => document.querySelectorAll("[data-testid=dag-canvas] svg text").length > 0')
    assert_tooltips(page, watch, 'dag-canvas', 'workflow page, DAG tooltips')
    # the canvas's node click (opens the node details dialog), as a click on the node's card emits it
    page.evaluate("() => getElement(document.querySelector('[data-testid=dag-canvas]')).$emit('node_click', 'say')")
    details = page.locator('.nicegui-card', has_text='message')
    expect(details.last).to_be_visible()
    assert_inert(page, watch, 'workflow page, node details', literal_in='.q-dialog')
    shot(page, shots / 'markers-workflow-node.png')
    page.keyboard.press('Escape')

    page.goto('/executions')
    expect(page.locator(f'[data-execution-id="{a}"]')).to_be_visible()
    assert_inert(page, watch, 'executions list', literal_in=f'[data-execution-id="{a}"]')

    page.goto(f'/executions/{a}')
    expect(page.get_by_test_id('execution-status')).to_have_text('failed')
    assert_inert(page, watch, 'execution page')
    expect(page.get_by_test_id('event-log')).to_contain_text('bold</b>')
    assert_inert(page, watch, 'execution page, event log', literal_in='[data-testid=event-log]')
    for node_id in ('say', 'echo', 'shape', 'fetch', 'boom'):
        inspect(page, watch, node_id, 'execution page')
        if node_id == 'fetch':
            shot(page, shots / 'markers-inspector-output.png')
    shot(page, shots / 'markers-inspector-error.png')
    assert_tooltips(page, watch, 'dag-canvas', 'execution page, DAG tooltips')

    page.goto(f'/executions/{a}/replay')
    page.get_by_role('button', name='Jump to end').click()
    expect(page.get_by_test_id('execution-status')).to_have_text('failed')
    titles = page.locator('[data-testid=replay-ticks] title')
    assert titles.count() > 0
    assert_tooltips(page, watch, 'replay-gantt', 'replay page, Gantt tooltips')
    inspect(page, watch, 'boom', 'replay page')
    shot(page, shots / 'markers-replay.png', full_page=True)

    page.goto(f'/compare?a={a}&b={b}')
    expect(page.get_by_test_id('diff-echo')).to_be_visible()
    page.get_by_role('button', name='Jump to end').click()
    expect(page.get_by_test_id('diff-output-echo')).to_have_text('differs')
    assert_inert(page, watch, 'compare page', literal_in='[data-testid=diff-table]')
    page.get_by_test_id('diff-echo').click()
    expect(page.get_by_test_id('json-diff')).to_contain_text('second run')
    assert_inert(page, watch, 'compare page, output diff', literal_in='[data-testid=json-diff]')
    shot(page, shots / 'markers-compare-diff.png')

    imported = call_api('POST', '/api/executions/import', marked_export(call_api, a))
    assert imported.status_code == 201, imported.text
    imported_id = imported.json()['id']
    page.goto(f'/executions/{imported_id}/replay')
    page.get_by_role('button', name='Jump to end').click()
    expect(page.get_by_test_id('execution-status')).to_have_text('failed')
    expect(page.get_by_test_id('event-log')).to_contain_text('imported')
    assert_inert(page, watch, 'replay of an import', literal_in='[data-testid=event-log]')
    assert_tooltips(page, watch, 'replay-gantt', 'replay of an import, Gantt tooltips')
    for node_id in ('echo', 'boom'):
        inspect(page, watch, node_id, 'replay of an import')
    shot(page, shots / 'markers-imported-traceback.png')
    page.goto(f'/executions/{imported_id}')
    expect(page.get_by_test_id('execution-status')).to_have_text('failed')
    assert_inert(page, watch, 'execution page of an import, trigger', literal_in='[data-testid=execution-trigger]')
    inspect(page, watch, 'boom', 'execution page of an import')
    page.goto(f'/compare?a={a}&b={imported_id}')
    expect(page.get_by_test_id('diff-echo')).to_be_visible()
    page.get_by_role('button', name='Jump to end').click()
    # the table rebuilt at the end (a click on a row the server is replacing is lost), as in the first compare above
    expect(page.get_by_test_id('diff-output-echo')).to_have_text('differs')
    page.get_by_test_id('diff-echo').click()
    expect(page.get_by_test_id('json-diff')).to_contain_text('imported')
    assert_inert(page, watch, 'compare with an import, output diff', literal_in='[data-testid=json-diff]')

    deliveries = wait_for(
        lambda: call_api('GET', f'/api/webhooks/deliveries?endpoint={marked["endpoint_id"]}').json()['items'],
        'the execution.failed delivery',
    )
    page.goto('/webhooks')
    expect(page.locator(f'[data-endpoint-id="{marked["endpoint_id"]}"]')).to_be_visible()
    assert_inert(page, watch, 'webhooks list', literal_in=f'[data-endpoint-id="{marked["endpoint_id"]}"]')
    node_deliveries = [item for item in call_api('GET', '/api/webhooks/deliveries').json()['items']
                       if item.get('source') == 'node' and item.get('execution_id') == a]  # fmt: skip
    assert node_deliveries, 'the webhook node made no delivery'
    for delivery_id, what in ((deliveries[0]['id'], 'subscription'), (node_deliveries[0]['id'], 'webhook node')):
        page.goto(f'/webhooks/deliveries/{delivery_id}')
        expect(page.get_by_text('Body ·')).to_be_visible()
        assert_inert(page, watch, f'delivery page ({what}), request body')
        page.get_by_text('Request & response').first.click()
        # the expansion opens once the server has the click (its text is in the page, hidden, before that)
        expect(page.get_by_test_id('attempt-response-body').first).to_be_visible()
        assert_inert(
            page, watch, f'delivery page ({what}), response body', literal_in='[data-testid=attempt-response-body]'
        )
    shot(page, shots / 'markers-delivery.png', full_page=True)

    page.get_by_test_id('theme-toggle').click()
    try:
        shot(page, shots / 'markers-delivery-dark.png', full_page=True)
        page.goto(f'/executions/{imported_id}')
        expect(page.get_by_test_id('execution-status')).to_have_text('failed')
        inspect(page, watch, 'boom', 'execution page of an import, dark')
        shot(page, shots / 'markers-inspector-dark.png')
        inspect(page, watch, 'fetch', 'execution page, dark')
        shot(page, shots / 'markers-inspector-output-dark.png')
    finally:
        page.get_by_test_id('theme-toggle').click()  # leave the session's preference as it was
    assert not watch.pixel_requests


def test_marker_node_id_on_an_execution_event_is_refused_or_inert(
    page: Page, server: Server, call_api: Api, marked: dict[str, Any]
) -> None:
    """Finding 1 as reported: an import whose ``execution.failed`` event names a node id that is markup. Either the
    import refuses it (4xx naming ``node_id``) or the replay and compare pages show it as text."""
    watch = Watch(page)
    document = marked_export(call_api, marked['a'])
    final = next(event for event in reversed(document['events']) if event['type'] == 'execution.failed')
    final['node_id'] = f'</svg>{IMG}{BOLD}'
    response = call_api('POST', '/api/executions/import', document)
    if response.status_code != 201:
        assert 400 <= response.status_code < 500 and 'node_id' in response.text, response.text
        return
    imported_id = response.json()['id']
    page.goto(f'/executions/{imported_id}/replay?token={server.token}')
    page.wait_for_function('() => window.socket && window.socket.connected')
    titles = page.locator('[data-testid=replay-ticks] title')
    expect(titles.last).to_be_attached()
    assert_inert(page, watch, 'replay of an import with a markup node id', literal_in='body')
    shown = ' '.join(titles.all_text_contents())
    assert '</svg>' in shown and 'bold</b>' in shown, shown
    page.goto(f'/compare?a={marked["a"]}&b={imported_id}')
    expect(page.get_by_test_id('diff-table')).to_be_visible()
    assert_inert(page, watch, 'compare with an import with a markup node id', literal_in='body')
