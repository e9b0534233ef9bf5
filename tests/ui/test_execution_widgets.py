"""What the execution view's browser components receive (canvas, edge layer, node list, event log) and what the
inspector shows, driven with states folded from hand-made events: no engine, no ticks, so every patch is known.

The protocol itself (nothing before ``ready``, then a snapshot, then patches) is tested once, in
test_patched_element.py and tests/js/patched.test.js; these tests check what each component's snapshots and
patches hold.
"""

from __future__ import annotations

import gc
import types
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from event_history import History
from nicegui import Client
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation
from uisim import be_patient

from flowmon.application.stats import NodeStats
from flowmon.engine import Event, EventType
from flowmon.engine.core.nodemap import NodeMap
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.dag_edges import EdgeLayer
from flowmon.web.widgets.dag_view import DagView
from flowmon.web.widgets.event_log import LogLines
from flowmon.web.widgets.execution_view import ExecutionView
from flowmon.web.widgets.node_list import NodeList
from flowmon.web.widgets.patched import PatchedElement

NODES = ('node-a', 'node-b', 'node-c')
DEFINITION: dict[str, Any] = {
    'id': 'wf',
    'name': 'Three nodes',
    'nodes': [
        {'id': 'node-a', 'type': 'transform', 'name': 'Alpha'},
        {'id': 'node-b', 'type': 'delay', 'name': 'Beta'},
        {'id': 'node-c', 'type': 'log', 'name': 'Gamma'},
    ],
    'edges': [{'source': 'node-a', 'target': 'node-b'}, {'source': 'node-a', 'target': 'node-c'}],
}
COMPONENTS = (DagChart, EdgeLayer, NodeList, LogLines)


@dataclass
class Page:
    user: User
    view: ExecutionView
    sent: list[tuple[str, str, Any]]  # (component class, method, payload), in the order sent

    def ready(self, *components: type[PatchedElement]) -> None:
        for component in components or COMPONENTS:
            self.user.find(component).trigger('ready')

    def received(self, component: type[PatchedElement], method: str | None = None) -> list[Any]:
        return [payload for kind, name, payload in self.sent if kind == component.__name__ and method in (None, name)]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """Every ``reset``/``patch`` a browser component is sent (and still sends it)."""
    sent: list[tuple[str, str, Any]] = []
    real = PatchedElement.run_method

    def record(self: PatchedElement, name: str, *args: Any, **kwargs: Any) -> Any:
        sent.append((type(self).__name__, name, args[0] if args else None))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(PatchedElement, 'run_method', record)
    return sent


@pytest.fixture
async def page(recorded: list[tuple[str, str, Any]]) -> AsyncIterator[Page]:
    views: list[ExecutionView] = []
    async with user_simulation(root=lambda: views.append(ExecutionView(DEFINITION))) as user:
        be_patient(user)
        await user.open('/')
        yield Page(user, views[0], recorded)


def names(items: list[dict[str, Any]]) -> list[str]:
    """The node ids of canvas items (``name``) or list rows (``id``)."""
    return sorted(item['id'] if 'id' in item else item['name'] for item in items)


