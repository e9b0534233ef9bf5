"""Sign-in: the token link, the login form, and no data for anyone without a session (HTTP and sub pages)."""

from __future__ import annotations

import time

from nicegui import app, ui
from nicegui.testing.user import User
from nicegui.testing.user_interaction import UserInteraction
from uisim import AUTH, TOKEN, current_path, handled, sign_in, start, submit_form, wait_for_path

from flowmon.web.auth import EXPIRES_KEY, SESSION_KEY


async def test_token_link_signs_in_and_strips_the_token(user: User) -> None:
    response = await user.http_client.get(f'/executions?status=failed&token={TOKEN}', follow_redirects=False)
    assert response.status_code == 303
    assert response.headers['location'] == '/executions?status=failed'  # token gone, other parameters kept

    await user.open('/executions?status=failed')  # the session cookie from the redirect signs this in
    await user.should_see(marker='executions-page')
    await user.should_not_see(marker='sign-in')


async def test_wrong_token_in_the_link_is_refused(user: User) -> None:
    await user.open('/?token=not-the-token')
    await user.should_see(marker='sign-in')
    await user.should_see('That token was not accepted')
    await user.should_not_see(marker='dashboard')
    await user.should_not_see('Quick check')


async def test_login_form_refuses_a_wrong_token_then_accepts_the_right_one(user: User) -> None:
    await user.open('/login')
    user.find(marker='token-input').type('guess')
    assert (await submit_form(user, 'sign-in-form')).headers['location'].endswith('error=token')
    await user.should_see('That token was not accepted')
    await user.should_not_see(marker='dashboard')

    await submit_form(user, 'sign-in-form')  # nothing typed
    await user.should_see('Enter the access token.')

    user.find(marker='token-input').type(TOKEN)
    assert (await submit_form(user, 'sign-in-form')).headers['location'] == '/'
    await user.should_see(marker='dashboard')
    await user.should_see('Quick check')


async def test_pages_without_sign_in_show_no_data(user: User) -> None:
    for path in ('/', '/executions', '/executions?status=failed', '/workflows/quick', '/executions/some-id'):
        response = await user.http_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers['location'].startswith('/login?redirect_to='), path
        await user.open(path)
        await user.should_see(marker='sign-in')
        await user.should_not_see(marker='dashboard')
        await user.should_not_see(marker='executions-page')
        await user.should_not_see(marker='workflow-page')
        await user.should_not_see('Quick check')
        await user.should_not_see(marker='nav-executions')  # no navigation for strangers either


async def test_api_keeps_its_own_bearer_auth(user: User) -> None:
    assert (await user.http_client.get('/api/workflows')).status_code == 401
    assert (await user.http_client.get('/api/health')).status_code == 200


async def test_sub_page_navigation_is_guarded_after_sign_out(user: User) -> None:
    execution_id = await start(user, 'quick')
    await sign_in(user)
    await user.should_see(marker='dashboard')
    signed_in_page = user.client
    await submit_form(user, 'sign-out-form')
    await wait_for_path(user, '/login')
    await user.should_see(marker='sign-in')

    # The page that was open before (like another tab) keeps its websocket, which the HTTP middleware never sees:
    # in-app navigation there must be refused by the frame.
    user.client = signed_in_page
    for path in ('/executions', f'/executions/{execution_id}', '/workflows/quick', '/', '/no/such/page'):
        user.navigate.to(path)
        await wait_for_path(user, path.replace('?', r'\?'))
        await user.should_see(marker='sign-in')
        await user.should_not_see('Quick check')
        await user.should_not_see(marker='execution-table')
        await user.should_not_see(marker='not-found')  # a path no page lives at is no way around signing in
        await user.should_not_see(marker='nav-executions')


async def test_signing_in_from_a_guarded_page_renders_that_page(user: User) -> None:
    await sign_in(user)
    await submit_form(user, 'sign-out-form')
    await wait_for_path(user, '/login')
    user.navigate.to('/executions?status=failed')
    await wait_for_path(user, r'/executions\?status=failed')
    await user.should_see(marker='sign-in')

    user.find(marker='token-input').type(TOKEN)
    assert (await submit_form(user, 'sign-in-form')).headers['location'] == '/executions?status=failed'
    await user.should_see(marker='executions-page')
    assert current_path(user) == '/executions?status=failed'


async def test_an_open_page_drops_its_data_when_the_browser_is_signed_out_elsewhere(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='dashboard')
    # Signing out in another tab clears the shared session; this tab's page notices on its next check.
    # the simulated browser's server-side session, as signing out in another tab leaves it (no public API reaches it)
    for storage in app.storage._users.values():
        storage.pop(SESSION_KEY, None)
    await user.should_see(marker='sign-in')
    await user.should_not_see(marker='dashboard')


async def test_a_stranger_cannot_read_workflow_names_through_the_header_menu(user: User) -> None:
    await user.open('/login')
    await user.should_see(marker='sign-in')
    # The menu's row is hidden, but NiceGUI delivers events to an element that is not itself hidden: a client
    # that sends the event by hand must still get nothing.
    assert user.client is not None
    for marker in ('workflows-menu', 'compact-menu'):  # the tabs' menu and the phone's
        menus = [element for element in user.client.elements.values() if marker in element._markers]
        assert len(menus) == 1 and isinstance(menus[0], ui.menu)
        await handled(lambda menus=menus: UserInteraction(user, set(menus), ui.menu).trigger('beforeShow'))  # by hand
        texts = [getattr(item, 'text', '') for item in menus[0].descendants()]
        assert not any(name in text for text in texts for name in ('Slow wait', 'Quick check', 'Always broken'))
        assert 'Loading…' in texts, marker


async def test_api_callers_get_no_per_visitor_storage_or_cookie(user: User) -> None:
    before = len(app.storage._users)  # NiceGUI's per-browser storage is what is under test: no public API lists it
    for _ in range(30):  # a visitor stored per call would show as 30 more (300 cost 2 s of CPU and showed no more)
        user.http_client.cookies.clear()  # every call a new cookieless visitor
        response = await user.http_client.get('/api/health')
        assert response.status_code == 200 and 'set-cookie' not in response.headers
        response = await user.http_client.get('/api/workflows', headers=AUTH)
        assert response.status_code == 200 and 'set-cookie' not in response.headers
    assert len(app.storage._users) == before


async def test_nothing_is_stored_for_a_visitor_who_never_signed_in(user: User) -> None:
    await user.open('/login')
    await handled(user.find(marker='theme-toggle').click)  # works on the page, but is not remembered for a stranger
    # NiceGUI's per-browser storage is the behaviour under test (nothing stored for a stranger): no public API lists it
    assert all(not storage for storage in app.storage._users.values())


async def test_an_expired_sign_in_loses_the_page(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='dashboard')
    for storage in app.storage._users.values():  # the session's expiry, as time would leave it (no public API)
        if SESSION_KEY in storage:
            assert storage[EXPIRES_KEY] > time.time() + 11 * 3600  # FLOWMON_SESSION_HOURS defaults to 12
            storage[EXPIRES_KEY] = time.time() - 1
    await user.should_see(marker='sign-in')
    await user.should_not_see(marker='dashboard')
