"""The pages of the operations features, in the real app (``app.py``) under NiceGUI's user simulation: a run from
the Run button records ``ui`` and the pages say how each execution started; Delete asks first, then removes the
execution and goes to the list; the dashboard shows the database's size and the retention setting."""

from __future__ import annotations

import asyncio

from nicegui.testing.user import User
from uisim import api, click_when_shown, current_path, sign_in, start, text_of, wait_for_path, wait_until_ended

from flowmon.web.format import short_id
from flowmon.web.widgets.trigger_label import TriggerLabel


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError('condition not met in time')
        await asyncio.sleep(0.02)


def trigger_words(user: User, marker: str | None = None) -> list[str]:
    """The words of the trigger labels on the page (or in the element marked ``marker``)."""
    if marker is None:
        found = user.find(TriggerLabel).elements
    else:
        (element,) = user.find(marker=marker).elements
        found = {child for child in element.descendants() if isinstance(child, TriggerLabel)}
    return sorted(label.word for label in found if isinstance(label, TriggerLabel))


async def test_a_run_from_the_run_button_is_recorded_as_ui_and_shown_so(user: User) -> None:
    await sign_in(user)
    by_api = await start(user, 'quick')
    await wait_until_ended(user, by_api)
    await click_when_shown(user, 'run-quick')
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    by_ui = path.rsplit('/', 1)[1]
    summary = await wait_until_ended(user, by_ui)
    assert summary['trigger'] == {'type': 'ui'}
    await user.should_see(marker='execution-trigger')
    assert trigger_words(user) == ['UI']

    await user.open('/executions')
    await user.should_see(marker=f'execution-row-{by_ui}')
    assert trigger_words(user, f'execution-row-{by_ui}') == ['UI']
    assert trigger_words(user, f'execution-row-{by_api}') == ['API']
    listed = (await api(user, 'GET', '/api/executions?trigger=ui')).json()
    assert [item['id'] for item in listed['items']] == [by_ui]


async def test_delete_asks_first_then_removes_the_execution_and_opens_the_list(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'quick')
    await wait_until_ended(user, execution_id)
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='delete-execution')

    user.find(marker='delete-execution').click()
    await user.should_see(marker='confirm-delete')
    await user.should_see('Delete this execution?')
    user.find(marker='confirm-delete-cancel').click()
    await user.should_not_see(marker='confirm-delete')
    assert (await api(user, 'GET', f'/api/executions/{execution_id}')).status_code == 200  # declined: still there

    user.find(marker='delete-execution').click()
    await user.should_see(marker='confirm-delete')
    user.find(marker='confirm-delete-ok').click()
    await wait_for(lambda: current_path(user) == '/executions')
    await user.should_see(f'Execution {short_id(execution_id)} deleted', retries=30)  # the notification
    await user.should_not_see(marker=f'execution-row-{execution_id}')
    assert (await api(user, 'GET', f'/api/executions/{execution_id}')).status_code == 404


async def test_a_running_execution_has_no_delete_button(user: User) -> None:
    await sign_in(user)
    execution_id = await start(user, 'slow')
    await user.open(f'/executions/{execution_id}')
    await user.should_see(marker='cancel-execution')
    await user.should_not_see(marker='delete-execution')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')


async def test_the_dashboard_shows_the_database_size_and_the_retention_setting(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='storage')
    text = text_of(user, 'storage-text')
    assert text.startswith('Database ') and text.endswith('· keeps 30 days'), text
