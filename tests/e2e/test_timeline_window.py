"""The Timeline of a run with more nodes than it shows at a time, in a real Chromium: 20 rows in view with a slider
beside them; a node picked in the node list whose row is out of view brings it in (the window keeps its size) and
marks it; where the slider left the window is where a pick starts from; the replay page's chart alike, in dark mode.
The node list alike: a node picked on the canvas or the Timeline has its row scrolled into the list's view (the list
scrolls, the page does not). The open inspector covers none of the page: at 1280 x 800 the page (the Timeline and its
slider included) narrows beside it, its actions on one line; on a phone it is a sheet that slides up along the
bottom, that every part of the page can be scrolled above; while it is open the Timeline shows the rows the room above
it takes, and a row tapped where it opens (on the Timeline, in the node list) is brought above it, a tapped segment's
tooltip gone (a card tapped on the canvas shows none). Screenshots go to test-output/screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from helpers import WIDE, click_on_canvas, node_pixel, sign_in, start, steady, tap_chart, wait_ended, wait_loaded
from playwright.sync_api import Browser, Locator, Page, expect
from waiting import wait_until

Api = Callable[..., httpx.Response]
T = TypeVar('T')
SHARDS = 118  # with the split and the join: 120 nodes
FAN_OUT = {
    'id': 'e2e-timeline-fan-out',
    'name': 'A hundred and eighteen shards',
    'nodes': [
        {'id': 'split', 'type': 'log', 'name': 'Split the batch', 'config': {'message': 'x'}},
        *(
            {'id': f'w{i:03d}', 'type': 'log', 'name': f'Process shard {i}', 'config': {'message': f'shard {i}'}}
            for i in range(SHARDS)
        ),
        {'id': 'join', 'type': 'log', 'name': 'Join the shards', 'config': {'message': 'x'}},
    ],
    'edges': [
        *({'source': 'split', 'target': f'w{i:03d}'} for i in range(SHARDS)),
        *({'source': f'w{i:03d}', 'target': 'join'} for i in range(SHARDS)),
    ],
}
# the Gantt's window of rows ([first, last]), whether its slider shows, and the row names drawn bold
ROWS = """async () => {
 const { echarts } = await import('nicegui-echart');
 const gantt = document.querySelector('[data-testid=replay-gantt]');
 const chart = gantt && echarts.getInstanceByDom(gantt);
 if (!chart) return null;
 const option = chart.getOption();
 const zoom = option.dataZoom[0];
 const bold = option.yAxis[0].data.filter((d) => d?.textStyle?.fontWeight === 'bold').map((d) => d.value);
 return { window: [zoom.startValue, zoom.endValue], slider: zoom.show, bold };
}"""
# the Gantt's row names drawn on its canvas now
DRAWN = """async () => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 return chart.getZr().storage.getDisplayList()
  .filter((e) => (e.type === 'tspan' || e.type === 'text') && !e.ignore && !e.invisible && e.style.text)
  .map((e) => e.style.text);
}"""
# whether node `nodeId`'s card is drawn inside the canvas's viewport (what the visitor sees of the canvas), and in
# its middle quarters across
CARD_SEEN = """(nodeId) => {
    const dom = document.querySelector('[data-testid="dag-canvas"]');
    const chart = dom && getElement(dom)?.chart;
    const item = chart?.getOption()?.series?.find((s) => s.id === 'nodes')?.data?.find((d) => d.name === nodeId);
    if (!item) return null;
    const [x, y] = chart.convertToPixel({seriesId: 'nodes'}, item.value);
    const box = dom.getBoundingClientRect();
    const k = box.width / dom.offsetWidth;
    const view = document.querySelector('[data-testid=dag-viewport]').getBoundingClientRect();
    const at = [box.left + x * k, box.top + y * k];
    const middle = Math.abs(at[0] - (view.left + view.right) / 2) <= view.width / 4;
    return {seen: middle && at[1] >= view.top && at[1] <= view.bottom,
            at, view: [view.left, view.right, view.top, view.bottom]};
}"""
# as the slider does when dragged (by percent of the row axis, rows 0 to 119): the window moved to rows 50-69
SLIDE = """async () => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 chart.dispatchAction({ type: 'dataZoom', dataZoomIndex: 0, start: (50 / 119) * 100, end: (69 / 119) * 100 });
}"""


def _rows(page: Page) -> dict[str, Any] | None:
    rows: dict[str, Any] | None = page.evaluate(ROWS)
    return rows


def _fan_out_run(server: Any, call_api: Api) -> str:
    """A finished run of FAN_OUT's 120 nodes."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{FAN_OUT["id"]}', FAN_OUT).status_code in (200, 201)
    execution = start(server, str(FAN_OUT['id']))
    wait_ended(server, execution)
    return execution


