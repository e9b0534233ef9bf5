"""The search box and the bulk actions of the execution lists (``/executions`` and a workflow's history)."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User
from uisim import api, click_when_shown, current_path, handled, sign_in, start, text_of, wait_for_path, wait_until_ended

from flowmon.web.pages import executions as executions_page
from flowmon.web.widgets.shortcuts import EDITOR_TAB, SHORTCUTS, Shortcuts


async def run_to_end(user: User, workflow_id: str, data: dict[str, object] | None = None) -> str:
    execution_id = await start(user, workflow_id, {'input': data or {}})
    await wait_until_ended(user, execution_id)
    return execution_id


async def two_orders(user: User) -> tuple[str, str]:
    """Two ended runs of 'quick', for the orders A-1001 and B-2002 (in that order)."""
    return await run_to_end(user, 'quick', {'order': 'A-1001'}), await run_to_end(user, 'quick', {'order': 'B-2002'})


async def test_the_search_box_searches_and_lives_in_the_url(user: User) -> None:
    first, second = await two_orders(user)
    await sign_in(user, '/executions?q=A-1001')
    await user.should_see(marker=f'execution-row-{first}')
    await user.should_not_see(marker=f'execution-row-{second}')
    assert 'containing \N{LEFT DOUBLE QUOTATION MARK}A-1001' in text_of(user, 'executions-total')

    user.find(marker='filter-search').clear().type('b-2002').trigger('keydown.enter')
    await wait_for_path(user, r'/executions\?q=b-2002')
    await user.should_see(marker=f'execution-row-{second}')
    await user.should_not_see(marker=f'execution-row-{first}')


@pytest.mark.parametrize(
    ('typed', 'said'),
    [
        ('ab', 'Search needs at least 3 characters'),
        ('abc\ud800d', 'Search cannot hold a lone surrogate (half of a pair that makes one character)'),
    ],
)
async def test_a_search_that_cannot_be_made_says_why_and_stays(user: User, typed: str, said: str) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='filter-search')
    user.find(marker='filter-search').type(typed).trigger('keydown.enter')
    await user.should_see(f'{said}; the list is not searched')
    await user.should_not_see('q must')  # the API's parameter name is not the page's word
    assert current_path(user) == '/executions'
    assert search_box(user).value == ''  # the box shows what the list shows

    await sign_in(user, '/executions?q=x')
    await user.should_see('Filter: search needs at least 3 characters; the list is not searched')


async def test_a_search_too_short_for_a_searched_list_keeps_the_previous_search_and_says_so(user: User) -> None:
    first, second = await two_orders(user)
    await sign_in(user, '/executions?q=A-1001')
    await user.should_see(marker=f'execution-row-{first}')
    user.find(marker='filter-search').clear().type('ab').trigger('keydown.enter')
    await user.should_see(
        'Search needs at least 3 characters; still showing \N{LEFT DOUBLE QUOTATION MARK}A-1001'
        '\N{RIGHT DOUBLE QUOTATION MARK}'
    )
    assert search_box(user).value == 'A-1001'  # not "ab" over the results of A-1001
    assert current_path(user) == '/executions?q=A-1001'
    await user.should_see(marker=f'execution-row-{first}')
    await user.should_not_see(marker=f'execution-row-{second}')


def search_box(user: User) -> Any:
    (box,) = user.find(marker='filter-search').elements
    return box


async def test_a_workflows_history_has_the_search_box(user: User) -> None:
    first, second = await two_orders(user)
    await sign_in(user, f'/workflows/quick?q={"A-1001"}')
    await user.should_see(marker=f'execution-row-{first}')
    await user.should_not_see(marker=f'execution-row-{second}')
    user.find(marker='filter-search').clear().type('B-2002').trigger('keydown.enter')
    await wait_for_path(user, r'/workflows/quick\?q=B-2002')
    await user.should_see(marker=f'execution-row-{second}')


async def test_selected_rows_rerun_after_a_confirmation_that_says_how_many(user: User) -> None:
    ids = [await run_to_end(user, 'quick') for _ in range(3)]
    await sign_in(user, '/executions')
    await user.should_see(marker=f'select-{ids[0]}')
    await user.should_not_see(marker='bulk-bar')
    user.find(marker=f'select-{ids[0]}').click()
    user.find(marker=f'select-{ids[2]}').click()
    await user.should_see(marker='bulk-bar')
    assert text_of(user, 'bulk-selected') == '2 selected'
    await user.should_not_see(marker='select-all-matching')  # not the whole page

    user.find(marker='bulk-rerun').click()
    await user.should_see('Rerun 2 executions?')
    user.find(marker='confirm-bulk-cancel').click()
    await user.should_not_see('Rerun 2 executions?')
    assert len((await api(user, 'GET', '/api/executions')).json()['items']) == 3  # nothing happened

    user.find(marker='bulk-rerun').click()
    await user.should_see('Rerun 2 executions?')
    user.find(marker='confirm-bulk-ok').click()
    await user.should_see('Rerun: 2 done, 0 skipped, 0 failed')
    listed = (await api(user, 'GET', '/api/executions?trigger=rerun')).json()
    assert listed['total'] == 2
    await user.should_not_see(marker='bulk-bar')  # the selection is over


async def test_select_all_matching_deletes_every_execution_the_filter_matches(user: User) -> None:
    ids = [await run_to_end(user, 'quick') for _ in range(21)]  # the workflow page shows 20 a page
    running = await start(user, 'slow')
    kept = await run_to_end(user, 'broken')
    await sign_in(user, '/workflows/quick')
    await user.should_see(marker=f'execution-row-{ids[-1]}')
    assert text_of(user, 'pager-range') == '1\N{EN DASH}20 of 21'
    user.find(marker='select-page').click()
    assert text_of(user, 'bulk-selected') == '20 selected'
    user.find(marker='select-all-matching').click()
    assert text_of(user, 'bulk-selected') == 'All 21 executions matching are selected'

    user.find(marker='bulk-delete').click()
    await user.should_see('Delete 21 executions?')
    user.find(marker='confirm-bulk-ok').click()
    await user.should_see('Delete: 21 done, 0 skipped, 0 failed', retries=150)
    await user.should_see('Not run yet')
    await user.should_not_see(marker='pager')  # read again with the rows
    remaining = {item['id'] for item in (await api(user, 'GET', '/api/executions')).json()['items']}
    assert remaining == {running, kept}
    await api(user, 'POST', f'/api/executions/{running}/cancel')


async def test_a_bulk_cancel_reports_the_skipped_ones(user: User) -> None:
    done = await run_to_end(user, 'quick')
    running = await start(user, 'slow')
    await sign_in(user, '/executions')
    await user.should_see(marker=f'execution-row-{running}')
    user.find(marker='select-page').click()
    user.find(marker='bulk-cancel').click()
    await user.should_see('Cancel 2 executions?')
    with user.scope(marker='confirm-bulk'):  # one button cancels them, the other does not say "Cancel"
        assert {button.text for button in user.find(ui.button).elements} == {'Keep running', 'Cancel 2 executions'}
    user.find(marker='confirm-bulk-ok').click()
    await user.should_see('Cancel: 1 done, 1 skipped, 0 failed: 1 skipped (is already succeeded)')
    assert (await wait_until_ended(user, running))['status'] == 'cancelled'
    assert (await api(user, 'GET', f'/api/executions/{done}')).json()['status'] == 'succeeded'


async def import_of(user: User, execution_id: str) -> str:
    """The id of a new import of ``execution_id``'s export."""
    document = (await api(user, 'GET', f'/api/executions/{execution_id}/export')).json()
    response = await api(user, 'POST', '/api/executions/import', document)
    assert response.status_code == 201, response.text
    return str(response.json()['id'])


