"""``AnonymousPageBudget``: how many pages one address may load a minute without a signed-in session.

Every page load builds a NiceGUI client before its HTML is sent: the sign-in page, which anyone who reaches flowmon
may load, costs about 25 ms of the one event loop's CPU. :class:`~flowmon.web.unconnected_pages.UnconnectedPages`
bounds the memory such pages hold, not their rate: a script loading the sign-in page 40 times a second keeps a whole
core busy and slows every signed-in user. So each address (the peer uvicorn reports: forwarded headers count only
from ``FLOWMON_TRUSTED_PROXIES``) has a budget of page loads while its browser is not signed in: a token bucket of
``per_minute`` loads that refills at ``per_minute`` a minute, so a whole minute's loads may come at once. Past it the
answer is 429 with ``Retry-After``, before anything of the page is built: a short static page for a browser (a
request that accepts ``text/html``), a line of text for any other caller. A person reloading the sign-in page, or the
browser tests signing in, load a few a minute; a script gets the bucket, then one load a second (at 60 a minute).

Signed-in browsers are never counted nor refused, and neither is what is no page (the API, ``/hooks/``, NiceGUI's
assets and socket, ``/metrics``, the API docs): the page guard says what is a page and who is signed in (it reads
the session's user storage, which NiceGUI's layer outside this one has loaded for the request).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .sessions import header
from .token_gate import client_address

LOG_EVERY_SECONDS = 60.0

log = logging.getLogger('flowmon.auth')

# The refusal a browser shows: static bytes around the seconds to wait, nothing from the request. Under the app's CSP
# (perimeter.security_headers): no script, and one <style> block, which style-src 'unsafe-inline' allows (a hash would
# make browsers ignore that 'unsafe-inline', which NiceGUI's pages need). The sign-in link that flowmon prints at
# start (/?token=...) is no page load of the budget's (only /login is: web.sign_in.is_page_load), and signs in.
_PAGE_BEFORE_WAIT = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Too many page loads - flowmon</title>
<style>
body { margin: 0; font-family: system-ui, sans-serif; line-height: 1.5; background: #fff; color: #1d1d1d; }
main { max-width: 36rem; margin: 4rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
code { font-size: 0.95em; white-space: nowrap; }
@media (prefers-color-scheme: dark) { body { background: #121212; color: #e6e6e6; } }
</style>
</head>
<body>
<main>
<h1>Too many page loads</h1>
<p>Your network address has loaded the sign-in page too often without signing in.
Wait <strong>"""
_PAGE_AFTER_WAIT = b"""</strong>, then load the page again.</p>
<p>Signing in is not limited by this: open the link with the access token (<code>/?token=&hellip;</code>, as flowmon
printed it when it started) and this browser is signed in at once.</p>
</main>
</body>
</html>
"""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    logged: float = -math.inf  # when a refusal was last logged (at most one line a minute per address)


@dataclass(frozen=True, slots=True)
class Pages:
    """What the page guard (the web's sign-in layer) knows about a request, for the layers around it."""

    is_page: Callable[[Scope], bool]  # the request loads a page (the sign-in page too), not an asset or a sign-in
    signed_in: Callable[[], bool]  # the current request's browser is signed in


class PageBudget:
    """A token bucket per key (a client address): ``per_minute`` loads at once, refilled at ``per_minute`` a minute.

    At most ``max_keys`` keys are remembered (the least recently loading forgotten first, as a full bucket), so a
    flood from many addresses costs bounded memory. ``clock`` is injectable so tests need no sleeps.
    """

    def __init__(self, per_minute: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError('per_minute must be at least 1')
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> int:
        """Spend one load of ``key``'s budget: 0 when it had one, else the whole seconds until it has one again."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        wait = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
        if now - bucket.logged >= LOG_EVERY_SECONDS:
            bucket.logged = now
            log.warning(
                'refused page loads without sign-in from %s: over %d a minute (logged once a minute at most)',
                key,
                int(self.capacity),
            )
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


class AnonymousPageBudget:
    """Pure ASGI: a ``GET`` or ``HEAD`` of a page (``is_page(scope)``) by a browser that is not signed in
    (``signed_in()``, asked in the request's context) spends its address's :class:`PageBudget`; past it, 429."""

    def __init__(
        self,
        app: ASGIApp,
        budget: PageBudget,
        is_page: Callable[[Scope], bool],
        signed_in: Callable[[], bool],
    ) -> None:
        self.app = app
        self.budget = budget
        self.is_page = is_page
        self.signed_in = signed_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope['type'] == 'http'
            and scope['method'] in ('GET', 'HEAD')
            and self.is_page(scope)
            and not self.signed_in()
        ):
            wait = self.budget.take(client_address(scope))
            if wait:
                await refusal(wait, html=accepts_html(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def refusal(wait: int, *, html: bool) -> Response:
    """The 429 for a load past the budget: ``wait`` seconds in ``Retry-After``, and in a page or a line of text."""
    headers = {'Retry-After': str(wait), 'Vary': 'Accept'}
    if html:
        seconds = b'%d second' % wait if wait == 1 else b'%d seconds' % wait
        return HTMLResponse(_PAGE_BEFORE_WAIT + seconds + _PAGE_AFTER_WAIT, status_code=429, headers=headers)
    message = f'too many page loads without signing in from your address; try again in {wait} s'
    return PlainTextResponse(message, status_code=429, headers=headers)


def accepts_html(scope: Scope) -> bool:
    """Whether the request's ``Accept`` names ``text/html`` (not at ``q=0``), as a browser loading a page does."""
    accept = header(scope, b'accept')
    if not accept:
        return False
    for media_range in accept.decode('latin-1').lower().split(','):
        media_type, *params = (part.strip() for part in media_range.split(';'))
        if media_type == 'text/html':
            return not any(_weight(param) == 0 for param in params)
    return False


def _weight(param: str) -> float | None:
    """The weight a media range's parameter gives (``q=0.5``: 0.5), or ``None`` when it is no weight."""
    name, _, value = param.partition('=')
    if name.strip() != 'q':
        return None
    try:
        return float(value)
    except ValueError:
        return None
