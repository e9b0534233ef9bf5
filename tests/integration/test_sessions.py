"""Browser sessions of a real flowmon process: the cookie's name, flags and lifetime, a new session id on every
sign-in and sign-out, so a cookie planted before sign-in never becomes signed in (issue 10, finding 10)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest
from flowmon_process import FlowmonProcess

TOKEN = 'sessions-test-token-0123'
COOKIE = 'flowmon_session'


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_TOKEN=TOKEN, FLOWMON_SESSION_HOURS='3')
    process.wait_started()
    return process


def browser(flowmon: FlowmonProcess, cookie: str | None = None) -> httpx.Client:
    client = httpx.Client(base_url=flowmon.base_url, timeout=10.0)
    if cookie is not None:
        client.cookies.set(COOKIE, cookie, domain='127.0.0.1', path='/')  # as the browser would keep it
    return client


def session_id(cookie: str) -> str:
    """The browser id inside the signed cookie (``base64(json).timestamp.signature``)."""
    payload = cookie.split('.', 1)[0]
    return str(json.loads(base64.b64decode(payload + '=' * (-len(payload) % 4)))['id'])


def planted_cookie(flowmon: FlowmonProcess) -> str:
    """A valid cookie obtained by an attacker (any visit hands one out), to be planted in a victim's browser."""
    with browser(flowmon) as attacker:
        attacker.get('/login')
        cookie = attacker.cookies.get(COOKIE)
    assert cookie
    return cookie


def is_signed_in(flowmon: FlowmonProcess, cookie: str) -> bool:
    with browser(flowmon, cookie) as client:
        response = client.get('/executions', follow_redirects=False)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


def test_the_cookie_is_named_flowmon_session_http_only_lax_and_lives_the_configured_hours(
    flowmon: FlowmonProcess,
) -> None:
    with browser(flowmon) as client:
        response = client.get(f'/?token={TOKEN}', follow_redirects=False)
    header = response.headers['set-cookie']
    assert header.startswith(f'{COOKIE}=')
    flags = [part.strip().lower() for part in header.split(';')[1:]]
    assert 'httponly' in flags and 'samesite=lax' in flags and 'path=/' in flags
    assert 'max-age=10800' in flags  # FLOWMON_SESSION_HOURS=3
    assert 'secure' not in flags  # plain HTTP here; Secure comes with an https FLOWMON_PUBLIC_URL


def test_the_token_link_gives_a_new_session_and_the_planted_one_stays_signed_out(flowmon: FlowmonProcess) -> None:
    planted = planted_cookie(flowmon)
    with browser(flowmon, planted) as victim:
        response = victim.get(f'/executions?token={TOKEN}', follow_redirects=False)
        assert response.status_code == 303
        signed_in = victim.cookies.get(COOKIE)
    assert signed_in and session_id(signed_in) != session_id(planted)
    assert is_signed_in(flowmon, signed_in)
    assert not is_signed_in(flowmon, planted)  # what the attacker holds is worth nothing


def test_the_login_form_gives_a_new_session_and_the_planted_one_stays_signed_out(flowmon: FlowmonProcess) -> None:
    planted = planted_cookie(flowmon)
    with browser(flowmon, planted) as victim:
        response = victim.post('/login', data={'token': TOKEN, 'redirect_to': '/executions'}, follow_redirects=False)
        assert (response.status_code, response.headers['location']) == (303, '/executions')
        signed_in = victim.cookies.get(COOKIE)
        assert victim.get('/executions').status_code == 200
    assert signed_in and session_id(signed_in) != session_id(planted)
    assert not is_signed_in(flowmon, planted)


def test_a_wrong_token_does_not_sign_in(flowmon: FlowmonProcess) -> None:
    planted = planted_cookie(flowmon)
    with browser(flowmon, planted) as victim:
        response = victim.post(
            '/login', data={'token': 'not-the-token-at-all', 'redirect_to': '/'}, follow_redirects=False
        )
        assert response.headers['location'].startswith('/login?') and 'error=token' in response.headers['location']
        assert not is_signed_in(flowmon, victim.cookies.get(COOKIE) or planted)


def test_signing_out_gives_a_new_session_and_ends_the_old_one(flowmon: FlowmonProcess) -> None:
    with browser(flowmon) as client:
        client.get(f'/?token={TOKEN}', follow_redirects=False)
        signed_in = client.cookies.get(COOKIE)
        assert signed_in and is_signed_in(flowmon, signed_in)
        response = client.post('/logout', follow_redirects=False)
        assert (response.status_code, response.headers['location']) == (303, '/login')
        after = client.cookies.get(COOKIE)
    assert after and session_id(after) != session_id(signed_in)
    assert not is_signed_in(flowmon, signed_in)  # a copy of the old cookie is signed out too
    assert not is_signed_in(flowmon, after)


def test_sign_out_from_another_site_does_nothing_without_the_cookie(flowmon: FlowmonProcess) -> None:
    with browser(flowmon) as client:
        client.get(f'/?token={TOKEN}', follow_redirects=False)
        signed_in = client.cookies.get(COOKIE)
    assert signed_in
    with browser(flowmon) as other_site:  # SameSite=Lax: a cross-site form POST arrives without the cookie
        assert other_site.post('/logout', follow_redirects=False).status_code == 303
    assert is_signed_in(flowmon, signed_in)
