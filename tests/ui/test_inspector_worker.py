"""Where a worker node ran, on the execution page: the node view carries it and the inspector shows it (the node's
worker among its facts, each attempt's beside it). Driven with hand-made events, as test_execution_widgets.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from event_history import History
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from flowmon.engine import EventType
from flowmon.web.node_views import node_view
from flowmon.web.widgets.execution_view import ExecutionView

DEFINITION: dict[str, Any] = {
    'id': 'wf',
    'name': 'On workers',
    'nodes': [{'id': 'crunch', 'type': 'python', 'name': 'Crunch numbers'}],
    'edges': [],
}


@pytest.fixture
async def page() -> AsyncIterator[tuple[User, ExecutionView]]:
    views: list[ExecutionView] = []
    async with user_simulation(root=lambda: views.append(ExecutionView(DEFINITION))) as user:
        await user.open('/')
        yield user, views[0]


async def test_the_inspector_shows_the_worker_of_the_node_and_of_each_attempt(
    page: tuple[User, ExecutionView],
) -> None:
    user, view = page
    history = History.started('crunch')
    state = history.then(EventType.NODE_STARTED, 'crunch', attempt=1, worker='tcp://10.1.2.3:40001')
    assert node_view(state.nodes['crunch']).worker == 'tcp://10.1.2.3:40001'
    view.show(state, history.events)
    view.select('crunch')
    await user.should_see('Crunch numbers')
    await user.should_see('tcp://10.1.2.3:40001', marker='inspector')

    history.then(EventType.NODE_RETRYING, 'crunch', attempt=1, error='worker died', delay_seconds=0)
    history.then(EventType.NODE_STARTED, 'crunch', attempt=2, worker='tcp://10.1.2.4:40002')
    state = history.then(EventType.NODE_COMPLETED, 'crunch', attempt=2, output=1, worker='tcp://10.1.2.4:40002')
    view.show(state, history.events)
    await user.should_see('succeeded', marker='inspector-status')
    await user.should_see('tcp://10.1.2.3:40001', marker='inspector-attempts')  # where attempt 1 died
    await user.should_see('tcp://10.1.2.4:40002', marker='inspector-attempts')
    assert state.nodes['crunch'].worker == 'tcp://10.1.2.4:40002'
