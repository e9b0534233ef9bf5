"""The workflow editor in the user simulation: the API's validation messages as the text changes, the preview, JSON
and YAML, the diff before saving, Save with created/replaced semantics, and workflows that files provision."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement
from nicegui.testing.user import User
from sample_workflows import chain, log, transform
from uisim import (
    AUTH,
    EDITOR_LENGTH,
    another_browser,
    api,
    click_when_shown,
    current_path,
    sign_in,
    text_of,
    wait_for_path,
)
from waiting import until

from flowmon.application.workflows import Workflows
from flowmon.store import catalog as catalog_module
from flowmon.web.format import timestamp
from flowmon.web.widgets.code_editor import CodeEditor
from flowmon.web.widgets.dag_chart import DagChart
from flowmon.web.widgets.leave_guard import LeaveGuard
from flowmon.web.widgets.shortcuts import Shortcuts

EDITED = chain('edited', 'Edited in the browser', transform('shape', '{ok: `true`}'), log('tell', 'done'))


def editor(user: User) -> ui.codemirror:
    (found,) = user.find(marker='workflow-source').elements
    assert isinstance(found, ui.codemirror)
    return found


async def status_becomes(user: User, needle: str) -> str:
    await user.should_see(marker='editor-status')  # the page is there
    await until(lambda: needle in text_of(user, 'editor-status'), f'the status to say {needle!r}')
    return text_of(user, 'editor-status')


def preview_nodes(user: User) -> set[str]:
    (preview,) = user.find(marker='editor-preview').elements
    charts = [element for element in preview.descendants() if isinstance(element, DagChart)]
    return {item['name'] for chart in charts for item in chart.snapshot()['nodes']}


async def test_a_new_workflow_is_checked_as_it_is_typed_previewed_and_created(user: User) -> None:
    await sign_in(user, '/')
    await user.should_see(marker='new-workflow')
    user.find(marker='new-workflow').click()  # the dashboard's workflows panel links to the editor
    await wait_for_path(user, '/workflows/new')
    await user.should_see(marker='workflow-source')
    await status_becomes(user, 'Valid: my-workflow, 2 nodes, 1 edge')  # the template
    assert preview_nodes(user) == {'start', 'report'}

    editor(user).value = '{"id": "edited", "nodes": ['  # garbage: a message, never an error page
    await status_becomes(user, 'malformed workflow document')
    bad = {**EDITED, 'nodes': [{'id': 'shape', 'type': 'teleport'}]}
    editor(user).value = json.dumps(bad)
    api_answer = (await api(user, 'PUT', '/api/workflows/edited', bad)).json()['detail']
    assert await status_becomes(user, 'teleport') == api_answer  # the message PUT /api/workflows/{id} gives
    assert preview_nodes(user) == {'start', 'report'}  # the last valid version stays in the preview
    await user.should_see('the last valid version')

    editor(user).value = json.dumps(EDITED, indent=2)
    await status_becomes(user, 'Valid: edited, 2 nodes, 1 edge')
    await until(lambda: preview_nodes(user) == {'shape', 'tell'}, 'the preview of the new definition')
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-changes')
    await user.should_see('A new workflow: nothing is stored under this id yet.')
    user.find(marker='editor-confirm-save').click()
    await wait_for_path(user, '/workflows/edited')
    await user.should_see('Workflow “edited” created.')
    stored = await api(user, 'GET', '/api/workflows/edited')
    assert stored.status_code == 200 and stored.json()['name'] == 'Edited in the browser'


async def test_a_mistyped_config_key_is_named_with_the_keys_the_type_has_as_the_api_names_it(user: User) -> None:
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    typo = chain('typo', 'Typo', transform('shape', '{ok: `true`}'))
    typo['nodes'][0]['config'] = {'expresion': '<b>{ok: `true`}</b>'}
    editor(user).value = json.dumps(typo)
    expected = (
        "node 'shape' (transform): unknown config key 'expresion' (known: expression; did you mean 'expression'?)"
    )
    shown = await status_becomes(user, expected)
    assert 'Extra inputs' not in shown and 'Field required' not in shown
    response = await api(user, 'PUT', '/api/workflows/typo', typo)
    assert response.status_code == 422 and response.json()['detail'] == shown


@pytest.mark.parametrize(
    ('config', 'expected'),
    [
        ({'expression': 'a.['}, "node 'shape' (transform): expression: invalid JMESPath expression 'a.[': "),
        (
            {'url': 'https://hooks.example.com/in', 'endpoint': 'ep_1'},
            'node \'shape\' (webhook): give exactly one of "url" or "endpoint"',
        ),
        (
            {'url': 'https://hooks.example.com/in', 'auth': {'type': 'bearer'}},
            'node \'shape\' (webhook): auth: bearer auth needs "token"',
        ),
    ],
    ids=['jmespath', 'url-or-endpoint', 'auth'],
)
async def test_a_config_value_its_type_refuses_is_said_in_its_words_as_the_api_says_it(
    user: User, config: dict[str, object], expected: str
) -> None:
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    refused = chain('refused', 'Refused', transform('shape', '{ok: `true`}'))
    refused['nodes'][0].update(type='webhook' if 'url' in config else 'transform', config=config)
    editor(user).value = json.dumps(refused)
    shown = await status_becomes(user, expected)
    assert shown.startswith(expected) and 'Value error' not in shown, shown
    response = await api(user, 'PUT', '/api/workflows/refused', refused)
    assert response.status_code == 422 and response.json()['detail'] == shown


@pytest.mark.parametrize(
    ('config', 'expected'),
    [
        (
            {'url': 'https://example.com/', 'timeout_seconds': 'soon'},
            "node 'call' (http): timeout_seconds: Input should be a valid number, unable to parse string as a number",
        ),
        ({'method': 'GET'}, "node 'call' (http): url is required"),
        (
            {'url': 'https://example.com/', 'timeout_seconds': 0},
            "node 'call' (http): timeout_seconds: Input should be greater than 0",
        ),
        (
            {'url': 'https://example.com/', 'timeout_seconds': {'$secret': 'wait'}},
            'node \'call\' (http): timeout_seconds: a {"$secret": ...} reference stands for a string, which this '
            'field does not take',
        ),
        (['https://example.com/'], "node 'call' (http): config must be an object"),
        ({'$secret': 'call'}, 'node \'call\' (http): config must be an object, not a {"$secret": ...} reference'),
        (  # (it said "header name '' is not an HTTP header name (letters, ...)")
            {'url': 'https://example.com/', 'headers': {'X-Ok': 'a', '': 'b'}},
            "node 'call' (http): headers: a header name is empty",
        ),
        (  # (the name was quoted whole: up to the 2 MiB of a definition)
            {'url': 'https://example.com/', 'headers': {'X ' + 'n' * 5000: 'b'}},
            "node 'call' (http): headers: header name 'X nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…' is not an HTTP "
            "header name (letters, digits and !#$%&'*+-.^_`|~)",
        ),
    ],
    ids=[
        'type',
        'missing',
        'range',
        'secret-reference',
        'not-an-object',
        'a-reference-as-config',
        'empty-header',
        'long-header-name',
    ],
)
async def test_a_config_value_pydantic_refuses_reads_as_the_checks_of_the_type_do_and_as_the_api_says_it(
    user: User, config: object, expected: str
) -> None:
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    refused = chain('refused', 'Refused', {'id': 'call', 'type': 'http', 'config': config})
    editor(user).value = json.dumps(refused)
    assert await status_becomes(user, expected) == expected
    response = await api(user, 'PUT', '/api/workflows/refused', refused)
    assert response.status_code == 422 and response.json()['detail'] == expected


async def test_editing_shows_the_diff_against_the_stored_version_then_replaces_it(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await click_when_shown(user, 'edit-workflow')
    await wait_for_path(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    definition = json.loads(editor(user).value)
    assert definition['name'] == 'Quick check'

    (save,) = user.find(marker='editor-save').elements
    assert not save.enabled  # nothing to save yet
    user.find(marker='editor-diff').click()
    await user.should_see('No changes: this is the stored version.')
    definition['name'] = 'Quick check, renamed'
    editor(user).value = json.dumps(definition, indent=2)
    assert save.enabled  # at once, before the check
    await status_becomes(user, 'Valid: quick')
    assert save.enabled
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-confirm-save')
    (diff,) = user.find(marker='editor-changes').elements
    blocks = {(b.props.get('data-kind'), b.text) for b in diff.descendants() if isinstance(b, TextElement)}
    assert ('removed', '-   "name": "Quick check",') in blocks  # a line diff of the definitions, as text
    assert ('added', '+   "name": "Quick check, renamed",') in blocks
    user.find(marker='editor-confirm-save').click()
    await wait_for_path(user, '/workflows/quick')
    await user.should_see('Workflow “quick” saved.')
    assert (await api(user, 'GET', '/api/workflows/quick')).json()['name'] == 'Quick check, renamed'


async def test_the_id_of_an_edited_workflow_cannot_change(user: User) -> None:
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick')
    definition = json.loads(editor(user).value)
    editor(user).value = json.dumps({**definition, 'id': 'other'})
    await status_becomes(user, "id 'other' in the body does not match 'quick' in the path")
    assert not next(iter(user.find(marker='editor-save').elements)).enabled


async def test_yaml_is_switchable_and_saved_as_yaml(user: User) -> None:
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    editor(user).value = json.dumps(EDITED)
    await status_becomes(user, 'Valid: edited')
    (toggle,) = user.find(marker='editor-format').elements
    assert isinstance(toggle, ui.toggle)
    toggle.value = 'YAML'
    await until(lambda: editor(user).value.startswith('id: edited'), 'the YAML version of the document')
    assert 'nodes:\n- id: shape' in editor(user).value
    await status_becomes(user, 'Valid: edited, 2 nodes, 1 edge')
    editor(user).value += 'x: &anchor 1\n'  # refused exactly as PUT refuses YAML anchors
    await status_becomes(user, 'YAML anchors are not accepted (found &anchor on line')
    editor(user).value = editor(user).value.replace('x: &anchor 1\n', '').replace('Edited in the browser', 'From YAML')
    await status_becomes(user, 'Valid: edited')
    user.find(marker='editor-save').click()
    await click_when_shown(user, 'editor-confirm-save')
    await wait_for_path(user, '/workflows/edited')
    assert (await api(user, 'GET', '/api/workflows/edited')).json()['name'] == 'From YAML'


async def test_a_workflow_from_a_file_says_the_file_wins_at_the_next_start(user: User) -> None:
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker='provisioned-note')
    await user.should_see('Provisioned from the workflow file quick.json: the file wins at the next start')
    await user.open('/workflows/quick/edit')
    await user.should_see(marker='provisioned-note')
    response = await api(user, 'PUT', '/api/workflows/made-here', {**EDITED, 'id': 'made-here'})
    assert response.status_code == 201
    await user.open('/workflows/made-here')
    await user.should_see(marker='edit-workflow')
    await user.should_not_see(marker='provisioned-note')


async def test_editing_an_unknown_workflow_says_so(user: User) -> None:
    await sign_in(user, '/workflows/nope/edit')
    await user.should_see(marker='workflow-not-found')


async def test_the_size_limit_applies_before_the_text_is_parsed(user: User) -> None:
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    editor(user).value = '{"id": "big", "pad": "' + 'a' * (2 * 1024 * 1024) + '"'  # too big, and not even JSON
    assert await status_becomes(user, 'larger than') == 'workflow definition is larger than 2097152 bytes'
    assert not next(iter(user.find(marker='editor-save').elements)).enabled


async def test_cancel_asks_before_dropping_edits_and_leaves_at_once_without_any(user: User) -> None:
    """Cancel with the stored definition in the editor (the same document in YAML too) goes back at once; with an
    edit it asks first, as going elsewhere does: Stay keeps the editor and the edit, Leave goes and stores nothing."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    user.find(marker='editor-cancel').click()
    await wait_for_path(user, '/workflows/quick')

    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    definition = json.loads(editor(user).value)
    definition['name'] = 'Quick check, renamed'
    editor(user).value = json.dumps(definition, indent=2)
    await status_becomes(user, 'Valid: quick')
    user.find(marker='editor-cancel').click()
    await user.should_see(marker='leave')
    await user.should_see('Leave without saving?')
    await user.should_see('This page has edits that are not saved; leaving drops them.')
    user.find(marker='leave-cancel').click()  # Stay
    await user.should_not_see(marker='leave')
    assert json.loads(editor(user).value)['name'] == 'Quick check, renamed'  # still there
    user.find(marker='editor-cancel').click()
    await user.should_see(marker='leave')
    user.find(marker='leave-ok').click()  # Leave
    await wait_for_path(user, '/workflows/quick')
    assert (await api(user, 'GET', '/api/workflows/quick')).json()['name'] == 'Quick check'

    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    (toggle,) = user.find(marker='editor-format').elements
    toggle.value = 'YAML'
    await until(lambda: editor(user).value.startswith('id: quick'), 'the YAML version of the document')
    user.find(marker='editor-cancel').click()
    await wait_for_path(user, '/workflows/quick')


