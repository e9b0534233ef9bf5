"""The shell around every page: navigation, the workflows menu, light/dark that sticks, unknown paths."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from nicegui import Client, background_tasks, ui
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation
from postgres_support import DIALECTS, create_database, drop_database
from uisim import be_patient, sign_in, wait_for_path

from flowmon.engine.core.payload_values import bounded_text
from flowmon.web.routing import with_error_panel
from flowmon.web.shell import SYSTEM_ICON_JS, SYSTEM_ICON_PROP
from flowmon.web.widgets.code_editor import DARK_THEME, LIGHT_THEME, SYSTEM_THEME_JS, SYSTEM_THEME_PROP


async def test_navigation_moves_between_pages_and_marks_the_current_one(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='dashboard')
    assert 'fm-nav-active' in next(iter(user.find(marker='nav-dashboard').elements)).classes

    user.find(marker='nav-executions').click()
    await wait_for_path(user, '/executions')
    await user.should_see(marker='executions-page')
    assert 'fm-nav-active' in next(iter(user.find(marker='nav-executions').elements)).classes
    assert 'fm-nav-active' not in next(iter(user.find(marker='nav-dashboard').elements)).classes


async def test_workflows_menu_lists_the_workflows_and_opens_one(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='executions-page')
    user.find(marker='workflows-menu').trigger('beforeShow')  # Quasar's before-show, as NiceGUI names it
    with user.scope(marker='workflows-menu'):
        await user.should_see('Slow wait')
    user.find(marker='menu-slow').click()
    await wait_for_path(user, '/workflows/slow')
    await user.should_see(marker='workflow-page')


async def test_the_compact_menu_navigates_like_the_tabs(user: User) -> None:
    await sign_in(user, '/')
    await user.should_see(marker='nav-menu')  # shown instead of the tabs on a narrow screen (CSS)
    user.find(marker='menu-nav-/workflows/new').click()
    await wait_for_path(user, '/workflows/new')
    user.find(marker='menu-nav-/executions').click()
    await wait_for_path(user, '/executions')
    await user.should_see(marker='executions-page')


async def test_the_compact_menu_lists_the_workflows_too(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see(marker='executions-page')
    user.find(marker='compact-menu').trigger('beforeShow')  # a phone has no Workflows tab: its menu lists them
    with user.scope(marker='compact-workflows'):
        await user.should_see('Slow wait')
        await user.should_see('Quick check')
    user.find(marker='menu-slow').click()
    await wait_for_path(user, '/workflows/slow')
    await user.should_see(marker='workflow-page')


def _system_says(user: User, dark: bool) -> None:
    """The browser tells the page the system's mode, as system_mode.js does once the page is live and at each switch."""
    user.find(marker='system-mode').trigger('system_mode', {'dark': dark})


async def test_dark_mode_choice_sticks_across_page_loads(user: User) -> None:
    await sign_in(user)
    dark = next(iter(user.find(kind=ui.dark_mode).elements))
    _system_says(user, False)  # a system in light mode
    assert dark.value is False
    user.find(marker='theme-toggle').click()
    assert dark.value is True
    await user.open('/executions')
    assert next(iter(user.find(kind=ui.dark_mode).elements)).value is True


async def test_a_visitor_who_has_not_chosen_gets_the_systems_mode_until_the_toggle_says_otherwise(user: User) -> None:
    """No choice stored: the page follows the system's mode (Quasar's auto) and the browser says which it is
    (prefers-color-scheme), so that the code editors, whose theme is picked here, follow it too; until it has said,
    an editor's theme is picked in the browser. The toggle's choice is stored and wins from then on."""
    await sign_in(user, '/workflows/new')
    await user.should_see(marker='workflow-source')
    dark = next(iter(user.find(kind=ui.dark_mode).elements))
    (source,) = user.find(marker='workflow-source').elements
    assert dark.value is None and source.props[SYSTEM_THEME_PROP] == SYSTEM_THEME_JS  # not known yet: the browser's
    toggle = next(iter(user.find(marker='theme-toggle').elements))
    assert toggle.props[SYSTEM_ICON_PROP] == SYSTEM_ICON_JS  # its icon too, from the mode the page shows
    _system_says(user, True)  # a system in dark mode
    assert dark.value is True
    assert source.props['theme'] == DARK_THEME and SYSTEM_THEME_PROP not in source.props
    assert toggle.props['icon'] == 'light_mode' and SYSTEM_ICON_PROP not in toggle.props  # it offers light

    user.find(marker='theme-toggle').click()
    assert dark.value is False and source.props['theme'] == LIGHT_THEME
    await user.open('/workflows/new')
    await user.should_see(marker='workflow-source')
    assert next(iter(user.find(kind=ui.dark_mode).elements)).value is False  # the choice, not the system's mode
    (source,) = user.find(marker='workflow-source').elements
    assert source.props['theme'] == LIGHT_THEME and SYSTEM_THEME_PROP not in source.props
    await user.should_not_see(marker='system-mode')  # nothing listens to the system's mode any more


