"""``NulGuard`` on its own: a header that holds a NUL character (which an HTTP server's parser normally refuses
first) is refused by name before the app sees it; requests without one pass through."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from flowmon.perimeter.nul_guard import NulGuard


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers.get('webhook-id', ''))


async def test_a_header_holding_a_nul_is_refused_by_name() -> None:
    guarded = NulGuard(Starlette(routes=[Route('/hooks/x', echo, methods=['POST'])]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url='http://flowmon') as client:
        refused = await client.post('/hooks/x', headers={'webhook-id': 'a\x00b'})
        passed = await client.post('/hooks/x', headers={'webhook-id': 'ab'})
    assert refused.status_code == 400
    assert refused.json()['errors'] == [
        {'loc': ['header', 'webhook-id'], 'msg': refused.json()['detail'], 'type': 'malformed'}
    ]
    assert "header 'webhook-id' holds a NUL character" in refused.json()['detail']
    assert (passed.status_code, passed.text) == (200, 'ab')
