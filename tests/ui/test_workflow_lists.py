"""Where workflows are listed to pick one (the dashboard, ``/workflows``, the header's menus): in natural order of
their names, under a filter box."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing.user import User
from sample_workflows import transform, workflow
from uisim import AUTH, api, current_path, sign_in, wait_for_path

from flowmon.application.workflows import name_order


def test_names_sort_naturally_ignoring_case_then_exactly_then_by_id() -> None:
    names = ['wf 10', 'B', 'wf 2', 'a', 'wf 1', 'A', 'wf 02', 'x9', 'x10a', 'x10']
    assert sorted(names, key=name_order) == ['A', 'a', 'B', 'wf 1', 'wf 02', 'wf 2', 'wf 10', 'x9', 'x10', 'x10a']
    assert name_order('wf 2') < name_order('wf 10')
    assert name_order('a') < name_order('B') and name_order('A') < name_order('b')
    assert name_order('same', 'id-1') < name_order('same', 'id-2')  # one name twice: by id
    assert name_order('n' + '9' * 5000) < name_order('n1' + '0' * 5000)  # numbers past int()'s digit limit


async def _add(user: User, *names: str) -> None:
    for number, name in enumerate(names):
        definition = workflow(f'extra-{number}', name, transform('t', '{ok: `true`}', 'T'))
        assert (await api(user, 'PUT', f'/api/workflows/extra-{number}', definition)).status_code in (200, 201)


def _listed(user: User) -> list[str]:
    """The ids of the rows of the workflow list, in the order shown."""
    listing = next(iter(user.find(marker='workflow-list').elements))
    markers = [marker for row in listing for marker in row._markers if marker.startswith('workflow-')]
    return [marker.removeprefix('workflow-') for marker in markers if not marker.startswith('workflow-filter')]


async def test_lists_and_the_api_show_names_in_natural_order(user: User) -> None:
    await _add(user, 'wf 10', 'wf 2', 'always late')  # the fixture's: Always broken, Quick check, Slow wait
    order = ['broken', 'extra-2', 'quick', 'slow', 'extra-1', 'extra-0']
    for path in ('/', '/workflows'):
        await sign_in(user, path)
        await user.should_see(marker='workflow-extra-0')
        assert _listed(user) == order, path
    response = await user.http_client.get('/api/workflows', headers=AUTH)
    assert [listed['id'] for listed in response.json()] == order  # the API says no order but by name: the same one
    user.find(marker='workflows-menu').trigger('beforeShow')
    await user.should_see(marker='menu-extra-0')
    menu = next(iter(user.find(marker='workflows-menu').elements))
    shown = [m.removeprefix('menu-') for e in menu.descendants() for m in e._markers if m.startswith('menu-')]
    assert shown == ['filter', 'filter-none', *order]


async def test_the_dashboard_list_filters_by_name_ignoring_case(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='workflow-quick')
    user.find(marker='workflow-filter').type('  ')  # nothing but spaces: no name holds them
    await user.should_see('No workflow matches')
    user.find(marker='workflow-filter').clear().type('SLOW')
    await user.should_see(marker='workflow-slow')
    await user.should_not_see(marker='workflow-quick')
    await user.should_not_see(marker='workflow-broken')
    await user.should_not_see('No workflow matches')
    user.find(marker='workflow-filter').clear().type('no such workflow')
    await user.should_see('No workflow matches')
    await user.should_not_see(marker='workflow-slow')
    user.find(marker='workflow-filter').clear()  # the box's clear button
    for workflow_id in ('quick', 'slow', 'broken'):
        await user.should_see(marker=f'workflow-{workflow_id}')
    await user.should_not_see('No workflow matches')


async def test_the_header_menu_filters_and_enter_opens_the_first_match(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='executions-page')
    user.find(marker='workflows-menu').trigger('beforeShow')
    await user.should_see(marker='menu-filter')
    user.find(marker='menu-filter').type('ck')  # Quick check (and no other)
    await user.should_see(marker='menu-quick')
    await user.should_not_see(marker='menu-slow')
    user.find(marker='menu-filter').clear().type('zz')
    await user.should_see(marker='menu-filter-none')
    await user.should_not_see(marker='menu-quick')
    # Enter sends what the box holds as it is pressed (the typed text may not have reached the server yet)
    user.find(marker='menu-filter').trigger('keydown.enter', 'always')
    await wait_for_path(user, '/workflows/broken')
    await user.should_see(marker='workflow-page')


async def test_the_compact_menu_filters_too(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='executions-page')
    user.find(marker='compact-menu').trigger('beforeShow')
    await user.should_see(marker='compact-filter')
    user.find(marker='compact-filter').type('wait')
    await user.should_see(marker='menu-slow')
    await user.should_not_see(marker='menu-quick')


async def test_workflows_is_a_page_of_the_list_behind_sign_in(user: User) -> None:
    response = await user.http_client.get('/workflows', follow_redirects=False)
    assert response.status_code == 303 and response.headers['location'].startswith('/login?redirect_to=')
    await user.open('/workflows')
    await user.should_see(marker='sign-in')
    await user.should_not_see(marker='workflows-page')
    await user.should_not_see('Quick check')

    await sign_in(user, '/workflows')
    await user.should_see(marker='workflows-page')
    await user.should_not_see(marker='not-found')
    await user.should_see('3 workflows')
    await user.should_see(marker='workflow-filter')
    for workflow_id in ('quick', 'slow', 'broken'):
        await user.should_see(marker=f'workflow-{workflow_id}')
    assert current_path(user) == '/workflows'
    assert 'fm-nav-active' in next(iter(user.find(marker='nav-workflows').elements)).classes
    user.find(kind=ui.link, content='Quick check').click()
    await wait_for_path(user, '/workflows/quick')


async def test_the_executions_workflow_choice_filters_as_typed_and_shows_names_as_text(user: User) -> None:
    """With 1,000 workflows a plain select is a list too long to scan: typing in it keeps the workflows whose name
    holds the text, ignoring case, as the other workflow lists' boxes do. Quasar filters them in the browser
    (``use-input``, NiceGUI's ``with_input``): the page asks for no event of the typing, so no key reaches the server.
    The names are the options' text: no ``options-html``, so markup in a name is shown as typed."""
    markup = '<b>bold</b><img src=x onerror=alert(1)>'
    await _add(user, 'wf 10', markup, 'wf 2')
    await sign_in(user, '/executions?workflow_id=extra-1')
    await user.should_see(marker='filter-workflow')
    (select,) = user.find(marker='filter-workflow').elements
    assert isinstance(select, ui.select)
    assert select.props.get('use-input') is True and select.props.get('input-debounce') == 0
    assert not {listener.type for listener in select._event_listeners.values()} & {'filter', 'input-value'}
    assert 'no-option' in select.slots  # "No workflow matches"
    assert not select.props.get('options-html')
    labels = [option['label'] for option in select.props['options']]
    assert labels == ['All workflows', markup, 'Always broken', 'Quick check', 'Slow wait', 'wf 2', 'wf 10']
    assert select.value == 'extra-1' and select.props['model-value']['label'] == markup