async def test_an_open_page_follows_the_system_until_the_toggle_is_used(user: User) -> None:
    """The system switches between light and dark while the page is open (an automatic dark mode at sunset): the
    page and its code editor follow, until the visitor chooses; what the browser says then changes nothing."""
    await sign_in(user, '/workflows/new')
    await user.should_see(marker='workflow-source')
    dark = next(iter(user.find(kind=ui.dark_mode).elements))
    (source,) = user.find(marker='workflow-source').elements
    toggle = next(iter(user.find(marker='theme-toggle').elements))
    _system_says(user, False)
    assert dark.value is False and source.props['theme'] == LIGHT_THEME
    _system_says(user, True)  # sunset
    assert dark.value is True and source.props['theme'] == DARK_THEME and toggle.props['icon'] == 'light_mode'
    _system_says(user, False)
    assert dark.value is False and source.props['theme'] == LIGHT_THEME and toggle.props['icon'] == 'dark_mode'
    system = user.find(marker='system-mode')
    (listener,) = system.elements

    user.find(marker='theme-toggle').click()  # dark, chosen
    assert dark.value is True and source.props['theme'] == DARK_THEME
    assert listener.is_deleted  # the browser's listener goes with it
    system.trigger('system_mode', {'dark': False})  # a switch said just before the click
    assert dark.value is True and source.props['theme'] == DARK_THEME and toggle.props['icon'] == 'light_mode'


@pytest.mark.parametrize('shown', ['dark', 'light'])
async def test_a_click_before_the_browser_has_said_the_systems_mode_switches_from_what_the_page_shows(
    user: User, shown: str
) -> None:
    """The page shows the system's mode from its first frame (Quasar's auto), but the browser says which that is only
    once the page is live: a click on the toggle before then always switched to dark, so a page dark by the system's
    mode stayed dark. The click says what the page shows (SHOWN_MODE_JS), and the toggle switches to the other."""
    await sign_in(user, '/workflows/new')
    await user.should_see(marker='workflow-source')
    dark = next(iter(user.find(kind=ui.dark_mode).elements))
    (source,) = user.find(marker='workflow-source').elements
    assert dark.value is None  # (the system's mode not said yet)

    user.find(marker='theme-toggle').trigger('click', {'dark': shown == 'dark'})  # as SHOWN_MODE_JS sends it
    switched = shown == 'light'
    assert dark.value is switched and source.props['theme'] == (DARK_THEME if switched else LIGHT_THEME)
    assert next(iter(user.find(marker='theme-toggle').elements)).props['icon'] == f'{shown}_mode'  # offers it back
    await user.should_not_see(marker='system-mode')  # chosen
    await user.open('/workflows/new')
    assert next(iter(user.find(kind=ui.dark_mode).elements)).value is switched  # and kept


async def test_unknown_path_shows_a_friendly_not_found(user: User) -> None:
    response = await user.http_client.get('/no/such/page')
    assert response.status_code == 303  # not signed in: even unknown paths go to the sign-in page
    await sign_in(user)
    user.navigate.to('/no/such/page')
    await user.should_see(marker='not-found')
    await user.should_see('Page not found')
    await user.should_not_see(marker='dashboard')