def test_a_picked_node_out_of_the_timelines_window_is_brought_into_it(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    execution = _fan_out_run(server, call_api)
    sent: list[str] = []  # what the page sends over its socket
    page.on('websocket', lambda ws: ws.on('framesent', lambda frame: sent.append(str(frame))))
    sign_in(page, server, f'/executions/{execution}')
    expect(page.get_by_test_id('replay-gantt')).to_be_visible()
    wait_until(lambda: _rows(page) == {'window': [0, 19], 'slider': True, 'bold': []}, 'the first 20 rows in view')
    assert 'Process shard 18' in page.evaluate(DRAWN) and 'Process shard 115' not in page.evaluate(DRAWN)

    # w115 is row 116 (after the split): picked in the node list, its row comes into view, marked
    _pick_in_list(page, 'w115')
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 115')
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 115'], 'its row marked')
    first, last = (_rows(page) or {})['window']
    assert first <= 116 <= last and last - first == 19
    assert 'Process shard 115' in page.evaluate(DRAWN)
    page.get_by_test_id('replay-gantt').scroll_into_view_if_needed()
    page.screenshot(path=str(shots / 'timeline-picked-row.png'))
    page.get_by_role('button', name='Close inspector').click()
    wait_until(lambda: (_rows(page) or {}).get('bold') == [], 'no row marked once the inspector closed')
    # (the page widens again once the inspector has gone: a click before that could land where a row was)
    expect(page.get_by_test_id('inspector')).to_be_hidden()
    wait_until(lambda: page.evaluate(ROOM) == ['0px', '0px'], 'the room it took given back to the page')
    page.get_by_test_id('replay-gantt').screenshot(path=str(shots / 'timeline-window.png'))

    # the slider moves the window (the page tells the server where); a node picked inside the new window leaves it
    page.evaluate(SLIDE)
    wait_until(lambda: (_rows(page) or {}).get('window') == [50, 69], 'the slid window')
    wait_until(lambda: any('[50,69]' in frame for frame in sent), 'the window told to the server')
    _pick_in_list(page, 'w055')
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 55'], "w055's row marked")
    assert (_rows(page) or {})['window'] == [50, 69]

    # the replay's chart alike, in dark mode
    page.goto(f'/executions/{execution}/replay?at=300')
    wait_until(lambda: _rows(page) == {'window': [0, 19], 'slider': True, 'bold': []}, "the replay's first 20 rows")
    page.get_by_test_id('theme-toggle').click()
    _pick_in_list(page, 'w110')
    wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 110'], 'its row marked on the replay')
    first, last = (_rows(page) or {})['window']
    assert first <= 111 <= last and last - first == 19
    page.get_by_test_id('replay-gantt').scroll_into_view_if_needed()
    page.screenshot(path=str(shots / 'timeline-replay-picked-row-dark.png'))


# the node list's scroll, and the page's
SCROLLS = """() => [document.querySelector('[data-testid=node-list]').scrollTop, window.scrollY]"""
# where on the page the segment of the Gantt's row `row` starts (the row must be in the window; segments are 3 px
# wide or more)
SEGMENT = """async (row) => {
 const { echarts } = await import('nicegui-echart');
 const dom = document.querySelector('[data-testid=replay-gantt]');
 const chart = echarts.getInstanceByDom(dom);
 const span = chart.getOption().series.find((s) => s.id === 'spans').data.find((d) => d.value[0] === row);
 const [x, y] = chart.convertToPixel({ gridIndex: 0 }, [span.value[1], row]);
 const box = dom.getBoundingClientRect();
 return [box.left + x + 1, box.top + y];
}"""


# whether the inspector still slides in (a transition of its dialog runs), or the page still narrows or widens about it
SLIDING = """() => document.getAnimations().some((a) => a.effect?.target?.closest?.('.q-dialog, .q-page-container'))"""
# From now on, which of the page container's properties start a transition (window.__eased)
EASED = """() => {
 window.__eased = [];
 const page = document.querySelector('.q-page-container');
 if (!page.dataset.eased) page.addEventListener('transitionrun', (e) => window.__eased.push(e.propertyName));
 page.dataset.eased = 'yes';
}"""
# From now on, where the inspector is drawn at each frame ([x, y]), for the first 40 frames it is on the page
SHEET_PATH = """() => {
 window.__sheet = [];
 const look = () => {
  const sheet = document.querySelector('.fm-inspector');
  if (sheet) { const box = sheet.getBoundingClientRect(); window.__sheet.push([Math.round(box.x), Math.round(box.y)]); }
  if (window.__sheet.length < 40) requestAnimationFrame(look);
 };
 requestAnimationFrame(look);
}"""
# where on the screen the middle of the Gantt's row `row` is (y), the row in the window
ROW_Y = """async (row) => {
 const { echarts } = await import('nicegui-echart');
 const dom = document.querySelector('[data-testid=replay-gantt]');
 return dom.getBoundingClientRect().top + echarts.getInstanceByDom(dom).convertToPixel({ gridIndex: 0 }, [0, row])[1];
}"""
# the slider moved to rows [first, last] (by row)
SLIDE_TO = """async ([first, last]) => {
 const { echarts } = await import('nicegui-echart');
 const chart = echarts.getInstanceByDom(document.querySelector('[data-testid=replay-gantt]'));
 chart.dispatchAction({ type: 'dataZoom', dataZoomIndex: 0, startValue: first, endValue: last });
}"""
# the room the page's container leaves on its right and below its end
ROOM = """() => {
 const room = getComputedStyle(document.querySelector('.q-page-container'));
 return [room.paddingRight, room.paddingBottom];
}"""


def _settled(page: Page) -> list[int]:
    """The node list's and the page's scroll (:data:`SCROLLS`) at rest (:func:`_at_rest`): the list's reveal of a
    picked row is measured while the page still narrows beside the opening inspector, and lands where it ends."""
    return _at_rest(page, lambda: page.evaluate(SCROLLS))


def _at_rest(page: Page, read: Callable[[], T]) -> T:
    """What ``read`` reads once the inspector no longer slides in or out and it has not changed for 0.3 s (a
    transition starts a frame or two after what starts it: no animation running yet is not enough)."""
    return steady(read, 'the page at rest', also=lambda: not page.evaluate(SLIDING))


def _row_in_list(page: Page, node_id: str, *, on_screen: bool = True) -> bool:
    """Whether the whole row of ``node_id`` is in the node list's view, and (``on_screen``) in its part on the screen,
    below the app's header."""
    box, row = page.get_by_test_id('node-list').bounding_box(), page.get_by_test_id(f'node-{node_id}').bounding_box()
    header, screen = page.locator('.q-header').bounding_box(), page.viewport_size
    assert box is not None and row is not None and header is not None and screen is not None
    top, bottom = box['y'], box['y'] + box['height']
    if on_screen:
        top, bottom = max(top, header['y'] + header['height']), min(bottom, screen['height'])
    return top - 1 <= row['y'] and row['y'] + row['height'] <= bottom + 1


def test_a_node_picked_on_the_canvas_or_the_timeline_is_scrolled_into_the_node_lists_view(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    execution = _fan_out_run(server, call_api)
    sign_in(page, server, f'/executions/{execution}')
    expect(page.get_by_test_id('node-w115')).to_be_attached()
    assert not _row_in_list(page, 'w115')
    x, y = node_pixel(page, 'w115')  # (the canvas in view)
    scrolled = page.evaluate(SCROLLS)
    click_on_canvas(page, x, y, 'Process shard 115')
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 115')
    wait_until(lambda: _row_in_list(page, 'w115'), 'its row scrolled into the list')
    list_top, page_top = _settled(page)
    assert list_top > scrolled[0] and page_top == scrolled[1]  # the list scrolled, not the page
    page.screenshot(path=str(shots / 'node-list-revealed.png'))

    # a row picked in the list itself: the list stays where it is
    assert _row_in_list(page, 'w114')
    page.get_by_test_id('node-w114').click()
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 114')
    assert _settled(page)[0] == list_top

    # a node picked on the Timeline, in its window (rows 100-119, with w114's) but out of the list's view (the list is
    # off the screen: its row is brought into the list's own view)
    assert not _row_in_list(page, 'w099', on_screen=False)
    gantt = page.get_by_test_id('replay-gantt')
    gantt.scroll_into_view_if_needed()
    wait_until(lambda: (_rows(page) or {}).get('window') == [100, 119], "the Timeline's window around w114's row")
    scrolled = page.evaluate(SCROLLS)
    page.mouse.click(*page.evaluate(SEGMENT, 100))  # w099's row (after the split's)
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 99')
    wait_until(lambda: _row_in_list(page, 'w099', on_screen=False), 'its row scrolled into the list')
    assert page.evaluate(SCROLLS)[1] == scrolled[1]


@pytest.mark.parametrize(('width', 'height'), [(1280, 800), (390, 844)])
def test_the_open_inspector_covers_none_of_the_page(
    browser: Browser, server: Any, call_api: Api, shots: Path, width: int, height: int
) -> None:
    execution = _fan_out_run(server, call_api)
    phone = width < 500
    context = browser.new_context(  # (with motion: the page's narrowing eases in step with the sheet)
        base_url=server.url,
        viewport={'width': width, 'height': height},
        is_mobile=phone,
        has_touch=phone,
        reduced_motion='no-preference',
    )
    page = context.new_page()
    try:
        sign_in(page, server, f'/executions/{execution}')
        gantt = page.get_by_test_id('replay-gantt')
        expect(gantt).to_be_visible()
        page.evaluate(SHEET_PATH)
        page.evaluate(EASED)
        _pick_in_list(page, 'w115')
        inspector = page.get_by_test_id('inspector')
        # (the page's first pick: the default 5 s were not enough once, on a loaded machine)
        expect(inspector).to_contain_text('Process shard 115', timeout=15_000)
        wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 115'], 'its row marked')
        sheet = _at_rest(page, lambda: _box(page, 'inspector'))  # (slid in)
        if width > 900:  # beside it: the canvas, the list and the Timeline with its slider, the Timeline readable
            assert set(page.evaluate('window.__eased')) == {'padding-right'}  # the page narrows in step, no jump
            # the canvas narrowed beside it after the pick had brought the card into view: the card stays in view
            wait_until(
                lambda: (page.evaluate(CARD_SEEN, 'w115') or {}).get('seen'),
                'the picked card in the narrowed canvas',
                seen=lambda: page.evaluate(CARD_SEEN, 'w115'),
            )
            page.screenshot(path=str(shots / f'inspector-beside-page-{width}.png'))
            assert page.evaluate(WIDE, sheet['x']) == []  # (the header's buttons wrap too)
            gantt.scroll_into_view_if_needed()
            assert page.evaluate(WIDE, sheet['x']) == []
            for part in ('canvas-panel', 'node-list-panel', 'replay-gantt'):
                assert _box(page, part)['x'] + _box(page, part)['width'] <= sheet['x'], part
            assert _box(page, 'replay-gantt')['width'] >= 400
            assert 'Process shard 115' in page.evaluate(DRAWN)
            page.screenshot(path=str(shots / f'inspector-beside-timeline-{width}.png'))
            # the page's actions keep one line beside it (Delete went onto a second, moving what is below)
            tops = {_box(page, action)['y'] for action in ACTIONS}
            assert len(tops) == 1, [(action, _box(page, action)['y']) for action in ACTIONS]
        else:  # a sheet along the bottom, above which the Timeline (its time axis and slider) and the page's end go
            assert (sheet['x'], sheet['width'], sheet['y'] + sheet['height']) == (0, width, height)
            # it slid up from the bottom (it came in from the right, as a side panel does)
            path = page.evaluate('window.__sheet')
            assert {x for x, _ in path} == {0} and path[0][1] > sheet['y'], path
            # the Timeline's window holds the rows the room above the sheet takes, and is seen whole there
            header = _box_of(page.locator('.q-header'))
            first, last = wait_until(
                lambda: (
                    (window := (_rows(page) or {}).get('window'))
                    and window[0] <= 116 <= window[1]
                    and 4 <= window[1] - window[0] < 19
                    and window
                ),
                "the Timeline's window the room above the sheet takes",
                seen=lambda: _rows(page),
            )
            assert _box(page, 'replay-gantt')['height'] <= sheet['y'] - (header['y'] + header['height'])
            # (scrolled until it stays: the event log below, drawn as it comes near, may take less room than it kept)
            wait_until(lambda: _scrolled_to(page, _bottom(page, 'replay-gantt'), sheet['y']), 'its end at the sheet')
            assert _box(page, 'replay-gantt')['y'] >= header['y'] + header['height']
            page.screenshot(path=str(shots / f'inspector-above-timeline-{width}.png'))
            # its slider still moves it, as many rows at a time, and a node picked in it leaves it where it is
            size = last - first
            page.evaluate(SLIDE_TO, [50, 50 + size])
            wait_until(lambda: (_rows(page) or {}).get('window') == [50, 50 + size], 'the slid window')
            _pick_in_list(page, 'w055')
            wait_until(lambda: (_rows(page) or {}).get('bold') == ['Process shard 55'], "w055's row marked")
            assert (_rows(page) or {})['window'] == [50, 50 + size]
            # (scrolled until it stays, as above: the log's parts off the screen are sized as they come near)
            log = page.locator('.fm-panel', has=page.get_by_text('Event log')).last
            wait_until(
                lambda: _to_end(page) and _bottom_of(log) <= sheet['y'] + 1,
                'the page scrolled to its end, above the sheet',
                seen=lambda: (_box_of(log), sheet['y']),
            )
            page.screenshot(path=str(shots / f'inspector-above-page-end-{width}.png'))
            # a node picked elsewhere (a tap on its card) while the list is in view: its row comes above the sheet
            page.evaluate('(by) => window.scrollBy(0, by)', _box(page, 'node-list')['y'] - 250)
            page.evaluate(PICK_ON_CANVAS, 'w090')
            expect(inspector).to_contain_text('Process shard 90')
            row = page.get_by_test_id('node-w090')
            wait_until(
                lambda: 250 <= _box(page, 'node-w090')['y'] and _bottom(page, 'node-w090') <= sheet['y'] + 1,
                'the picked row above the sheet',
                seen=lambda: (row.bounding_box(), sheet['y']),
            )
        page.evaluate(EASED)
        page.get_by_role('button', name='Close inspector').click()
        expect(inspector).to_be_hidden()
        wait_until(lambda: page.evaluate(ROOM) == ['0px', '0px'], 'the room it took given back to the page')
        assert set(page.evaluate('window.__eased')) == ({'padding-right'} if width > 900 else set())  # widens so
        if width < 900:
            _tapped_rows_come_above_the_sheet(page, sheet['y'], shots)
        else:  # left while it is open: the next page (the app is one page) has the whole width again
            _pick_in_list(page, 'w115')
            expect(inspector).to_be_visible()
            wait_until(lambda: page.evaluate(ROOM)[0] != '0px', 'the page narrowed beside it')
            page.get_by_role('button', name='Executions').click()
            expect(page).to_have_url(re.compile(r'/executions$'))
            wait_until(lambda: page.evaluate(ROOM) == ['0px', '0px'], 'the whole width for the next page')
            assert not {'fm-inspecting', 'fm-inspector-leaving'} & set(page.evaluate('document.body.className').split())
    finally:
        context.close()


def _tapped_rows_come_above_the_sheet(page: Page, sheet: float, shots: Path) -> None:
    """A row tapped near the bottom of a phone's screen, where the sheet opens, is brought above it: on the Timeline
    (whose window holds 20 rows again once the inspector closed; the segment's tooltip goes) and in the node list."""
    header = _box_of(page.locator('.q-header'))
    above = header['y'] + header['height'], sheet
    first, _ = wait_until(
        lambda: (window := (_rows(page) or {}).get('window')) and window[1] - window[0] == 19 and window,
        "the Timeline's 20 rows again",
        seen=lambda: _rows(page),
    )
    row = first + 15
    wait_until(lambda: _scrolled_to(page, page.evaluate(ROW_Y, row), 780), "the row near the screen's bottom")
    x, y = page.evaluate(SEGMENT, row)
    assert y > sheet
    page.evaluate(TIP_OVER_SHEET, GANTT_TIP)
    tap_chart(page, x, y)
    name = f'Process shard {row - 1}'  # (after the split's row)
    expect(page.get_by_test_id('inspector')).to_contain_text(name)
    wait_until(lambda: (_rows(page) or {}).get('bold') == [name], 'its row marked')
    wait_until(lambda: above[0] <= page.evaluate(ROW_Y, row) <= above[1] - 13, 'the tapped row above the sheet')
    # the segment's tooltip, which the tap showed, went as the node was picked, before the sheet came (no pointer
    # leaves the segment: it stayed over the sheet)
    wait_until(lambda: page.evaluate('window.__tipOverSheet.done'), 'two seconds of frames looked at')
    assert page.evaluate('window.__tipOverSheet.seen') == []
    page.screenshot(path=str(shots / 'timeline-tapped-row-above-sheet.png'))
    page.get_by_role('button', name='Close inspector').click()
    wait_until(lambda: page.evaluate(ROOM) == ['0px', '0px'], 'the room it took given back to the page')

    tapped = page.get_by_test_id('node-w030')
    tapped.evaluate("(row) => row.scrollIntoView({ block: 'center' })")  # (in the list's view)
    wait_until(lambda: _scrolled_to(page, _box(page, 'node-w030')['y'], 780), "the row near the screen's bottom")
    assert _box(page, 'node-w030')['y'] > sheet
    tapped.click()
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 30')
    wait_until(
        lambda: above[0] <= _box(page, 'node-w030')['y'] and _bottom(page, 'node-w030') <= above[1] + 1,
        'the tapped row above the sheet',
        seen=lambda: (tapped.bounding_box(), above),
    )
    page.screenshot(path=str(shots / 'node-list-tapped-row-above-sheet.png'))
    page.get_by_role('button', name='Close inspector').click()
    wait_until(lambda: page.evaluate(ROOM) == ['0px', '0px'], 'the room it took given back to the page')

    # a card tapped on the canvas (w030's, which the canvas brought into its view as the node was picked): its
    # tooltip, which the tap showed, went as the node was picked (it stayed over the sheet, as the Timeline's did)
    wait_until(lambda: _scrolled_to(page, page.evaluate(CARD_AT, 'w030')[1], 300), "w030's card in the window")
    x, y = page.evaluate(CARD_AT, 'w030')
    assert page.evaluate(ON_CANVAS, [x, y]), (x, y)  # (in the canvas's view, under nothing)
    page.evaluate(TIP_OVER_SHEET, CANVAS_TIP)
    tap_chart(page, x, y)
    expect(page.get_by_test_id('inspector')).to_contain_text('Process shard 30')
    wait_until(lambda: page.evaluate('window.__tipOverSheet.done'), 'two seconds of frames looked at')
    assert page.evaluate('window.__tipOverSheet.seen') == []
    # nor placed past the screen's edge, where it made the page wider than the phone (485 px at 390)
    assert page.evaluate('document.documentElement.scrollWidth') <= 390
    page.screenshot(path=str(shots / 'canvas-tapped-card-no-tooltip.png'))


# an execution's actions, when it has ended
ACTIONS = ('rerun-execution', 'replay-execution', 'compare-menu', 'export-execution', 'delete-execution')
# From now on, for two seconds, the text of a chart's tooltip (the elements the selector finds) at each frame it is
# shown while the inspector is on the page (window.__tipOverSheet.seen; .done once the two seconds are over).
# Shown: not told to hide (ECharts fades a tooltip out, its style saying hidden from the start)
TIP_OVER_SHEET = """(selector) => {
 const watch = window.__tipOverSheet = { seen: [], done: false };
 const start = performance.now();
 const look = () => {
  const tips = [...document.querySelectorAll(selector)]
   .filter((d) => d.innerText && d.style.visibility !== 'hidden' && d.style.display !== 'none');
  if (document.querySelector('.fm-inspector') && tips.length) watch.seen.push(tips[0].innerText);
  if (performance.now() - start < 2000) requestAnimationFrame(look);
  else watch.done = true;
 };
 requestAnimationFrame(look);
}"""


# Where a node's card is on the window: its centre's [x, y] (the canvas's view moves and zooms it)
CARD_AT = """(id) => {
 const dom = document.querySelector('[data-testid=dag-canvas]'), chart = getElement(dom).chart;
 const item = chart.getOption().series.find((s) => s.id === 'nodes').data.find((d) => d.name === id);
 const [x, y] = chart.convertToPixel({ seriesId: 'nodes' }, item.value), box = dom.getBoundingClientRect();
 return [box.left + (x * box.width) / dom.offsetWidth, box.top + (y * box.height) / dom.offsetHeight];
}"""
# whether what is drawn at [x, y] on the window is the canvas's
ON_CANVAS = """([x, y]) => !!document.elementFromPoint(x, y)?.closest('[data-testid=dag-canvas]')"""
GANTT_TIP = '[data-testid=replay-gantt] > div:not(:first-child)'  # (ECharts' box in the chart's element)
CANVAS_TIP = '.fm-dag-tip'  # (in the page's body)
# A pick on the canvas as a click on a card makes it (the chart's own event), for a card wherever it is drawn.
PICK_ON_CANVAS = """(id) => getElement(document.querySelector('[data-testid=dag-canvas]')).$emit('node_click', id)"""


def _pick_in_list(page: Page, node_id: str) -> None:
    """A click on the node's row in the list, as the list takes it (its own click handler), wherever the row is drawn
    at that moment: a pick opens the inspector and the page narrows or widens about it, and a click by coordinates
    made while the page still settles can land where the row was."""
    page.get_by_test_id(f'node-{node_id}').dispatch_event('click')


def _scrolled_to(page: Page, at: float, to: float) -> bool:
    """Scroll the page so what is at ``at`` comes to ``to`` (px from the window's top); whether it was there."""
    page.evaluate('(by) => window.scrollBy(0, by)', at - to)
    return abs(at - to) <= 1


def _to_end(page: Page) -> bool:
    """Scroll the page to its end; whether it was there."""
    return bool(
        page.evaluate(
            '() => [window.scrollY, window.scrollTo(0, document.documentElement.scrollHeight)][0] === window.scrollY'
        )
    )


def _box(page: Page, testid: str) -> dict[str, float]:
    return _box_of(page.get_by_test_id(testid))


def _box_of(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return dict(box)


def _bottom(page: Page, testid: str) -> float:
    return _bottom_of(page.get_by_test_id(testid))


def _bottom_of(locator: Locator) -> float:
    box = _box_of(locator)
    return box['y'] + box['height']