async def test_a_text_the_server_never_got_is_never_valid(user: User) -> None:
    """The browser's editor holds more than the server's copy (an edit too large for the page's connection was
    dropped on its way): the status says so instead of checking the older text, Save is disabled, and Cancel asks."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    rule = user.javascript_rules[EDITOR_LENGTH]
    user.javascript_rules[EDITOR_LENGTH] = lambda match: (rule(match) or 0) + 1_200_000
    definition = json.loads(editor(user).value)
    definition['name'] = 'Quick check, renamed'
    editor(user).value = json.dumps(definition, indent=2)
    await status_becomes(user, 'This text did not reach flowmon')
    (save,) = user.find(marker='editor-save').elements
    assert not save.enabled
    user.find(marker='editor-cancel').click()
    await user.should_see(marker='leave')


async def test_a_text_not_known_to_be_the_browsers_is_not_saved(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser does not answer whether its text is the server's (a busy phone, a lost connection): nothing is
    saved until it does; the status says so."""

    async def no_answer(*args: object, **kwargs: object) -> None:
        return None

    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    monkeypatch.setattr(CodeEditor, 'in_sync', no_answer)
    editor(user).value = editor(user).value.replace('Quick check', 'Quick check, renamed')
    await status_becomes(user, 'The page did not answer in time')
    (save,) = user.find(marker='editor-save').elements
    assert not save.enabled
    monkeypatch.undo()
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')  # checked again once it answers
    assert save.enabled


