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