async def test_nothing_before_ready_then_everything_then_only_the_nodes_that_changed(page: Page) -> None:
    history = History.started(*NODES)
    page.view.show(history.then(EventType.NODE_STARTED, 'node-a', attempt=1), history.events)
    assert page.sent == []
    page.ready()
    (canvas,) = page.received(DagChart, 'reset')
    assert names(canvas['nodes']) == list(NODES)
    assert {item['name']: item.get('s') for item in canvas['nodes']} == {
        'node-a': 'running',
        'node-b': None,
        'node-c': None,
    }
    (rows,) = page.received(NodeList, 'reset')
    assert [(row['id'], row['name'], row['status']) for row in rows['rows']] == [
        ('node-a', 'Alpha', 'running'),
        ('node-b', 'Beta', 'pending'),
        ('node-c', 'Gamma', 'pending'),
    ]
    assert rows['selected'] is None
    assert page.received(EdgeLayer) == [{'carried': []}]

    history.then(EventType.NODE_COMPLETED, 'node-a', output={'ok': True})
    state = history.then(EventType.DATA_FLOW, 'node-a', target='node-b', bytes=11)
    page.view.show(state, history.events)
    page.view.show(state, history.events)  # the same state again: no node is sent again
    canvas_patches = [diff for diff in page.received(DagChart, 'patch') if 'nodes' in diff]
    assert [names(diff['nodes']) for diff in canvas_patches] == [['node-a']]
    assert canvas_patches[0]['nodes'][0]['s'] == 'succeeded' and canvas_patches[0]['nodes'][0]['m'] == '100 ms'
    assert [names(diff['rows']) for diff in page.received(NodeList, 'patch')] == [['node-a']]
    assert page.received(EdgeLayer, 'patch') == [{'carried': [0], 'cleared': []}]


async def test_a_running_node_ripples_and_data_flows_along_its_edge_until_the_execution_ends(page: Page) -> None:
    history = History.started(*NODES)
    history.then(EventType.NODE_STARTED, 'node-a', attempt=1)
    history.then(EventType.NODE_COMPLETED, 'node-a', output=1)
    history.then(EventType.DATA_FLOW, 'node-a', target='node-b', bytes=1)
    state = history.then(EventType.NODE_STARTED, 'node-b', attempt=1)
    page.ready()
    page.view.show(state, history.events, now=state.last_ts)
    (diff,) = page.received(DagChart, 'patch')
    assert len(diff['pulse']) == 1 and len(diff['flow']) == 1  # node-b is active, node-a -> node-b just carried data
    assert page.view.wants_clock
    history.then(EventType.NODE_COMPLETED, 'node-b', output=1)
    history.then(EventType.NODE_SKIPPED, 'node-c', reason='no')
    ended = history.then(EventType.EXECUTION_COMPLETED)
    page.view.show(ended, history.events)
    last = page.received(DagChart, 'patch')[-1]
    assert last['flow'] == [] and last['pulse'] == []
    assert not page.view.wants_clock


async def test_a_selection_moves_two_cards_and_the_list_highlight(page: Page) -> None:
    page.ready(DagChart, NodeList)
    page.view.select('node-b')
    page.view.select('node-c')
    moved = [names(diff['nodes']) for diff in page.received(DagChart, 'patch')]
    assert moved == [['node-b'], ['node-b', 'node-c']]
    ringed = page.received(DagChart, 'patch')[-1]['nodes']
    assert [dict(item.get('itemStyle', ())).get('borderWidth') for item in ringed] == [None, 3]
    assert page.received(NodeList, 'patch') == [
        {'selected': 'node-b', 'reveal': True},
        {'selected': 'node-c', 'reveal': True},
    ]
    await page.user.should_see('Gamma')


async def test_a_row_picked_elsewhere_is_brought_into_the_lists_view_one_picked_in_the_list_is_not(page: Page) -> None:
    page.ready(DagChart, NodeList)
    page.user.find(DagChart).trigger('node_click', 'node-c')  # a click on the canvas
    # a click on its row: the list stays where it was clicked (the page lifts the row above the inspector's sheet,
    # should the sheet open over it: a narrow window); the same row again, lifted again (the sheet may cover it now)
    page.user.find(NodeList).trigger('select', 'node-b')
    page.user.find(NodeList).trigger('select', 'node-b')
    page.user.find(DagChart).trigger('node_click', 'node-b')  # picked again elsewhere: the list may have scrolled on
    page.view.select('node-a')  # as a click on the Timeline
    assert page.received(NodeList, 'patch') == [
        {'selected': 'node-c', 'reveal': True},
        {'selected': 'node-b', 'lift': True},
        {'selected': 'node-b', 'lift': True},
        {'selected': 'node-b', 'reveal': True},
        {'selected': 'node-a', 'reveal': True},
    ]
    await page.user.should_see('Alpha', marker='inspector')