async def open_quick(user: User) -> LeaveGuard:
    """Open the editor of the quick workflow; its page's leave guard."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    (found,) = user.find(marker='leave-guard').elements
    assert isinstance(found, LeaveGuard)
    return found


async def test_the_browser_is_asked_to_confirm_leaving_only_while_there_are_edits_not_saved(user: User) -> None:
    """The page's beforeunload guard (closing the tab, reloading, signing out) is armed by an edit, and disarmed when
    the text says the opened definition again (in YAML too), when the edits are discarded and when they are saved."""
    guard = await open_quick(user)
    assert not guard.armed  # the stored definition, not edited
    opened = editor(user).value
    definition = json.loads(opened)

    editor(user).value = json.dumps({**definition, 'name': 'Quick check, renamed'}, indent=2)
    assert guard.armed  # at once, before any check
    await status_becomes(user, 'Valid: quick')
    assert guard.armed
    editor(user).value = opened  # typed back: nothing to lose, nor to save
    await until(lambda: not guard.armed, 'the guard to be disarmed')
    (save,) = user.find(marker='editor-save').elements
    await until(lambda: not save.enabled, 'Save disabled')

    (toggle,) = user.find(marker='editor-format').elements
    toggle.value = 'YAML'  # the same document in other words
    await until(lambda: editor(user).value.startswith('id: quick'), 'the YAML version of the document')
    await until(lambda: not guard.armed, 'the guard to stay disarmed')
    await until(lambda: not save.enabled, 'Save to stay disabled')
    editor(user).value += 'x: [\n'  # not even a document: an edit
    assert guard.armed
    await status_becomes(user, 'malformed')
    assert guard.armed

    user.find(marker='editor-cancel').click()  # discarded
    await click_when_shown(user, 'leave-ok')
    await wait_for_path(user, '/workflows/quick')
    assert not guard.armed

    guard = await open_quick(user)
    editor(user).value = json.dumps({**definition, 'name': 'Quick check, saved'}, indent=2)
    assert guard.armed
    user.find(marker='editor-save').click()  # saved
    await click_when_shown(user, 'editor-confirm-save')
    await wait_for_path(user, '/workflows/quick')
    assert not guard.armed


async def test_going_elsewhere_in_the_app_asks_first_while_there_are_edits_not_saved(user: User) -> None:
    """The header, a link or the back button change pages without unloading one (no beforeunload): the app asks
    itself. Stay keeps the editor, its edit and its address; Leave goes where the visitor went; no edits, no
    question."""
    await open_quick(user)
    user.find(marker='nav-executions').click()  # nothing edited: gone at once
    await wait_for_path(user, '/executions')
    await user.should_see(marker='executions-page')
    await user.should_not_see(marker='leave')

    guard = await open_quick(user)
    editor(user).value = editor(user).value.replace('Quick check', 'Quick check, renamed')
    assert guard.armed
    user.find(marker='nav-executions').click()
    await user.should_see(marker='leave')
    await user.should_see('This page has edits that are not saved; leaving drops them.')
    user.find(marker='leave-cancel').click()  # Stay
    await user.should_not_see(marker='leave')
    assert current_path(user) == '/workflows/quick/edit'
    assert 'Quick check, renamed' in editor(user).value
    assert 'fm-nav-active' not in next(iter(user.find(marker='nav-executions').elements)).classes
    await user.should_not_see(marker='executions-page')

    user.find(marker='nav-executions').click()
    await click_when_shown(user, 'leave-ok')  # Leave
    await wait_for_path(user, '/executions')
    await user.should_see(marker='executions-page')
    assert (await api(user, 'GET', '/api/workflows/quick')).json()['name'] == 'Quick check'


async def test_a_shortcut_and_the_breadcrumb_link_ask_first_too_while_there_are_edits_not_saved(user: User) -> None:
    """``g d`` (the shortcuts' navigation, the server's half) and the editor's own "Dashboard" link go through the
    same question as the header: Stay keeps the edit, Leave goes."""
    guard = await open_quick(user)
    editor(user).value = editor(user).value.replace('Quick check', 'Quick check, renamed')
    assert guard.armed
    shortcuts = user.find(kind=Shortcuts)
    for leave in (
        lambda: shortcuts.trigger('navigate', '/'),
        lambda: user.find(kind=ui.link, content='Dashboard').click(),
    ):
        leave()
        await user.should_see(marker='leave')
        user.find(marker='leave-cancel').click()  # Stay
        await user.should_not_see(marker='leave')
        assert current_path(user) == '/workflows/quick/edit'
        assert 'Quick check, renamed' in editor(user).value
    user.find(kind=ui.link, content='Dashboard').click()
    await click_when_shown(user, 'leave-ok')  # Leave
    await wait_for_path(user, '/')


# --- two editors of one workflow --------------------------------------------------------------------------------


def diff_lines_shown(user: User) -> set[tuple[object, str]]:
    """The diff's lines, each with its kind (a run of lines of one kind is one text block)."""
    (diff,) = user.find(marker='editor-changes').elements
    blocks = [(b.props.get('data-kind'), b.text) for b in diff.descendants() if isinstance(b, TextElement)]
    return {(kind, line) for kind, text in blocks for line in text.splitlines()}


