"""The workflow editor in a real Chromium: typing into CodeMirror, the API's validation message as you type, the
live preview, Save with the diff against the stored version, and the stored result. Names with markup in them stay
text (the diff and the status are text nodes). A browser whose system is in dark mode gets a dark page and editor until
the toggle says otherwise, the editor dark from its first frame, and an open page follows the system when it switches.
The preview keeps the view the visitor zoomed and panned it to from one edit to the next. Screenshots go to
test-output/screenshots."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from helpers import canvas_zoom, node_pixel, sign_in, wait_connected, wait_for, wait_loaded
from playwright.sync_api import Browser, Dialog, Page, expect
from playwright.sync_api import Error as PlaywrightError

Api = Callable[..., httpx.Response]
WORKFLOW_ID = 'e2e-editor'
HOSTILE = 'Renamed <img src=x onerror="window.__pwned=1">'
STORED = {
    'id': WORKFLOW_ID,
    'name': 'Editor in the browser',
    'nodes': [{'id': 'start', 'type': 'transform', 'config': {'expression': 'input'}}],
    'edges': [],
}


def _replace_text(page: Page, text: str) -> None:
    """Select everything in the code editor and type ``text`` over it (as an input event, like a paste)."""
    editor = page.get_by_test_id('workflow-source').locator('.cm-content')
    editor.click()
    page.keyboard.press('Control+A')
    page.keyboard.insert_text(text)


def test_leaving_the_page_with_edits_not_saved_asks_first(page: Page, server: Any, call_api: Api) -> None:
    """The browser asks (its beforeunload dialog) before a page with edits not saved goes away, here by the header's
    sign-out (a real navigation); not without edits. Staying keeps the edit; leaving goes."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)
    asked: list[str] = []
    leave = [False]

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.accept() if leave[0] else dialog.dismiss()

    page.on('dialog', answer)
    sign_in(page, server, f'/workflows/{WORKFLOW_ID}/edit')
    status, guard = page.get_by_test_id('editor-status'), page.get_by_test_id('leave-guard')
    expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')
    source = page.get_by_test_id('workflow-source').locator('.cm-content')
    source.click()  # the browser asks only on a page the visitor has used
    page.reload()  # no edits: nothing asked
    wait_connected(page)
    expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')
    assert asked == []

    _replace_text(page, json.dumps({**STORED, 'name': 'Renamed, not saved'}, indent=2))
    expect(guard).to_have_attribute('data-armed', 'true')
    page.get_by_test_id('sign-out').click()
    wait_for(lambda: asked == ['beforeunload'], 'the browser to ask before leaving')
    expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')  # stayed, with the edit
    expect(source).to_contain_text('Renamed, not saved')
    assert page.url.endswith(f'/workflows/{WORKFLOW_ID}/edit')

    leave[0] = True
    source.click()  # (a new gesture: the browser asks once per one)
    page.get_by_test_id('sign-out').click()
    page.wait_for_url('**/login**')
    assert asked == ['beforeunload', 'beforeunload']
    assert call_api('GET', f'/api/workflows/{WORKFLOW_ID}').json()['name'] == STORED['name']


