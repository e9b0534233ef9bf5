"""Helpers for the layer-2 tests: the test workflows, signing in, the API, what a page shows, and waiting (through
tests/waiting.py) for paths, texts, log lines and runs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from nicegui import core, ui
from nicegui.element import Element
from nicegui.elements.mixins.value_element import ValueElement
from nicegui.testing.user import User
from sample_workflows import delay, fail, transform, workflow
from waiting import TIMEOUT, until

from flowmon.web.widgets.event_log import LogLines
from flowmon.web.widgets.node_list import NodeList

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_FILE = REPO_ROOT / 'app.py'
TOKEN = 'ui-test-token-long-enough'
AUTH = {'Authorization': f'Bearer {TOKEN}'}

QUICK = workflow(
    'quick',
    'Quick check',
    transform('shape', '{ok: `true`}', 'Shape'),
    description='One transform node: done in a millisecond.',
)
BROKEN = workflow('broken', 'Always broken', fail('boom', 'boom', 'Boom'), description='Fails at once.')
SLOW = workflow('slow', 'Slow wait', delay('wait', 60, 'Wait'), description='Waits a minute (stays active).')


async def wait_until_started(user: User, *, workflows: int) -> None:
    """NiceGUI runs async start-up handlers as tasks: wait until the database is up and the workflows loaded."""

    async def loaded() -> bool:
        response = await api(user, 'GET', '/api/workflows')
        return response.status_code == 200 and len(response.json()) >= workflows

    await until(loaded, f'flowmon to start with {workflows} workflows', ignoring=(Exception,))  # no schema yet


def be_patient(user: User) -> None:
    """Make ``user.should_see`` and ``user.should_not_see`` wait as long as tests/waiting.py does.

    NiceGUI's try three times, 0.1 s (0.05 s) apart: a page whose async builder queries the database needs longer on a
    loaded machine, and a test then fails for no reason of its own (the flakes of tests/ui/test_dashboard_page.py and
    test_access.py). Waiting longer costs nothing when the page is there: both return as soon as they may."""
    see, not_see = user.should_see, user.should_not_see

    async def should_see(*args: Any, retries: int = 0, **kwargs: Any) -> None:
        await see(*args, retries=max(retries, round(TIMEOUT / 0.1)), **kwargs)

    async def should_not_see(*args: Any, retries: int = 0, **kwargs: Any) -> None:
        await not_see(*args, retries=max(retries, round(TIMEOUT / 0.05)), **kwargs)

    user.should_see = should_see  # type: ignore[method-assign]
    user.should_not_see = should_not_see  # type: ignore[method-assign]


async def sign_in(user: User, path: str = '/') -> None:
    """Open ``path`` with the token in the URL, as the start-up link does."""
    separator = '&' if '?' in path else '?'
    await user.open(f'{path}{separator}token={TOKEN}')


async def click_when_shown(user: User, marker: str) -> None:
    """Wait until the element marked ``marker`` is on the page, then click it (as a person waits for a button)."""
    await user.should_see(marker=marker)
    user.find(marker=marker).click()


async def submit_form(user: User, marker: str) -> httpx.Response:
    """Press the submit button of the form marked ``marker``, as a browser does: POST the form's named fields (the
    values typed into its inputs, the values of its hidden inputs) to its action with the browser's cookies,
    then load the page the answer redirects to. Returns the form's answer."""
    forms = user.find(marker=marker).elements
    assert len(forms) == 1, f'{len(forms)} elements marked {marker!r}'
    form = next(iter(forms))
    assert form.tag == 'form' and form.props.get('method') == 'post', f'{marker!r} is not a POST form'
    fields = list(form.descendants())
    assert any(field.props.get('type') == 'submit' for field in fields), f'{marker!r} has no submit button'
    data = {str(field.props['name']): _field_value(field) for field in fields if field.props.get('name')}
    response = await user.http_client.post(str(form.props['action']), data=data, follow_redirects=False)
    if response.status_code == 303:
        await user.open(response.headers['location'])
    return response


def _field_value(field: Element) -> str:
    value = field.value if isinstance(field, ValueElement) else field.props.get('value')
    return '' if value is None else str(value)


async def api(user: User, method: str, path: str, body: Any = None) -> httpx.Response:
    return await user.http_client.request(method, path, json=body, headers=AUTH)


async def start(user: User, workflow_id: str, body: Any = None) -> str:
    response = await api(user, 'POST', f'/api/workflows/{workflow_id}/executions', body or {})
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


async def cancelled_in_its_row(user: User) -> str:
    """Start 'slow' while a list of executions is open: its row shows it running, then (cancelled through the API)
    cancelled with none of its one node succeeded (its cancelled node is done, but did not succeed). Its id."""
    execution_id = await start(user, 'slow')
    await user.should_see(marker=f'execution-row-{execution_id}')
    with user.scope(marker=f'execution-row-{execution_id}'):
        await user.should_see('running')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')
    with user.scope(marker=f'execution-row-{execution_id}'):
        await user.should_see('cancelled')
        await user.should_see('0/1')
    return execution_id


async def wait_until_ended(user: User, execution_id: str) -> dict[str, Any]:
    """Poll the API until the execution is terminal and its row is committed (so SQL-backed views see it)."""
    seen: dict[str, Any] = {}

    async def ended() -> dict[str, Any] | None:
        seen.update((await api(user, 'GET', f'/api/executions/{execution_id}')).json())
        if seen.get('status') not in {'succeeded', 'failed', 'cancelled', 'interrupted'}:
            return None
        listed = (await api(user, 'GET', '/api/executions?limit=500')).json()
        committed = any(item['id'] == execution_id and item['status'] == seen['status'] for item in listed['items'])
        return dict(seen) if committed else None

    return await until(ended, f'execution {execution_id} to end', seen=lambda: seen)


