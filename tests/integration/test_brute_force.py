"""Guessing the token against a real flowmon process: 20 wrong tries a minute per address, then 429 with
Retry-After on every way in, each failure logged with the address and path but never the token (finding 13)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from flowmon_process import FlowmonProcess

TOKEN = 'brute-force-test-token-0123'
GUESS = 'guessed-token-number-'


def test_the_twenty_first_wrong_token_in_a_minute_is_refused_with_429_on_every_way_in(
    launch: Callable[..., FlowmonProcess],
) -> None:
    flowmon = launch(FLOWMON_TOKEN=TOKEN)
    flowmon.wait_started()
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as client:
        for attempt in range(10):  # two ways in share one count
            bearer = client.get('/api/workflows', headers={'Authorization': f'Bearer {GUESS}{attempt}'})
            assert bearer.status_code == 401
            link = client.get(f'/executions?token={GUESS}link{attempt}', follow_redirects=False)
            assert link.status_code == 303 and 'error=token' in link.headers['location']
        assert client.get('/api/workflows').status_code == 401  # no token at all is no guess: not counted

        # Forwarded headers from a client are not believed: the address stays 127.0.0.1, and it is locked out.
        spoofed = {'X-Forwarded-For': '203.0.113.9', 'Authorization': f'Bearer {GUESS}spoofed'}
        for response in (
            client.get('/api/workflows', headers=spoofed),
            client.get('/api/workflows', headers={'Authorization': f'Bearer {TOKEN}'}),  # even the right one
            client.get(f'/?token={TOKEN}', follow_redirects=False),
            client.post('/login', data={'token': TOKEN, 'redirect_to': '/'}, follow_redirects=False),
        ):
            assert response.status_code == 429, response.text
            assert 1 <= int(response.headers['retry-after']) <= 60
            assert 'too many failed token checks' in response.text
        assert client.get('/api/health').status_code == 200  # what needs no token still works

    failures = re.findall(r'failed token check from (\S+) on (\S+)', flowmon.stderr)
    assert len(failures) == 20
    assert {address for address, _ in failures} == {'127.0.0.1'}
    assert {path for _, path in failures} == {'/api/workflows', '/executions'}
    assert 'refused token check from 127.0.0.1 on /login: too many failures' in flowmon.stderr
    assert GUESS not in flowmon.stdout + flowmon.stderr  # the tried tokens are never logged
    assert TOKEN not in flowmon.stderr


def test_another_sites_page_can_neither_lock_the_token_out_nor_sign_its_visitor_in_or_out(
    launch: Callable[..., FlowmonProcess],
) -> None:
    """A page elsewhere can make its visitor's browser post flowmon's forms or load ``?token=`` links (a hidden form,
    an image): refused with 403 and never counted, so 25 of them lock nobody out; flowmon's own pages, a link from
    elsewhere and clients that send no browser headers (scripts) are served as before."""
    flowmon = launch(FLOWMON_TOKEN=TOKEN)
    flowmon.wait_started()
    own = f'http://127.0.0.1:{flowmon.port}'
    elsewhere = {'Origin': 'http://localhost:18999', 'Sec-Fetch-Site': 'cross-site'}
    with httpx.Client(base_url=flowmon.base_url, timeout=10.0, follow_redirects=False) as client:
        for attempt in range(25):
            posted = client.post('/login', data={'token': f'{GUESS}{attempt}'}, headers=elsewhere)
            assert posted.status_code == 403 and 'another site' in posted.text
        pictured = client.get(
            f'/?token={GUESS}image', headers={'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Dest': 'image'}
        )
        assert pictured.status_code == 403
        assert client.get('/api/workflows', headers={'Authorization': f'Bearer {TOKEN}'}).status_code == 200

        signed_in = client.post('/login', data={'token': TOKEN, 'redirect_to': '/'}, headers={'Origin': own})
        assert signed_in.status_code == 303 and signed_in.headers['location'] == '/'
        assert client.get('/executions').status_code == 200
        assert client.post('/logout', headers=elsewhere).status_code == 403
        assert client.get('/executions').status_code == 200  # still signed in
        posted_by_an_old_browser = client.post(
            '/login', data={'token': f'{GUESS}old'}, headers={'Origin': 'http://x.example'}
        )
        assert posted_by_an_old_browser.status_code == 403  # (no fetch metadata: its Origin says where it comes from)
        # flowmon's pages send no referrer, so a browser's Origin on their forms is "null": fetch metadata tells
        assert client.post('/logout', headers={'Origin': 'null', 'Sec-Fetch-Site': 'same-origin'}).status_code == 303
        assert client.get('/executions').status_code == 303  # signed out: to the sign-in page

        scripted = {'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Dest': 'document'}  # a popup its script moves on
        for attempt in range(25):
            assert client.get(f'/executions?token={GUESS}popup{attempt}', headers=scripted).status_code == 403
        assert client.get('/api/workflows', headers={'Authorization': f'Bearer {TOKEN}'}).status_code == 200
        linked = client.get(  # a link clicked in a chat: a navigation from elsewhere, by a person, still signs in
            f'/executions?token={TOKEN}', headers={**scripted, 'Sec-Fetch-User': '?1'}
        )
        assert linked.status_code == 303 and linked.headers['location'] == '/executions'
        assert client.get('/executions').status_code == 200
        with httpx.Client(base_url=flowmon.base_url, timeout=10.0) as visitor:  # without the (SameSite) cookie
            for path in ('/logout', '/login', '/executions'):
                for headers in (elsewhere, {'Origin': 'http://x.example'}):  # (the second: no fetch metadata)
                    refused = visitor.post(path, headers=headers)
                    assert refused.status_code == 403, (path, headers)
                    assert 'set-cookie' not in refused.headers, (path, headers)  # no new session
    assert 'failed token check' not in flowmon.stderr  # nothing was counted