def test_going_elsewhere_in_the_app_with_edits_not_saved_asks_first(page: Page, server: Any, call_api: Api) -> None:
    """The header's tabs and the back button change pages without unloading one: the app asks itself, and Stay keeps
    the editor, its edit and its address."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)
    sign_in(page, server, f'/workflows/{WORKFLOW_ID}')
    page.get_by_test_id('edit-workflow').click()
    page.wait_for_url(f'**/workflows/{WORKFLOW_ID}/edit')
    expect(page.get_by_test_id('editor-status')).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')
    _replace_text(page, json.dumps({**STORED, 'name': 'Renamed, not saved'}, indent=2))
    expect(page.get_by_test_id('leave-guard')).to_have_attribute('data-armed', 'true')
    source, question = page.get_by_test_id('workflow-source'), page.get_by_test_id('leave-ok')

    for leave in (lambda: page.get_by_role('button', name='Executions').click(), page.go_back):
        leave()
        expect(question).to_be_visible()
        page.get_by_role('button', name='Stay').click()
        expect(question).to_be_hidden()
        expect(page).to_have_url(re.compile(f'/workflows/{WORKFLOW_ID}/edit$'))
        expect(source).to_contain_text('Renamed, not saved')

    page.get_by_role('button', name='Executions').click()
    question.click()
    page.wait_for_url('**/executions')
    expect(page.get_by_role('button', name='Save view')).to_be_visible()  # the execution list's
    expect(source).to_be_hidden()


def test_type_validate_preview_diff_and_save(page: Page, server: Any, call_api: Api, shots: Path) -> None:
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)
    sign_in(page, server, f'/workflows/{WORKFLOW_ID}')
    page.get_by_test_id('edit-workflow').click()
    page.wait_for_url(f'**/workflows/{WORKFLOW_ID}/edit')
    status = page.get_by_test_id('editor-status')
    expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')

    unknown_type = {**STORED, 'nodes': [{'id': 'start', 'type': 'teleport'}]}
    _replace_text(page, json.dumps(unknown_type, indent=2))
    expected = call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', unknown_type).json()['detail']
    expect(status).to_have_text(expected)  # exactly what PUT /api/workflows/{id} says
    expect(page.get_by_test_id('editor-save')).to_be_disabled()

    edited = {
        **STORED,
        'name': HOSTILE,
        'nodes': [*STORED['nodes'], {'id': 'tell', 'type': 'log', 'config': {'message': 'done'}}],
        'edges': [{'source': 'start', 'target': 'tell'}],
    }
    _replace_text(page, json.dumps(edited, indent=2))
    expect(status).to_have_text(f'Valid: {WORKFLOW_ID}, 2 nodes, 1 edge')
    preview = page.get_by_test_id('editor-preview')
    expect(preview.get_by_test_id('dag-canvas')).to_be_visible()
    expect(preview.locator('svg path').first).to_be_attached()  # the edge of the new definition is drawn
    page.screenshot(path=str(shots / 'workflow-editor.png'), full_page=True)

    page.get_by_test_id('editor-save').click()
    diff = page.get_by_test_id('text-diff')
    expect(diff.locator('[data-kind=removed]', has_text='"name"')).to_have_text('-   "name": "Editor in the browser",')
    added = diff.locator('[data-kind=added]', has_text='"name"')
    expect(added).to_have_text(f'+   "name": {json.dumps(HOSTILE)},')  # shown as text, never as markup
    page.screenshot(path=str(shots / 'workflow-editor-diff.png'))
    page.get_by_test_id('editor-confirm-save').click()
    page.wait_for_url(f'**/workflows/{WORKFLOW_ID}')
    expect(page.get_by_text(f'Workflow “{WORKFLOW_ID}” saved.')).to_be_visible()

    stored = call_api('GET', f'/api/workflows/{WORKFLOW_ID}').json()
    assert stored['name'] == HOSTILE and [n['id'] for n in stored['nodes']] == ['start', 'tell']
    assert page.evaluate('window.__pwned') is None
    assert page.locator('img[src=x]').count() == 0


# One edit of about 1.2 MB in a page's code editor, as a paste makes it: more than the page's connection carries at
# once (NiceGUI's client drops it and says "Message too long")
PASTE_TOO_LARGE = """([testId, chars]) => {
  const element = document.querySelector(`[data-testid="${testId}"]`);
  const editor = getElement(element).editor;
  editor.dispatch({changes: {from: 0, to: editor.state.doc.length, insert: `{"x": "${'a'.repeat(chars)}"}`}});
}"""


def test_an_input_too_large_for_the_page_starts_nothing_and_says_why(
    page: Page, server: Any, call_api: Api, shots: Path
) -> None:
    """A paste larger than the page can send never reaches the server, which had the editor's text before it: Run
    must not start a run with that older text (it did: an empty input), and says what to do instead. Closing the
    dialog starts over."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)

    def runs() -> int:
        return int(call_api('GET', f'/api/executions?workflow_id={WORKFLOW_ID}&limit=1').json()['total'])

    before = runs()
    sign_in(page, server, f'/workflows/{WORKFLOW_ID}')
    page.get_by_test_id('run-with-input').click()
    run = page.get_by_test_id('input-run')
    expect(run).to_be_enabled()
    page.evaluate(PASTE_TOO_LARGE, ['input-json', 1_200_000])
    run.click()
    problem = page.get_by_test_id('input-error')
    expect(problem).to_contain_text('This input did not reach flowmon')
    expect(run).to_be_disabled()
    page.screenshot(path=str(shots / 'input-too-large.png'))
    assert runs() == before

    page.keyboard.press('Escape')
    expect(run).to_be_hidden()
    page.get_by_test_id('run-with-input').click()
    expect(problem).to_be_hidden()
    expect(run).to_be_enabled()
    run.click()  # the editor holds what the server has again: an empty input, run as {}
    expect(page).to_have_url(re.compile(r'/executions/[0-9a-f]+$'))
    assert runs() == before + 1


