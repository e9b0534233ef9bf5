"""Helpers for the layer-2 tests: the test workflows, signing in, the API, waiting for paths and runs."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from nicegui.element import Element
from nicegui.elements.mixins.value_element import ValueElement
from nicegui.testing.user import User

from flowmon.web.widgets.event_log import LogLines
from flowmon.web.widgets.node_list import NodeList

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_FILE = REPO_ROOT / 'app.py'
TOKEN = 'ui-test-token-long-enough'
AUTH = {'Authorization': f'Bearer {TOKEN}'}

QUICK = {
    'id': 'quick',
    'name': 'Quick check',
    'description': 'One transform node: done in a millisecond.',
    'nodes': [{'id': 'shape', 'type': 'transform', 'name': 'Shape', 'config': {'expression': '{ok: `true`}'}}],
    'edges': [],
}
BROKEN = {
    'id': 'broken',
    'name': 'Always broken',
    'description': 'Fails at once.',
    'nodes': [{'id': 'boom', 'type': 'fail', 'name': 'Boom', 'config': {'message': 'boom'}}],
    'edges': [],
}
SLOW = {
    'id': 'slow',
    'name': 'Slow wait',
    'description': 'Waits a minute (stays active).',
    'nodes': [{'id': 'wait', 'type': 'delay', 'name': 'Wait', 'config': {'seconds': 60}}],
    'edges': [],
}


async def wait_until_started(user: User, *, workflows: int, timeout: float = 10.0) -> None:
    """NiceGUI runs async start-up handlers as tasks: wait until the database is up and the workflows loaded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            response = await api(user, 'GET', '/api/workflows')
            if response.status_code == 200 and len(response.json()) >= workflows:
                return
        except Exception:  # the schema may not exist yet
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError('flowmon did not start in time')
        await asyncio.sleep(0.02)


async def sign_in(user: User, path: str = '/') -> None:
    """Open ``path`` with the token in the URL, as the start-up link does."""
    separator = '&' if '?' in path else '?'
    await user.open(f'{path}{separator}token={TOKEN}')


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


async def wait_until_ended(user: User, execution_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the API until the execution is terminal and its row is committed (so SQL-backed views see it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        summary = (await api(user, 'GET', f'/api/executions/{execution_id}')).json()
        if summary.get('status') in {'succeeded', 'failed', 'cancelled', 'interrupted'}:
            listed = (await api(user, 'GET', '/api/executions?limit=500')).json()
            if any(item['id'] == execution_id and item['status'] == summary['status'] for item in listed['items']):
                return summary
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f'execution {execution_id} did not end in {timeout} s: {summary}')
        await asyncio.sleep(0.05)


def current_path(user: User) -> str:
    assert user.client is not None
    return user.client.sub_pages_router.current_path


async def wait_for_path(user: User, pattern: str, timeout: float = 5.0) -> str:
    """Wait until the routed frame shows a path matching ``pattern`` (a regular expression)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not re.fullmatch(pattern, current_path(user)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f'path {current_path(user)!r} does not match {pattern!r}')
        await asyncio.sleep(0.05)
    return current_path(user)


def text_of(user: User, marker: str) -> str:
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, f'{len(elements)} elements marked {marker!r}'
    element = next(iter(elements))
    return str(getattr(element, 'text', ''))


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


async def wait_for_log_line(user: User, needle: str, timeout: float = 5.0) -> None:
    """Wait until some line of the event log contains ``needle``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(needle in line for line in log_lines(user)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f'no event log line contains {needle!r}: {log_lines(user)[-10:]}')
        await asyncio.sleep(0.05)


def webhook_receiver() -> ModuleType:
    """tests/integration/webhook_receiver.py (a real loopback HTTP receiver), loaded once per process."""
    spec = importlib.util.spec_from_file_location(
        'webhook_receiver', REPO_ROOT / 'tests' / 'integration' / 'webhook_receiver.py'
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault('webhook_receiver', importlib.util.module_from_spec(spec))
    if not hasattr(module, 'Receiver'):  # the integration tests may have imported it already
        spec.loader.exec_module(module)
    return module