async def rename_and_save(user: User, name: str) -> None:
    """In the editor of quick: rename it, Save…, Save; wait for the workflow's page."""
    editor(user).value = editor(user).value.replace('"name": "Quick check"', f'"name": "{name}"')
    await status_becomes(user, 'Valid: quick')
    user.find(marker='editor-save').click()
    await click_when_shown(user, 'editor-confirm-save')
    await wait_for_path(user, '/workflows/quick')


async def saved_at(user: User) -> str:
    """When quick was last saved, as the editor says it (the simulated browser is in UTC)."""
    listed = (await api(user, 'GET', '/api/workflows')).json()
    updated_at = next(item['updated_at'] for item in listed if item['id'] == 'quick')
    return timestamp(datetime.fromisoformat(updated_at), tz=UTC)


async def test_a_save_over_a_version_someone_saved_meanwhile_is_stopped_with_the_choices(user: User) -> None:
    """Two editors open quick; the first saves a fix. The second's Save… stores nothing: it says someone saved it
    since it was opened, keeps its text, and offers their version's diff against it; Overwrite with yours then
    stores the text over their version."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    async with another_browser(user) as second:
        await sign_in(second, '/workflows/quick/edit')
        await status_becomes(second, 'Valid: quick, 1 node, 0 edges')

        await rename_and_save(user, 'Fixed in the first')

        mine = editor(second).value.replace('"description": "', '"description": "Edited in the second. ')
        editor(second).value = mine
        await status_becomes(second, 'Valid: quick')
        second.find(marker='editor-save').click()
        await second.should_see(marker='editor-conflict')
        message = text_of(second, 'editor-conflict-message')
        assert message == f'Someone saved the workflow “quick” at {await saved_at(second)} since you opened it.'
        await second.should_not_see(marker='editor-confirm-save')  # no save of the older version offered
        assert editor(second).value == mine  # the text is kept
        (guard,) = second.find(marker='leave-guard').elements
        assert isinstance(guard, LeaveGuard) and guard.armed
        assert (await api(second, 'GET', '/api/workflows/quick')).json()['name'] == 'Fixed in the first'

        second.find(marker='conflict-review').click()
        await second.should_see(marker='editor-changes')
        lines = diff_lines_shown(second)
        assert ('removed', '-   "name": "Fixed in the first",') in lines  # theirs
        assert ('added', '+   "name": "Quick check",') in lines  # yours
        await second.should_see('- only in theirs, saved at')
        await second.should_not_see(marker='editor-confirm-save')
        second.find('Close').click()

        second.find(marker='conflict-overwrite').click()
        await wait_for_path(second, '/workflows/quick')
        stored = (await api(second, 'GET', '/api/workflows/quick')).json()
        assert stored['name'] == 'Quick check' and stored['description'].startswith('Edited in the second.')
        assert not guard.armed


async def test_their_version_can_be_loaded_and_a_save_confirmed_after_theirs_is_stopped_too(user: User) -> None:
    """Discard yours, load theirs puts their version in the editor (nothing to lose: no question on leaving), which
    Save then stores over; a save that someone else's overtakes between Save… and Save is stopped the same way."""
    async with another_browser(user) as second:
        await sign_in(second, '/workflows/quick/edit')
        await status_becomes(second, 'Valid: quick, 1 node, 0 edges')
        await sign_in(user, '/workflows/quick/edit')
        await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
        await rename_and_save(user, 'Fixed in the first')

        editor(second).value = editor(second).value.replace('"Quick check"', '"Mine, to drop"')
        await status_becomes(second, 'Valid: quick')
        second.find(marker='editor-save').click()
        await click_when_shown(second, 'conflict-load')
        await second.should_not_see(marker='editor-conflict')
        await second.should_see('is in the editor')  # (said once their text is in: it is dumped in a thread)
        assert json.loads(editor(second).value) == (await api(second, 'GET', '/api/workflows/quick')).json()
        (guard,) = second.find(marker='leave-guard').elements
        assert isinstance(guard, LeaveGuard)
        await until(lambda: not guard.armed, 'the guard to be disarmed: the text is the stored version')

        editor(second).value = editor(second).value.replace('"Fixed in the first"', '"Fixed again in the second"')
        await status_becomes(second, 'Valid: quick')
        second.find(marker='editor-save').click()
        await second.should_see(marker='editor-confirm-save')  # over theirs, now loaded: no conflict
        overtaking = {**(await api(second, 'GET', '/api/workflows/quick')).json(), 'name': 'Overtaking'}
        response = await second.http_client.put('/api/workflows/quick', json=overtaking, headers=AUTH)
        assert response.status_code == 200
        second.find(marker='editor-confirm-save').click()
        await second.should_see(marker='editor-conflict')
        (dialog,) = second.find(kind=ui.dialog).elements
        assert not dialog.value  # closed, and the page says why
        assert 'since you opened it' in text_of(second, 'editor-conflict-message')
        assert (await api(second, 'GET', '/api/workflows/quick')).json()['name'] == 'Overtaking'
        assert '"Fixed again in the second"' in editor(second).value
        assert current_path(second) == '/workflows/quick/edit'