# The relative luminance (0 black .. 1 white) of the code editor's background.
EDITOR_LUMINANCE = """() => {
    const editor = document.querySelector('[data-testid=workflow-source] .cm-editor');
    if (!editor) return null;
    const [r, g, b] = getComputedStyle(editor).backgroundColor.match(/\\d+(\\.\\d+)?/g).map(Number).slice(0, 3)
        .map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""
# From the page's first script on: the editor's luminance at every change of the page (window.__editorShades, each
# value once in a row), the first one as CodeMirror draws it
EDITOR_SHADES = f"""(() => {{
    window.__editorShades = [];
    new MutationObserver(() => {{
        const shade = ({EDITOR_LUMINANCE})();
        if (shade !== null && shade !== window.__editorShades.at(-1)) window.__editorShades.push(shade);
    }}).observe(document, {{ subtree: true, childList: true, attributes: true }});
}})()"""
# Counts the system's switches as the page's own listeners hear them (window.__switches)
COUNT_SWITCHES = """() => {
    window.__switches = 0;
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => window.__switches++);
}"""
DARK_PAGE = "() => document.body.classList.contains('body--dark')"
LIGHT_PAGE = "() => !document.body.classList.contains('body--dark')"


def test_a_browser_in_dark_mode_gets_dark_pages_until_the_toggle_says_otherwise(
    browser: Browser, server: Any, shots: Path
) -> None:
    """With no choice made, the page takes the system's mode (prefers-color-scheme), its code editor too (a theme
    the server picks); the toggle's choice is kept and wins over the system's from then on."""
    wait_loaded(server)
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme='dark')
    try:
        page = context.new_page()
        sign_in(page, server, '/workflows/new')
        expect(page.get_by_test_id('workflow-source')).to_be_visible()
        assert page.evaluate("() => document.body.classList.contains('body--dark')")
        page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() < 0.1')  # the editor's dark theme
        expect(page.get_by_test_id('theme-toggle')).to_contain_text('light_mode')  # it offers light
        page.screenshot(path=str(shots / 'editor-system-dark.png'))

        page.get_by_test_id('theme-toggle').click()
        page.wait_for_function("() => !document.body.classList.contains('body--dark')")
        page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() > 0.8')
        page.reload()
        wait_connected(page)
        expect(page.get_by_test_id('workflow-source')).to_be_visible()
        assert not page.evaluate("() => document.body.classList.contains('body--dark')")
        assert page.evaluate(EDITOR_LUMINANCE) > 0.8
        expect(page.get_by_test_id('theme-toggle')).to_contain_text('dark_mode')
    finally:
        context.close()


def test_an_editor_opened_in_a_dark_system_is_dark_from_its_first_frame(
    browser: Browser, server: Any, call_api: Api
) -> None:
    """A page loaded straight onto the editor: the page is in the system's mode at once, and so is the editor, whose
    theme the browser picks until the server knows the page's mode (it was light until then, for a moment)."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme='dark')
    context.add_init_script(script=EDITOR_SHADES)
    try:
        page = context.new_page()
        for path in ('/workflows/new', f'/workflows/{WORKFLOW_ID}/edit'):  # built at once, and after a database read
            sign_in(page, server, path)
            expect(page.get_by_test_id('editor-status')).to_contain_text('Valid: ')
            expect(page.get_by_test_id('theme-toggle')).to_contain_text('light_mode')  # the server knows: dark
            shades = page.evaluate('window.__editorShades')
            assert shades and all(shade < 0.1 for shade in shades), (path, shades)
    finally:
        context.close()