async def test_imported_executions_are_marked_filterable_and_a_bulk_rerun_says_it_skipped_them(user: User) -> None:
    failed = await run_to_end(user, 'broken')
    imported = [await import_of(user, failed) for _ in range(2)]
    await sign_in(user, '/executions?status=failed')
    await user.should_see(marker=f'execution-row-{imported[0]}')
    with user.scope(marker=f'execution-row-{imported[0]}'):
        await user.should_see('Imported')
    with user.scope(marker=f'execution-row-{failed}'):
        await user.should_not_see('Imported')

    user.find(marker='filter-origin').elements.pop().set_value('local')
    await wait_for_path(user, r'/executions\?status=failed&origin=local')
    await user.should_see(marker=f'execution-row-{failed}')
    await user.should_not_see(marker=f'execution-row-{imported[0]}')
    assert text_of(user, 'executions-total').startswith('1 execution · failed · run here')

    await sign_in(user, '/executions?status=failed')
    await user.should_see(marker=f'execution-row-{imported[1]}')
    user.find(marker='select-page').click()
    user.find(marker='bulk-rerun').click()
    await user.should_see('Rerun 3 executions?')
    await user.should_see('2 of them were imported (read-only): skipped.')  # said before, not only after
    user.find(marker='confirm-bulk-ok').click()
    await user.should_see(
        'Rerun: 1 done, 2 skipped, 0 failed: 2 skipped (was imported: imported executions are read-only)'
    )
    await sign_in(user, '/executions?origin=imported')
    await user.should_see(marker=f'execution-row-{imported[1]}')
    await user.should_not_see(marker=f'execution-row-{failed}')