async def test_a_workflow_deleted_meanwhile_is_said_and_saved_again_only_when_asked(user: User) -> None:
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    assert (await api(user, 'DELETE', '/api/workflows/quick')).status_code == 204
    editor(user).value = editor(user).value.replace('"Quick check"', '"Kept"')
    await status_becomes(user, 'Valid: quick')
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-conflict')
    assert text_of(user, 'editor-conflict-message') == 'Someone deleted the workflow “quick” since you opened it.'
    await user.should_not_see(marker='conflict-load')
    assert (await api(user, 'GET', '/api/workflows/quick')).status_code == 404
    user.find(marker='conflict-overwrite').click()  # Save yours again
    await wait_for_path(user, '/workflows/quick')
    assert (await api(user, 'GET', '/api/workflows/quick')).json()['name'] == 'Kept'


async def test_save_is_enabled_on_unchanged_text_once_the_version_it_says_is_deleted_or_saved_over(user: User) -> None:
    """Save… is disabled while the text says the stored version the editor opened; once that version is deleted, or
    saved over elsewhere, it is enabled without an edit, and leads to the choices (Save yours again...)."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    (save,) = user.find(marker='editor-save').elements
    await until(lambda: not save.enabled, 'Save disabled: nothing to save')
    assert (await api(user, 'DELETE', '/api/workflows/quick')).status_code == 204
    await until(lambda: save.enabled, 'Save enabled: the version the text says is gone')
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-conflict')
    assert text_of(user, 'editor-conflict-message') == 'Someone deleted the workflow “quick” since you opened it.'
    user.find(marker='conflict-overwrite').click()  # Save yours again
    await wait_for_path(user, '/workflows/quick')
    assert (await api(user, 'GET', '/api/workflows/quick')).json()['name'] == 'Quick check'

    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    (save,) = user.find(marker='editor-save').elements
    await until(lambda: not save.enabled, 'Save disabled: nothing to save')
    theirs = {**(await api(user, 'GET', '/api/workflows/quick')).json(), 'name': 'Saved elsewhere'}
    assert (await user.http_client.put('/api/workflows/quick', json=theirs, headers=AUTH)).status_code == 200
    await until(lambda: save.enabled, 'Save enabled: the version the text says was saved over')
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-conflict')
    assert text_of(user, 'editor-conflict-message').startswith('Someone saved the workflow “quick” at')
    await user.should_see(marker='conflict-load')


async def test_an_edit_made_while_the_text_is_checked_leaves_save_enabled(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of text typed back to the stored version is under way (it asks whether the text says that version)
    when another edit comes: Save… stays enabled for the edited text, where the check's finding disabled it."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    (save,) = user.find(marker='editor-save').elements
    await until(lambda: not save.enabled, 'Save disabled: nothing to save')
    opened = editor(user).value
    edited = opened.replace('"Quick check"', '"Kept"')
    editor(user).value = edited
    await until(lambda: save.enabled, 'Save enabled by the edit')
    await status_becomes(user, 'Valid: quick')

    asked = Workflows.document
    edits: list[str] = []
    rechecked = asyncio.Event()
    turns: list[bool] = []  # Save's enabled state as it changes from the edit made meanwhile on
    handle = save._handle_enabled_change

    def record(value: bool) -> None:
        if edits:
            turns.append(value)
        handle(value)

    read_back: list[str | bytes] = []

    async def edit_meanwhile(self: Workflows, document: str | bytes, *, yaml: bool = False) -> object:
        found = await asked(self, document, yaml=yaml)
        if document == opened:
            read_back.append(document)
        if len(read_back) == 2 and not edits:  # the check of the text typed back (its validation read it first)
            edits.append(edited)
            editor(user).value = edited
        elif document == edited and edits:  # the check of the edit made meanwhile
            rechecked.set()
        return found

    monkeypatch.setattr(save, '_handle_enabled_change', record)
    monkeypatch.setattr(Workflows, 'document', edit_meanwhile)
    editor(user).value = opened  # typed back: the check finds nothing to save...
    await asyncio.wait_for(rechecked.wait(), timeout=10)  # ...but an edit came while it asked
    assert editor(user).value == edited
    assert save.enabled
    assert False not in turns, f'Save… was disabled for an edited text (by the check of the text before it): {turns}'


async def test_the_api_versions_workflows_through_the_whole_app(user: User) -> None:
    """ETag and If-Match through every layer the server has (its middleware, the perimeter)."""
    opened = await user.http_client.get('/api/workflows/quick', headers=AUTH)
    etag = opened.headers['ETag']
    changed = {**opened.json(), 'name': 'Renamed'}
    saved = await user.http_client.put('/api/workflows/quick', json=changed, headers={**AUTH, 'If-Match': etag})
    assert saved.status_code == 200 and saved.headers['ETag'] != etag
    assert (await user.http_client.get('/api/workflows/quick', headers=AUTH)).headers['ETag'] == saved.headers['ETag']
    stale = await user.http_client.put('/api/workflows/quick', json=opened.json(), headers={**AUTH, 'If-Match': etag})
    assert stale.status_code == 412
    assert f'the stored version is {saved.headers["ETag"]}' in stale.json()['detail']
    plain = await user.http_client.put('/api/workflows/quick', json=opened.json(), headers=AUTH)
    assert plain.status_code == 200 and plain.headers['ETag'] == etag  # no If-Match: stored as before
    gone = await user.http_client.delete('/api/workflows/quick', headers={**AUTH, 'If-Match': saved.headers['ETag']})
    assert gone.status_code == 412


async def test_a_new_workflow_past_the_limit_is_refused_by_the_api_and_the_editor(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every workflow is read whole for the list and the menu: their number is bounded. Through the whole app a new
    one past the limit gets 409 naming it and nothing is stored, the editor says it as it says other refusals,
    replacing a stored workflow needs no room, and deleting one makes room."""
    monkeypatch.setattr(catalog_module, 'MAX_WORKFLOWS', 3)  # (quick, broken and slow are stored)
    message = 'at most 3 workflows can be stored; delete one first'
    refused = await user.http_client.put('/api/workflows/edited', json=EDITED, headers=AUTH)
    assert refused.status_code == 409 and refused.json()['detail'] == message, refused.text
    assert (await api(user, 'GET', '/api/workflows/edited')).status_code == 404
    quick = (await api(user, 'GET', '/api/workflows/quick')).json()
    replaced = await api(user, 'PUT', '/api/workflows/quick', {**quick, 'name': 'Quick, renamed'})
    assert replaced.status_code == 200, replaced.text

    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    editor(user).value = json.dumps(EDITED, indent=2)
    await status_becomes(user, 'Valid: edited')
    user.find(marker='editor-save').click()
    await click_when_shown(user, 'editor-confirm-save')
    await user.should_see(f'Not saved: {message}')
    assert current_path(user) == '/workflows/new'  # the text stays, to save once there is room
    assert len((await api(user, 'GET', '/api/workflows')).json()) == 3

    assert (await api(user, 'DELETE', '/api/workflows/slow')).status_code == 204
    created = await user.http_client.put('/api/workflows/edited', json=EDITED, headers=AUTH)
    assert created.status_code == 201, created.text


