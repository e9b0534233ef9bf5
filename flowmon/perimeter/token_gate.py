"""``TokenGate``: the one place where a presented access token is checked, counted and logged.

Every way in that takes the token (an API bearer header, the ``?token=`` sign-in link, the ``/login`` form) asks
the same gate, so a guesser cannot spread guesses over them: per client address, more than
:data:`FAILURES_PER_MINUTE` wrong tokens in a minute lock that address out with 429 until the window passes.
Each failure is logged with the address and path, never with what was tried.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from .failure_limiter import FailureLimiter

FAILURES_PER_MINUTE = 20

log = logging.getLogger('flowmon.auth')


class Outcome(Enum):
    ACCEPTED = 'accepted'
    REFUSED = 'refused'
    LIMITED = 'limited'


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    retry_after: int = 0

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def client_address(scope: Scope) -> str:
    """The peer address uvicorn reports (forwarded headers count only from ``FLOWMON_TRUSTED_PROXIES``)."""
    client = scope.get('client')
    return str(client[0]) if client else 'unknown'


def loggable(path: str, limit: int = 200) -> str:
    """``path`` for a log line: control characters escaped (no forged lines), at most ``limit`` characters."""
    text = ''.join(c if c.isprintable() else c.encode('unicode_escape').decode('ascii') for c in path)
    return text if len(text) <= limit else text[:limit] + '...'


class TokenGate:
    """Checks presented tokens against ``token`` with one :class:`FailureLimiter` for every way in."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token
        self.limiter = FailureLimiter(limit=FAILURES_PER_MINUTE, window=60.0, clock=clock)

    @property
    def token(self) -> str:
        return self._token

    def check(self, presented: str | None, scope: Scope) -> Verdict:
        """Whether ``presented`` is the token; a locked-out address is not checked at all (``LIMITED``)."""
        address, path = client_address(scope), loggable(scope['path'])
        wait = self.limiter.retry_after(address)
        if wait:
            log.warning('refused token check from %s on %s: too many failures, retry after %d s', address, path, wait)
            return Verdict(Outcome.LIMITED, wait)
        if token_matches(presented, self._token):
            return Verdict(Outcome.ACCEPTED)
        self.limiter.failed(address)
        log.warning('failed token check from %s on %s', address, path)
        return Verdict(Outcome.REFUSED)


def too_many_failures(verdict: Verdict, *, json: bool) -> Response:
    """The 429 answer for a locked-out address, with ``Retry-After``."""
    message = f'too many failed token checks from your address; try again in {verdict.retry_after} s'
    headers = {'Retry-After': str(verdict.retry_after)}
    if json:
        return JSONResponse({'detail': message}, status_code=429, headers=headers)
    return PlainTextResponse(message, status_code=429, headers=headers)