async def test_the_inspector_follows_its_node(page: Page) -> None:
    history = History.started(*NODES)
    page.view.show(history.then(EventType.NODE_STARTED, 'node-b', attempt=1), history.events)
    page.view.select('node-b')
    await page.user.should_see('Beta')
    await page.user.should_see('running', marker='inspector-status')
    page.view.show(history.then(EventType.NODE_FAILED, 'node-b', error='disk full'), history.events)
    await page.user.should_see('failed', marker='inspector-status')
    await page.user.should_see('disk full', marker='inspector-error')


async def test_a_node_tried_again_shows_the_time_its_tries_ran_not_the_waits_between_them(page: Page) -> None:
    """Two tries of under 1 ms each, 480 ms apart (the backoff), read "481 ms · 2 tries" on the card and in the list:
    now the tries' time; the inspector gives the span from the first start to the end beside it."""
    history = History.started(*NODES)
    history.then(EventType.NODE_STARTED, 'node-b', attempt=1)
    history.then(EventType.NODE_RETRYING, 'node-b', after_ms=0.4, attempt=1, error='flaky', delay_seconds=0.48)
    history.then(EventType.NODE_STARTED, 'node-b', after_ms=480, attempt=2)
    failed = history.then(EventType.NODE_FAILED, 'node-b', after_ms=0.4, attempt=2, error='flaky again')
    page.ready(DagChart, NodeList)
    page.view.show(failed, history.events)
    (card,) = [item for diff in page.received(DagChart, 'patch') for item in diff.get('nodes', ())]
    assert card['m'] == '<1 ms · 2 tries'
    (row,) = [row for diff in page.received(NodeList, 'patch') for row in diff.get('rows', ())]
    assert row['detail'] == '2 attempts · <1 ms'
    page.view.select('node-b')
    await page.user.should_see('failed', marker='inspector-status')
    await page.user.should_see('481 ms with the waits between tries')
    await page.user.should_see('<1 ms')


async def test_a_node_tried_again_is_not_slower_than_usual_for_the_wait_between_its_tries(page: Page) -> None:
    """Against a p95 of 5 ms, two tries of under 1 ms 480 ms apart read "<1 ms · 2 tries" with no flag (it read
    "slower than usual: 481 ms, p95 5 ms" beside that card); a node whose one try ran 20 ms is flagged."""
    history = History.started(*NODES)
    history.then(EventType.NODE_STARTED, 'node-b', attempt=1)
    history.then(EventType.NODE_RETRYING, 'node-b', after_ms=0.4, attempt=1, error='flaky', delay_seconds=0.48)
    history.then(EventType.NODE_STARTED, 'node-b', after_ms=480, attempt=2)
    history.then(EventType.NODE_COMPLETED, 'node-b', after_ms=0.4, attempt=2, output=1)
    history.then(EventType.NODE_STARTED, 'node-c', attempt=1)
    done = history.then(EventType.NODE_COMPLETED, 'node-c', after_ms=20, attempt=1, output=1)
    page.ready(DagChart, NodeList)
    page.view.set_baselines({node_id: NodeStats.of([0.005] * 5) for node_id in NODES})
    page.view.show(done, history.events)
    cards = {item['name']: item for diff in page.received(DagChart, 'patch') for item in diff.get('nodes', ())}
    assert (cards['node-b']['m'], 'w' in cards['node-b']) == ('<1 ms · 2 tries', False)
    assert (cards['node-c']['m'], cards['node-c']['w']) == ('20 ms · slow', 'slower than usual: 20 ms, p95 5 ms')
    rows = {row['id']: row for diff in page.received(NodeList, 'patch') for row in diff.get('rows', ())}
    assert (rows['node-b']['slow'], rows['node-c']['slow']) == ('', 'slower than usual: 20 ms, p95 5 ms')
    page.view.select('node-b')
    await page.user.should_see('succeeded', marker='inspector-status')
    await page.user.should_see('481 ms with the waits between tries')
    await page.user.should_not_see('slower than usual')