async def test_delete_in_the_editor_deletes_the_version_it_opened_edits_and_all(user: User) -> None:
    """Delete… in the editor asks as the workflow page does, says that edits not saved go too, and leaves for the
    dashboard without the leave question; nothing is deleted when someone saved the workflow since."""
    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    definition = json.loads(editor(user).value)
    saved = await api(user, 'PUT', '/api/workflows/quick', {**definition, 'description': 'saved meanwhile'})
    assert saved.status_code == 200, saved.text
    await click_when_shown(user, 'editor-delete')
    await click_when_shown(user, 'confirm-delete-workflow-ok')
    await user.should_see('Not deleted: “Quick check” was saved at')
    assert (await api(user, 'GET', '/api/workflows/quick')).status_code == 200

    await sign_in(user, '/workflows/quick/edit')
    await status_becomes(user, 'Valid: quick, 1 node, 0 edges')
    editor(user).value = json.dumps({**definition, 'name': 'Quick check, renamed'}, indent=2)
    await status_becomes(user, 'Valid: quick')
    user.find(marker='editor-delete').click()
    await user.should_see(marker='confirm-delete-workflow')
    await user.should_see('Your edits in the editor, not saved, go too.')
    await user.should_see('the workflow file quick.json loads it again')
    user.find(marker='confirm-delete-workflow-ok').click()
    await wait_for_path(user, '/')
    await user.should_see('Workflow “Quick check” deleted.')
    await user.should_not_see(marker='leave')  # the edits went with it: nothing to ask
    assert (await api(user, 'GET', '/api/workflows/quick')).status_code == 404