def test_an_open_page_follows_the_system_until_the_toggle_is_used(
    browser: Browser, server: Any, call_api: Api, shots: Path
) -> None:
    """The system switches between light and dark while the page is open (an automatic dark mode at sunset): the page
    and its code editor follow, each time, until the toggle is used; the choice then stays whatever the system does."""
    wait_loaded(server)
    assert call_api('PUT', f'/api/workflows/{WORKFLOW_ID}', STORED).status_code in (200, 201)
    context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme='light')
    try:
        page = context.new_page()
        sign_in(page, server, f'/workflows/{WORKFLOW_ID}/edit')
        status, toggle = page.get_by_test_id('editor-status'), page.get_by_test_id('theme-toggle')
        expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 1 node, 0 edges')
        expect(toggle).to_contain_text('dark_mode')  # the server knows: light
        assert page.evaluate(LIGHT_PAGE) and page.evaluate(EDITOR_LUMINANCE) > 0.8

        page.emulate_media(color_scheme='dark')  # sunset
        page.wait_for_function(DARK_PAGE)
        page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() < 0.1')
        expect(toggle).to_contain_text('light_mode')
        page.screenshot(path=str(shots / 'editor-system-switched-dark.png'))
        page.emulate_media(color_scheme='light')
        page.wait_for_function(LIGHT_PAGE)
        page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() > 0.8')
        expect(toggle).to_contain_text('dark_mode')
        page.screenshot(path=str(shots / 'editor-system-switched-light.png'))

        toggle.click()  # dark, chosen
        page.wait_for_function(DARK_PAGE)
        page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() < 0.1')
        page.evaluate(COUNT_SWITCHES)
        page.emulate_media(color_scheme='dark')  # the system switches twice (the browser tells each one apart)
        page.wait_for_function('() => window.__switches === 1')
        page.emulate_media(color_scheme='light')
        page.wait_for_function('() => window.__switches === 2')
        # an edit goes to the server after whatever the page said before it, and its answer comes back after
        second = {'id': 'tell', 'type': 'log', 'config': {'message': 'done'}}
        edges = [{'source': 'start', 'target': 'tell'}]
        _replace_text(page, json.dumps({**STORED, 'nodes': [*STORED['nodes'], second], 'edges': edges}, indent=2))
        expect(status).to_contain_text(f'Valid: {WORKFLOW_ID}, 2 nodes, 1 edge')
        assert page.evaluate(DARK_PAGE) and page.evaluate(EDITOR_LUMINANCE) < 0.1
        expect(toggle).to_contain_text('light_mode')
    finally:
        context.close()


# From the page's first script on: what the page's system_mode listener says (an event that says a mode, from another
# element than the light/dark toggle) never reaches the server (window.__held counts them), as in a page whose browser
# has not said the system's mode yet
HOLD_SYSTEM_MODE = """(() => {
    window.__held = 0;
    let socket;
    Object.defineProperty(window, 'socket', { configurable: true, get: () => socket, set: (value) => {
        socket = value;
        const emit = value.emit.bind(value);
        value.emit = (name, message, ...rest) => {
            const toggle = document.querySelector('[data-testid=theme-toggle]');
            const says = name === 'event' && (message.args || []).some((arg) => String(arg).includes('"dark"'));
            if (says && toggle?.id !== `c${message.id}`) { window.__held++; return value; }
            return emit(name, message, ...rest);
        };
    } });
})()"""