async def test_the_log_gets_every_line_on_ready_then_new_lines_and_everything_again_on_a_filter(page: Page) -> None:
    history = History.started(*NODES)
    state = history.then(EventType.NODE_STARTED, 'node-a', attempt=1)
    page.view.show(state, history.events)
    page.ready(LogLines)
    (snapshot,) = page.received(LogLines, 'reset')
    assert [cells[2] for cells in snapshot['lines']] == ['execution.queued', 'execution.started', 'node.started']
    state = history.then(EventType.NODE_COMPLETED, 'node-a', output=1)
    page.view.show(state, history.events)
    (appended,) = page.received(LogLines, 'patch')
    assert [(cells[2], cells[4]) for cells in appended['lines']] == [('node.completed', 'node-a')]
    page.view.event_log.type_filter.set_value(['node.started', 'node.completed'])
    redrawn = page.received(LogLines, 'reset')[-1]
    assert [cells[2] for cells in redrawn['lines']] == ['node.started', 'node.completed']


async def test_a_canvas_on_its_own_keeps_its_own_views(recorded: list[tuple[str, str, Any]]) -> None:
    """The workflow and compare pages show a canvas without a node list or inspector."""
    canvases: list[DagView] = []
    async with user_simulation(root=lambda: canvases.append(DagView(DEFINITION))) as user:
        be_patient(user)
        await user.open('/')
        user.find(DagChart).trigger('ready')
        history = History.started(*NODES)
        canvases[0].apply(history.then(EventType.NODE_STARTED, 'node-c', attempt=1))
        canvases[0].apply(history.then(EventType.NODE_STARTED, 'node-a', attempt=1))
    patches = [payload['nodes'] for kind, name, payload in recorded if name == 'patch' and 'nodes' in payload]
    assert [names(nodes) for nodes in patches] == [['node-c'], ['node-a']]


async def test_a_page_keeps_no_tracked_object_per_node_or_per_event(page: Page) -> None:
    """A full garbage collection walks every tracked object, for every open tab: what a page keeps per node and per
    event (canvas items, edges, node rows and views, log lines) must be of the kinds CPython stops tracking. So no
    tracked object the page reaches may hold a node id itself (log lines hold theirs too)."""
    history = History.started(*NODES)
    for node_id in NODES:
        history.then(EventType.NODE_STARTED, node_id, attempt=1)
        history.then(EventType.NODE_COMPLETED, node_id, output={'node': node_id})
    history.then(EventType.DATA_FLOW, 'node-a', target='node-b', bytes=9)
    state = history.then(EventType.EXECUTION_COMPLETED)
    page.view.show(state, history.events)
    page.ready()
    for _ in range(3):  # contents first, then what holds them: each full collection untracks one level
        gc.collect()
    holders = [obj for obj in _tracked_reachable(page.view) if set(NODES) & _strings(obj)]
    assert not holders, [type(obj).__qualname__ for obj in holders]


# What the page shares with others or does not own: the execution's state (the projector's), NiceGUI's client.
_NOT_THE_PAGES = (Client, ExecutionState, NodeState, NodeMap, Event, type, types.ModuleType)


def _referents(obj: object) -> list[object]:
    if isinstance(obj, types.FunctionType):  # its closure and defaults, not its module's globals
        return [cell.cell_contents for cell in obj.__closure__ or ()] + list(obj.__defaults__ or ())
    return list(gc.get_referents(obj))


def _tracked_reachable(root: object) -> Iterator[object]:
    """Tracked objects reachable from ``root`` (untracked ones hold nothing tracked)."""
    seen, todo = {id(root)}, [root]
    while todo:
        obj = todo.pop()
        yield obj
        for ref in _referents(obj):
            if id(ref) not in seen and gc.is_tracked(ref) and not isinstance(ref, _NOT_THE_PAGES):
                seen.add(id(ref))
                todo.append(ref)


def _strings(obj: object) -> set[str]:
    return {ref for ref in _referents(obj) if type(ref) is str}