async def test_the_save_dialog_lists_keys_in_the_order_they_were_typed(user: User) -> None:
    """A new workflow's diff reads as its text does (not sorted); an existing one's is in the text's order too, the
    stored version's keys following it, so keys that only moved are no change."""
    await sign_in(user, '/workflows/new')
    await status_becomes(user, 'Valid: my-workflow')
    typed = (
        '{"name": "Typed order", "id": "typed",\n'
        ' "nodes": [{"type": "transform", "id": "shape", "config": {"expression": "input"}}], "edges": []}'
    )
    editor(user).value = typed
    await status_becomes(user, 'Valid: typed, 1 node')
    user.find(marker='editor-save').click()
    await user.should_see(marker='editor-confirm-save')
    (diff,) = user.find(marker='editor-changes').elements
    blocks = [(b.props.get('data-kind'), b.text) for b in diff.descendants() if isinstance(b, TextElement)]
    (added,) = [text for kind, text in blocks if kind == 'added']
    keys = [line.split('"')[1] for line in added.splitlines() if line.count('"') >= 2]
    assert keys[:6] == ['name', 'id', 'nodes', 'type', 'id', 'config'], added
    user.find(marker='editor-confirm-save').click()
    await wait_for_path(user, '/workflows/typed')

    await sign_in(user, '/workflows/typed/edit')
    await status_becomes(user, 'Valid: typed')
    editor(user).value = typed.replace('"Typed order"', '"Typed order, renamed"').replace(
        '"edges": []', '"description": "now described", "edges": []'
    )
    await status_becomes(user, 'Valid: typed')
    user.find(marker='editor-diff').click()
    await user.should_see(marker='editor-changes')
    (diff,) = user.find(marker='editor-changes').elements
    blocks = [(b.props.get('data-kind'), b.text) for b in diff.descendants() if isinstance(b, TextElement)]
    changed = [(kind, text) for kind, text in blocks if kind in ('removed', 'added')]
    assert changed[0] == ('removed', '-   "name": "Typed order",'), blocks  # the first line, as typed
    assert changed[1] == ('added', '+   "name": "Typed order, renamed",'), blocks
    assert ('added', '+   "description": "now described",') in changed, blocks
    assert len(changed) == 3, blocks  # the keys in another order than stored: no change