async def test_a_bulk_cancel_of_all_matching_says_how_many_imported_ones_it_will_skip(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executions_page, 'PAGE_SIZE', 2)
    failed = await run_to_end(user, 'broken')
    for _ in range(2):
        await import_of(user, failed)
    await sign_in(user, '/executions?status=failed')
    await user.should_see(marker='select-page')
    user.find(marker='select-page').click()
    user.find(marker='select-all-matching').click()
    assert text_of(user, 'bulk-selected') == 'All 3 executions matching are selected'
    user.find(marker='bulk-cancel').click()
    await user.should_see('Cancel 3 executions?')
    await user.should_see('2 of them were imported (read-only): skipped.')
    user.find(marker='confirm-bulk-cancel').click()
    await user.should_not_see('Cancel 3 executions?')


# --- saved views --------------------------------------------------------------------------------------------------


async def test_a_saved_view_is_listed_in_the_drawer_opens_the_list_and_can_be_deleted(user: User) -> None:
    failed = await run_to_end(user, 'broken', {'order': 'A-1001'})
    other = await run_to_end(user, 'quick', {'order': 'A-1001'})
    await sign_in(user, '/executions?status=failed&q=A-1001')
    await user.should_see(marker=f'execution-row-{failed}')
    user.find(marker='views-toggle').click()
    await user.should_see(marker='views-empty')

    user.find(marker='save-view').click()
    await user.should_see('Filter: status=failed, q=A-1001')
    user.find(marker='save-view-name').type('<b>Failed</b> A-1001')
    user.find(marker='save-view-ok').click()
    await user.should_see('Saved view “<b>Failed</b> A-1001”')
    views = (await api(user, 'GET', '/api/views')).json()
    assert [(view['name'], view['filter']) for view in views] == [
        ('<b>Failed</b> A-1001', {'status': 'failed', 'q': 'A-1001'})
    ]
    await user.should_see(marker='saved-view', retries=30)  # the drawer re-reads the list

    await sign_in(user, '/')  # every page has the drawer
    await click_when_shown(user, 'saved-view')
    await wait_for_path(user, r'/executions\?status=failed&q=A-1001')
    await user.should_see(marker=f'execution-row-{failed}')
    await user.should_not_see(marker=f'execution-row-{other}')

    user.find(marker='delete-view').click()
    await user.should_see('Delete this saved view?')
    user.find(marker='confirm-delete-view-ok').click()
    await user.should_see(marker='views-empty', retries=30)
    assert (await api(user, 'GET', '/api/views')).json() == []


@pytest.mark.parametrize(
    ('name', 'refusal'),
    [
        ('   ', 'name must not be empty'),
        ('Failed \ud800 runs', 'name must not contain a lone surrogate'),  # no database stores one (it was a 500)
    ],
)
async def test_a_view_name_that_cannot_be_saved_is_named(user: User, name: str, refusal: str) -> None:
    await sign_in(user, '/executions')
    await click_when_shown(user, 'save-view')
    user.find(marker='save-view-name').type(name)
    user.find(marker='save-view-ok').click()
    await user.should_see(f'Could not save the view: {refusal}')
    assert (await api(user, 'GET', '/api/views')).json() == []


# --- keyboard shortcuts (the server's half: the keys themselves are in tests/js and tests/e2e) ----------------------


async def test_the_shortcuts_help_lists_every_shortcut_and_navigation_goes_only_to_their_pages(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='filter-search')
    shortcuts = user.find(kind=Shortcuts)
    shortcuts.trigger('help')
    await user.should_see('Keyboard shortcuts')
    for keys, meaning in SHORTCUTS:
        await user.should_see(keys)
        await user.should_see(meaning)
    await user.should_see(EDITOR_TAB)  # the editors' own use of Tab, and the way out
    user.find(marker='shortcuts-close').click()

    shortcuts.trigger('navigate', '/webhooks')
    await wait_for_path(user, '/webhooks')
    for refused in ('https://example.org/', '/secrets/../login', '//example.org', '/login', None, ['/']):
        await handled(lambda target=refused: shortcuts.trigger('navigate', target))
        assert current_path(user) == '/webhooks', refused
    shortcuts.trigger('navigate', '/')
    await wait_for_path(user, '/')
