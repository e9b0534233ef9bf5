"""``NulGuard``: a NUL character in the path, a query parameter or a header gets 400 before any route sees it.

No address, id, filter or header value flowmon knows holds one, and PostgreSQL cannot store one in any text column,
so a ``%00`` reaching a route's query failed there as a 500 (SQLite answered 404). Refusing it here, once, keeps
the answer the same on both databases, for pages, the API and the public ``/hooks`` alike. The answer names the
input (``errors[].loc``: ``["path"]``, ``["query", name]`` or ``["header", name]``) as the API's other refusals do.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

NUL = '\x00'


def nul_at(scope: Scope) -> list[str] | None:
    """Where the request holds a NUL character (the ``loc`` of the refusal), or None when it holds none."""
    if NUL in scope['path']:
        return ['path']
    query = scope.get('query_string', b'')
    if b'%00' in query or b'\x00' in query:  # parsing only a query that may hold one
        for name, value in QueryParams(query).multi_items():
            if NUL in name or NUL in value:
                return ['query', name]
    for key, value in scope['headers']:
        if b'\x00' in key or b'\x00' in value:
            return ['header', key.decode('latin-1')]
    return None


def nul_message(loc: list[str]) -> str:
    where = {'path': 'the path', 'query': 'query parameter', 'header': 'header'}[loc[0]]
    named = f' {loc[1]!r}' if len(loc) > 1 else ''
    return f'{where}{named} holds a NUL character, which no input of flowmon may hold'


class NulGuard:
    """Answer 400 to an HTTP request whose path, query or headers hold a NUL character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loc = nul_at(scope) if scope['type'] == 'http' else None
        if loc is None:
            await self.app(scope, receive, send)
            return
        message = nul_message(loc)
        errors = [{'loc': loc, 'msg': message, 'type': 'malformed'}]
        await JSONResponse({'detail': message, 'errors': errors}, status_code=400)(scope, receive, send)
