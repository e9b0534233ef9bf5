"""``SecurityHeaders``: the same protective headers on every response (pages, API, errors, 404/405).

The policy is the strictest NiceGUI 3.18 runs under: Vue compiles templates at run time and NiceGUI evaluates
props and inline module scripts, so script needs ``'unsafe-inline'`` and ``'unsafe-eval'``. It therefore does
not stop injected script (escaping does); it does keep every fetch, image, font, form target and frame to
flowmon's own origin, forbids ``<base>``, and forbids framing flowmon anywhere. ``/docs`` alone may also show
``data:`` images (Swagger UI's icons).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# /docs (Swagger UI, flowmon's own copy) draws some icons as data: SVG images from its stylesheet; no other page
# needs them, so only that page's policy allows them.
DOCS_PATH = '/docs'
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self';", "img-src 'self' data:;")
HEADERS = {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',  # the sign-in link carries the token in its URL
    'X-Frame-Options': 'DENY',
}


class SecurityHeaders:
    """Replace any copies of :data:`HEADERS` in each HTTP response start with flowmon's values."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        chosen = HEADERS
        if scope.get('path') == DOCS_PATH:
            chosen = {**HEADERS, 'Content-Security-Policy': DOCS_CONTENT_SECURITY_POLICY}

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                message.setdefault('headers', [])
                headers = MutableHeaders(scope=message)
                for name, value in chosen.items():
                    headers[name] = value  # replaces existing copies
            await send(message)

        await self.app(scope, receive, send_with_headers)