def test_a_click_on_the_toggle_before_the_system_mode_is_said_switches_from_what_the_page_shows(
    browser: Browser, server: Any, shots: Path
) -> None:
    """A page shows the system's mode from its first frame, but the server learns which only when the browser says
    it: a click on the toggle before then switched to dark, so a page dark by the system's stayed dark. The click
    switches to the other mode than the page shows, the code editor with it."""
    wait_loaded(server)
    for scheme in ('dark',):  # (a light system's first click gave dark before the fix too: that case says nothing)
        context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme=scheme)
        context.add_init_script(script=HOLD_SYSTEM_MODE)
        try:
            page = context.new_page()
            sign_in(page, server, '/workflows/new')
            expect(page.get_by_test_id('editor-status')).to_contain_text('Valid: ')
            page.wait_for_function('() => window.__held > 0')  # the system's mode was not said
            assert page.evaluate(DARK_PAGE if scheme == 'dark' else LIGHT_PAGE)
            # the toggle offers the other mode than the page shows all the same (it offered dark, the moon)
            expect(page.get_by_test_id('theme-toggle')).to_contain_text(
                'light_mode' if scheme == 'dark' else 'dark_mode'
            )
            page.screenshot(path=str(shots / f'toggle-before-system-mode-{scheme}.png'))

            page.get_by_test_id('theme-toggle').click()
            page.wait_for_function(LIGHT_PAGE if scheme == 'dark' else DARK_PAGE)
            shade = '> 0.8' if scheme == 'dark' else '< 0.1'  # the code editor's light theme, or its dark one
            page.wait_for_function(f'() => ({EDITOR_LUMINANCE})() {shade}')
            page.screenshot(path=str(shots / f'toggle-before-system-mode-{scheme}-switched.png'))
        finally:
            context.close()


# A chain of nine named steps: wider than the preview, which starts it at 70% at its left end
WIDE_ID = 'e2e-editor-wide'
STEPS = [
    'Fetch orders',
    'Validate lines',
    'Enrich customer',
    'Price',
    'Reserve stock',
    'Charge card',
    'Write warehouse',
]
STEPS += ['Email receipt', 'Record sale']


def _chain(ids: list[str], names: list[str] | None = None) -> dict[str, Any]:
    """The wide workflow as a chain of nodes ``ids`` (named ``names``)."""
    nodes = [
        {'id': node_id, 'type': 'log', 'name': name, 'config': {'message': 'x'}}
        for node_id, name in zip(ids, names or ids, strict=True)
    ]
    edges = [{'source': a, 'target': b} for a, b in pairwise(ids)]
    return {'id': WIDE_ID, 'name': 'Wide', 'nodes': nodes, 'edges': edges}


PREVIEW = '[data-testid=editor-preview]'


def test_the_preview_keeps_the_view_the_visitor_moved_to_across_edits(
    browser: Browser, server: Any, call_api: Api, shots: Path
) -> None:
    """Zoomed and panned to the middle of a wide workflow, an edit that adds a step at its start (every step moves a
    column right) redraws the preview at the same zoom, the step that was in the middle of the view where it was; a
    graph of none of those steps starts anew, and after a Fit each edit shows the whole graph again (in light mode:
    the view is the same in both, and the suite's time is short)."""
    wait_loaded(server)
    ids = [f's{i}' for i in range(len(STEPS))]
    assert call_api('PUT', f'/api/workflows/{WIDE_ID}', _chain(ids, STEPS)).status_code in (200, 201)
    for scheme in ('light',):
        context = browser.new_context(base_url=server.url, viewport={'width': 1400, 'height': 900}, color_scheme=scheme)
        try:
            _keeps_the_view(context.new_page(), server, scheme, ids, shots)
        finally:
            context.close()


