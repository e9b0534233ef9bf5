"""Text from runs and imports reaches the page as text (TextBlock, labels, event log cells), never as markup."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User
from uisim import api, log_lines, sign_in, start, wait_for_log_line, wait_until_ended
from waiting import until

from flowmon.web.markup import Html, tag
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.text_block import TextBlock

MARKER = '<b id="fm-marker-b">bold</b>\n```\n<form id="fm-marker-form"><img src="http://198.51.100.1/p.png">\n```'
ECHO: dict[str, Any] = {
    'id': 'echo',
    'name': 'Echo',
    'nodes': [
        {'id': 'say', 'type': 'transform', 'config': {'expression': 'input.text'}},
        {'id': 'boom', 'type': 'fail', 'config': {'message': MARKER}},
    ],
    'edges': [],
}


def elements(user: User) -> list[Any]:
    assert user.client is not None
    return list(user.client.elements.values())


def blocks(user: User) -> list[TextBlock]:
    return [element for element in elements(user) if isinstance(element, TextBlock)]


def markup_elements(user: User) -> list[Any]:
    """Elements that render their content as HTML or markdown (none may hold a marker)."""
    kinds = (ui.html, ui.markdown, ui.code)
    return [element for element in elements(user) if isinstance(element, kinds) and 'fm-marker' in element.content]


async def until_shown(user: User, text: str) -> TextBlock:
    found = await until(
        lambda: [block for block in blocks(user) if block.text == text],
        f'a TextBlock showing {text!r}',
        seen=lambda: [block.text for block in blocks(user)],
    )
    return found[0]


async def finished_echo(user: User) -> str:
    response = await api(user, 'PUT', '/api/workflows/echo', ECHO)
    assert response.status_code in (200, 201), response.text
    execution_id = await start(user, 'echo', {'input': {'text': MARKER}})
    await wait_until_ended(user, execution_id)
    return execution_id


async def test_the_inspector_shows_a_string_output_verbatim_in_a_text_block(user: User) -> None:
    execution_id = await finished_echo(user)
    await sign_in(user, f'/executions/{execution_id}')
    await user.should_see(marker='node-list')
    user.find(DagChart).trigger('node_click', 'say')
    block = await until_shown(user, json.dumps(MARKER, indent=2))
    assert block.tag == 'pre' and 'fm-pre' in block.classes
    await wait_for_log_line(user, 'node.failed')
    assert any(MARKER in line for line in log_lines(user))  # the error, as text, in the event log
    assert not markup_elements(user)


async def test_an_imported_traceback_is_shown_verbatim(user: User) -> None:
    execution_id = await finished_echo(user)
    document = (await api(user, 'GET', f'/api/executions/{execution_id}/export')).json()
    traceback = f'Traceback (most recent call last):\n  File "x.py", line 1\n{MARKER}'
    for event in document['events']:
        if event['type'] == 'node.failed':
            event['data']['traceback'] = traceback
    imported = await api(user, 'POST', '/api/executions/import', document)
    assert imported.status_code == 201, imported.text
    await sign_in(user, f'/executions/{imported.json()["id"]}')
    await user.should_see(marker='node-list')
    user.find(DagChart).trigger('node_click', 'boom')
    await user.should_see(marker='inspector-error')
    await until_shown(user, traceback)
    await user.should_see(MARKER, marker='inspector-error')  # the error message: a label
    assert not markup_elements(user)


async def test_html_takes_only_markup(user: User) -> None:
    await sign_in(user)
    with pytest.raises(TypeError):
        Html('<b>raw</b>')  # type: ignore[arg-type]
    assert user.client is not None
    with user.client:
        element = Html(tag('b', MARKER))
    assert element.content == tag('b', MARKER) and '<form' not in element.content
    with pytest.raises(TypeError):
        element.set_content('<b>raw</b>')
