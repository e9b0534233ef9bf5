"""The Python half of the draw-once-then-patch protocol (flowmon/web/widgets/patched.py), on a minimal component.

The browser half (lib/fm-patched.js) has its own tests in tests/js/patched.test.js; the components built on both
are tested for what they send in test_execution_widgets.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation
from uisim import be_patient

from flowmon.web.widgets.patched import PatchedElement


class Tally(PatchedElement):
    """Shows numbers; a snapshot is all of them, a patch the new ones."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[int] = []
        self.received: list[tuple[str, tuple[Any, ...]]] = []  # what the browser half was sent

    def add(self, *numbers: int) -> None:
        self.numbers += numbers
        self.send_patch({'numbers': list(numbers)} if numbers else {})

    def snapshot(self) -> dict[str, Any]:
        return {'numbers': list(self.numbers)}

    def run_method(self, name: str, *args: Any, timeout: float = 1) -> Any:
        self.received.append((name, args))
        return super().run_method(name, *args, timeout=timeout)


@pytest.fixture
async def tally() -> AsyncIterator[tuple[User, Tally]]:
    made: list[Tally] = []

    def root() -> None:
        made.append(Tally())

    async with user_simulation(root=root) as user:
        be_patient(user)
        await user.open('/')
        yield user, made[0]


async def test_nothing_is_sent_before_the_component_is_ready(tally: tuple[User, Tally]) -> None:
    _, element = tally
    element.add(1, 2)
    element.redraw()
    assert not element.drawn
    assert element.received == []


async def test_ready_is_answered_with_everything_then_only_changes(tally: tuple[User, Tally]) -> None:
    user, element = tally
    element.add(1)
    user.find(Tally).trigger('ready')
    element.add(2, 3)
    element.add()  # nothing new: nothing sent
    assert element.drawn
    assert element.received == [('reset', ({'numbers': [1]},)), ('patch', ({'numbers': [2, 3]},))]


async def test_a_redraw_and_a_new_ready_send_everything_again(tally: tuple[User, Tally]) -> None:
    user, element = tally
    user.find(Tally).trigger('ready')
    element.add(4)
    element.redraw()
    user.find(Tally).trigger('ready')  # mounted anew (a new component instance in the browser)
    assert [name for name, _ in element.received] == ['reset', 'patch', 'reset', 'reset']
    assert element.received[-1] == element.received[-2] == ('reset', ({'numbers': [4]},))