async def test_an_unknown_path_loaded_directly_keeps_the_header_navigation_and_offers_ways_on(user: User) -> None:
    await sign_in(user)
    user.client = await open_not_found(user, '/no/<b>such</b>/page')
    await user.should_see(marker='not-found')
    for tab in ('nav-dashboard', 'nav-executions', 'nav-workflows', 'sign-out'):
        await user.should_see(marker=tab)  # the same header as on every page, not a dead end
    path = next(iter(user.find(marker='not-found-path').elements))
    assert isinstance(path, ui.label) and path.text == 'Nothing lives at /no/<b>such</b>/page.'  # text, not markup
    links = {
        link.props['href']
        for marker in ('not-found-executions', 'not-found-workflows')
        for link in user.find(marker=marker).elements
    }
    assert links == {'/executions', '/'}
    user.find(marker='nav-executions').click()
    await wait_for_path(user, '/executions')
    await user.should_see(marker='executions-page')


@pytest.fixture(params=DIALECTS)
async def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The app's database: the test's SQLite file, or a fresh database on the throwaway PostgreSQL (request it before
    ``user``, which starts the app)."""
    if request.param == 'sqlite':
        yield request.param
        return
    url = await create_database(request.getfixturevalue('postgres_server'))
    monkeypatch.setenv('FLOWMON_DATABASE_URL', url)
    try:
        yield request.param
    finally:
        await drop_database(url)


async def test_an_id_no_stored_one_can_hold_reached_within_the_app_is_not_found(database: str, user: User) -> None:
    """The perimeter refuses a NUL in an address; in-app navigation carries one past it, and PostgreSQL (or, for a
    lone surrogate, either database) failed the page's read: "This page could not be loaded" and an error logged."""
    await sign_in(user)
    for path in (
        '/workflows/a\x00b',
        '/workflows/a\x00b/edit',
        '/executions/a\x00b',
        '/executions/a\x00b/replay',
        '/webhooks/deliveries/a\x00b',
        '/workflows/a\ud800b',
        '/executions/a\ud800b',
    ):
        user.navigate.to(path)
        await wait_for_path(user, re.escape(path))
        await user.should_see(marker='not-found')
        shown = next(iter(user.find(marker='not-found-path').elements))
        assert isinstance(shown, ui.label) and shown.text == f'Nothing lives at {bounded_text(path, 500)}.'
        await user.should_not_see(marker='page-error')
        user.navigate.to('/')
        await user.should_see(marker='dashboard')
    user.navigate.to('/compare?a=a\x00b&b=b\ud800c')  # ids in the query: the page names them
    await user.should_see("Execution A ('a\\x00b') not found.")
    await user.should_see("Execution B ('b\\ud800c') not found.")
    for endpoint, shown in (('a\x00b', "'a\\x00b'"), ('b\ud800c', "'b\\ud800c'")):
        user.navigate.to(f'/webhooks?endpoint={endpoint}')  # the page ignores it, saying so
        await user.should_see(f'unknown endpoint {shown} ignored')
        await user.should_see(marker='delivery-table')
        await user.should_not_see(marker='page-error')


async def open_not_found(user: User, path: str) -> Client:
    """Load ``path`` as a browser does (``User.open`` accepts 200 only); the page's client, once nothing is still
    being built on it."""
    response = await user.http_client.get(path)
    assert response.status_code == 404
    match = re.search(r"'client_id': '([0-9a-f-]+)'", response.text)
    assert match is not None
    builders = [task for task in background_tasks.running_tasks if task.get_name().startswith('building sub_page')]
    if builders:  # let any page builder that was started finish: what it draws is what the browser would show
        await asyncio.wait(builders, timeout=10)
    return Client.instances[match.group(1)]


async def test_an_unknown_path_loaded_directly_builds_no_page_under_its_not_found(user: User) -> None:
    """'/' matches the first segment of '/no/such/page': the dashboard must not be built under the not-found message."""
    await sign_in(user)
    client = await open_not_found(user, '/no/such/page')
    markers = {marker for element in client.elements.values() for marker in element._markers}
    assert 'not-found' in markers
    assert 'dashboard' not in markers


async def test_a_failing_page_shows_a_message_not_a_blank_frame() -> None:
    async def broken_page() -> None:
        ui.label('half built')
        raise RuntimeError('database unavailable')

    def root() -> None:
        ui.sub_pages({'/': with_error_panel(broken_page)})

    async with user_simulation(root) as simulated:
        be_patient(simulated)
        await simulated.open('/')
        await simulated.should_see(marker='page-error')
        await simulated.should_see('This page could not be loaded')