async def handled(action: Callable[[], object]) -> None:
    """Do ``action`` (a click, an event sent to an element) and wait until the handlers it started as tasks have
    finished: for a check that the action changed nothing, which no condition can wait for."""
    before = asyncio.all_tasks()
    action()
    started = asyncio.all_tasks() - before
    if started:
        await asyncio.wait_for(asyncio.gather(*started), TIMEOUT)


def record_urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Collect the URLs the page puts into the address bar (``ui.navigate.history.replace``)."""
    urls: list[str] = []
    original = ui.navigate.history.replace

    def replace(url: str) -> None:
        urls.append(url)
        original(url)

    monkeypatch.setattr(ui.navigate.history, 'replace', replace)
    return urls


def current_path(user: User) -> str:
    assert user.client is not None
    return user.client.sub_pages_router.current_path


async def wait_for_path(user: User, pattern: str) -> str:
    """Wait until the routed frame shows a path matching ``pattern`` (a regular expression)."""
    await until(
        lambda: re.fullmatch(pattern, current_path(user)),
        f'a path matching {pattern!r}',
        seen=lambda: current_path(user),
    )
    return current_path(user)


def dialog_open(user: User, marker: str) -> bool:
    """Whether the one dialog holding the element marked ``marker`` is open (a closed dialog's elements stay in the
    tree, so ``should_see`` still finds them)."""
    (element,) = user.find(marker=marker).elements
    while not isinstance(element, ui.dialog):
        parent = element.parent_slot.parent if element.parent_slot is not None else None
        assert parent is not None, f'{marker!r} is in no dialog'
        element = parent
    return bool(element.value)


def text_of(user: User, marker: str) -> str:
    """The text of the one element marked ``marker`` (fails unless there is exactly one)."""
    shown = shown_text(user, marker)
    assert shown is not None, f'no element marked {marker!r}'
    return shown


def shown_text(user: User, marker: str) -> str | None:
    """The text of the element marked ``marker``; None while there is none. More than one fails at once: the marker
    does not say which element is meant."""
    try:
        elements = user.find(marker=marker).elements
    except AssertionError:  # find fails when there is none
        return None
    assert len(elements) == 1, f'{len(elements)} elements marked {marker!r}'
    return str(getattr(next(iter(elements)), 'text', ''))


async def wait_for_text(user: User, marker: str, expected: str) -> None:
    """Wait until the one element marked ``marker`` shows exactly ``expected``."""
    await until(
        lambda: shown_text(user, marker) == expected,
        f'{marker} to show {expected!r}',
        seen=lambda: shown_text(user, marker),
    )


async def wait_for_text_containing(user: User, marker: str, part: str) -> str:
    """Wait until the one element marked ``marker`` shows a text containing ``part``; that text."""
    return await until(
        lambda: (text := shown_text(user, marker)) is not None and part in text and text,
        f'{marker} to show a text containing {part!r}',
        seen=lambda: shown_text(user, marker),
    )


def node_status(user: User, node_id: str) -> str:
    """The status word the node list shows in the node's row (``data-testid="node-<id>"``)."""
    elements = user.find(marker='node-list').elements
    assert len(elements) == 1, 'expected one node list'
    node_list = next(iter(elements))
    assert isinstance(node_list, NodeList)
    return node_list.status_of(node_id)


def log_lines(user: User) -> list[str]:
    """The event log's lines as the page shows them (plain text, oldest first)."""
    elements = user.find(marker='event-log').elements
    assert len(elements) == 1, 'expected one event log'
    log = next(iter(elements))
    assert isinstance(log, LogLines)
    return log.texts()


async def wait_for_log_line(user: User, needle: str) -> None:
    """Wait until some line of the event log contains ``needle``."""
    await until(
        lambda: any(needle in line for line in log_lines(user)),
        f'an event log line containing {needle!r}',
        seen=lambda: log_lines(user)[-10:],
    )


# A code editor asks the browser for its text's length (widgets/code_editor.py: CodeEditor.in_sync); the simulated
# browser's text is the server's, as a real one's is unless an edit was too large to send
EDITOR_LENGTH = re.compile(r'getElement\((\d+)\)\?\.editor\?\.state\.doc\.length')


@asynccontextmanager
async def another_browser(user: User) -> AsyncIterator[User]:
    """A second simulated browser on the app ``user`` runs (its own cookies, pages and answers to JavaScript): another
    tab, or another person. Not signed in. NiceGUI routes ``ui.notify`` and ``ui.navigate`` to the browser a test
    touched last: let one browser's action finish before touching the other."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test') as client:
        other = User(client)
        other.javascript_rules.update(user.javascript_rules)
        other.javascript_rules[EDITOR_LENGTH] = lambda match: editor_length(other, match)
        be_patient(other)
        yield other


def editor_length(user: User, match: re.Match[str]) -> int | None:
    element = user.client.elements.get(int(match.group(1))) if user.client else None
    if not isinstance(element, ui.codemirror):  # (the page has gone on: a browser's getElement finds no editor there)
        return None
    text = element.value or ''
    return len(text.encode('utf-16-le', errors='surrogatepass')) // 2
