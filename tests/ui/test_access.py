"""Sign-in: the token link, the login form, and no data for anyone without a session (HTTP and sub pages)."""

from __future__ import annotations

from nicegui import app
from nicegui.testing.user import User
from uisim import TOKEN, current_path, sign_in, start, wait_for_path

from flowmon.web.auth import SESSION_KEY


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
    user.find(marker='sign-in-button').click()
    await user.should_see('That token is not valid.')
    await user.should_not_see(marker='dashboard')

    user.find(marker='token-input').type(TOKEN)
    user.find(marker='sign-in-button').click()
    await user.should_see(marker='dashboard', retries=20)
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
    user.find(marker='sign-out').click()
    await wait_for_path(user, '/login')
    await user.should_see(marker='sign-in')

    # In-app navigation goes over the websocket, not through the HTTP middleware: the frame must refuse it.
    for path in ('/executions', f'/executions/{execution_id}', '/workflows/quick', '/'):
        user.navigate.to(path)
        await wait_for_path(user, path.replace('?', r'\?'))
        await user.should_see(marker='sign-in')
        await user.should_not_see('Quick check')
        await user.should_not_see(marker='execution-table')


async def test_signing_in_from_a_guarded_page_renders_that_page(user: User) -> None:
    await sign_in(user)
    user.find(marker='sign-out').click()
    await wait_for_path(user, '/login')
    user.navigate.to('/executions')
    await wait_for_path(user, '/executions')
    await user.should_see(marker='sign-in')

    user.find(marker='token-input').type(TOKEN)
    user.find(marker='sign-in-button').click()
    await user.should_see(marker='executions-page', retries=20)
    assert current_path(user) == '/executions'


async def test_an_open_page_drops_its_data_when_the_browser_is_signed_out_elsewhere(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='dashboard')
    # Signing out in another tab clears the shared session; this tab's page notices on its next check.
    for storage in app.storage._users.values():  # the simulated browser's server-side session
        storage.pop(SESSION_KEY, None)
    await user.should_see(marker='sign-in', retries=40)
    await user.should_not_see(marker='dashboard')