def _keeps_the_view(page: Page, server: Any, scheme: str, ids: list[str], shots: Path) -> None:
    sign_in(page, server, f'/workflows/{WIDE_ID}/edit')
    status = page.get_by_test_id('editor-status')
    start = node_pixel(page, 's0')  # (drawn)
    wait_for(lambda: canvas_zoom(page, PREVIEW) == 0.7, 'the preview to start at 70%')
    page.locator(f'{PREVIEW} [data-testid=dag-zoom-in]').click()
    box = page.locator(f'{PREVIEW} [data-testid=dag-viewport]').bounding_box()
    assert box is not None
    middle = (box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.move(box['x'] + box['width'] * 0.8, middle[1])  # dragged 60% of the view's width to the left
    page.mouse.down()
    page.mouse.move(box['x'] + box['width'] * 0.2, middle[1], steps=8)
    page.mouse.up()
    zoom = canvas_zoom(page, PREVIEW)
    assert zoom == 0.875
    places = {node_id: node_pixel(page, node_id) for node_id in ids}
    nearest = min(ids, key=lambda node_id: _distance(places[node_id], middle))
    assert nearest not in ('s0', ids[-1])  # the view is in the graph's middle

    # a step added before the first: every step moves one column right, the one in the middle stays on screen
    _replace_text(page, json.dumps(_chain(['intake', *ids], ['Intake', *STEPS]), indent=2))
    expect(status).to_contain_text(f'Valid: {WIDE_ID}, {len(ids) + 1} nodes')
    _drawn(page, 'intake')  # (the new graph is drawn)
    assert canvas_zoom(page, PREVIEW) == zoom
    assert _distance(_drawn(page, nearest), places[nearest]) < 1.5, (nearest, places[nearest])
    page.locator(PREVIEW).screenshot(path=str(shots / f'editor-preview-kept-view-{scheme}.png'))

    # a graph with none of those steps starts at its own start, 70% at its left end
    others = [f'o{i}' for i in range(len(ids))]
    _replace_text(page, json.dumps(_chain(others), indent=2))
    expect(status).to_contain_text(f'Valid: {WIDE_ID}, {len(ids)} nodes')
    assert _distance(_drawn(page, 'o0'), start) < 1.5
    assert canvas_zoom(page, PREVIEW) == 0.7
    # Fit shows the whole graph, and so does the preview after each edit from then on
    page.locator(f'{PREVIEW} [data-testid=dag-fit]').click()
    wait_for(lambda: canvas_zoom(page, PREVIEW) < 0.5, 'Fit to show the whole graph')
    _replace_text(page, json.dumps(_chain([*others, 'last']), indent=2))
    expect(status).to_contain_text(f'Valid: {WIDE_ID}, {len(ids) + 1} nodes')
    for node_id in (others[0], 'last'):
        x, y = _drawn(page, node_id)
        assert box['x'] <= x <= box['x'] + box['width'] and box['y'] <= y <= box['y'] + box['height'], node_id
    assert canvas_zoom(page, PREVIEW) < 0.5
    page.locator(PREVIEW).screenshot(path=str(shots / f'editor-preview-kept-fit-{scheme}.png'))
    # after a Fit too, a graph with none of those steps starts at its own start
    _replace_text(page, json.dumps(_chain(ids), indent=2))
    expect(status).to_contain_text(f'Valid: {WIDE_ID}, {len(ids)} nodes')
    assert _distance(_drawn(page, 's0'), start) < 1.5
    assert canvas_zoom(page, PREVIEW) == 0.7


def _drawn(page: Page, node_id: str) -> tuple[float, float]:
    """node_pixel of a preview drawn anew after an edit: the canvas it finds may be the one being replaced."""

    def where() -> tuple[float, float] | None:
        try:
            return node_pixel(page, node_id)
        except PlaywrightError as exc:
            if 'not attached' in str(exc):
                return None
            raise

    return wait_for(where, f'{node_id} drawn in the new preview')


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)
