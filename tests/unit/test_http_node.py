"""The ``http`` node's answer, held to its cap as it arrives and as it is decoded, within its time.

The server is an in-memory stand-in (``httpx.MockTransport``): what it is sent is recorded, what it answers is
built per test. Virtual time (looptime): the slow server's waits take no wall-clock time.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from flowmon.engine.nodes.base import NodeContext, NodeError
from flowmon.engine.nodes.http import MAX_ENCODINGS, MAX_RESPONSE_BYTES, HttpConfig, HttpNode

pytestmark = pytest.mark.looptime


def context(answer: Callable[[httpx.Request], httpx.Response], sent: list[httpx.Request]) -> NodeContext:
    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return NodeContext(execution_id='e1', node_id='call', attempt=1, http=client)


async def call(answer: Callable[[httpx.Request], httpx.Response], **config: Any) -> tuple[Any, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    ctx = context(answer, sent)
    try:
        output = await HttpNode().run(HttpConfig(url='https://api.example/x', **config), {}, ctx)
    finally:
        assert ctx.http is not None
        await ctx.http.aclose()
    return output, sent


class Sent(httpx.AsyncByteStream):
    """A body as a server sends it, in chunks of 64 KiB (a response made with ``content=`` is read at once)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for at in range(0, len(self.body), 65536):
            yield self.body[at : at + 65536]


def answer(status: int, body: bytes, coding: str = '') -> Callable[[httpx.Request], httpx.Response]:
    headers = {'content-encoding': coding} if coding else {}
    return lambda _: httpx.Response(status, headers=headers, stream=Sent(body))


def encoded(body: bytes, *codings: str) -> bytes:
    for coding in codings:
        body = gzip.compress(body) if coding == 'gzip' else zlib.compress(body)
    return body


async def test_the_answer_is_asked_for_unencoded_unless_the_workflow_says_otherwise() -> None:
    _, sent = await call(answer(200, b'{"ok": true}'))
    assert sent[0].headers.get_list('accept-encoding') == ['identity']
    _, sent = await call(answer(200, b'{"ok": true}'), headers={'Accept-Encoding': 'gzip'})
    assert sent[0].headers.get_list('accept-encoding') == ['gzip']  # the workflow's, alone


@pytest.mark.parametrize('codings', [('gzip',), ('deflate',), ('gzip', 'gzip')])
async def test_a_body_sent_compressed_all_the_same_is_decoded(codings: tuple[str, ...]) -> None:
    body = encoded(json.dumps({'items': list(range(100))}).encode(), *codings)
    output, _ = await call(answer(200, body, ', '.join(codings)))
    assert output['json'] == {'items': list(range(100))}


async def test_a_raw_deflate_stream_is_decoded_too() -> None:
    squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = squeeze.compress(b'{"raw": true}') + squeeze.flush()
    output, _ = await call(answer(200, body, 'deflate'))
    assert output['json'] == {'raw': True}


async def test_a_small_body_that_expands_to_50_mb_is_decoded_to_the_cap_alone() -> None:
    """Two gzip layers make 50 MB of a few hundred bytes; httpx's own decoding held all of it before the node cut it."""
    bomb = encoded(b'\0' * 50_000_000, 'gzip', 'gzip')
    assert len(bomb) < 1000
    tracemalloc.start()
    try:
        output, _ = await call(answer(200, bomb, 'gzip, gzip'))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(output['text']) == MAX_RESPONSE_BYTES
    assert peak < 8 * MAX_RESPONSE_BYTES, f'{peak:,} bytes at the peak'


async def test_a_refusal_longer_than_the_cap_says_so_in_the_error() -> None:
    body = encoded(b'x' * (3 * MAX_RESPONSE_BYTES), 'gzip')
    with pytest.raises(NodeError, match=r'answered 500: x{500}… \(over 1,048,576 bytes\)$'):
        await call(answer(500, body, 'gzip'))


@pytest.mark.parametrize(
    ('coding', 'body', 'message'),
    [
        ('br', b'anything', "the response is encoded as 'br', which the http node does not decode"),
        ('gzip', b'not gzip at all', 'the response body is not the gzip it says it is'),
        ('deflate', b'not deflate', 'the response body is not the deflate it says it is'),
        (', '.join(['gzip'] * (MAX_ENCODINGS + 1)), b'', f'encoded {MAX_ENCODINGS + 1} times over'),
    ],
)
async def test_a_body_the_node_cannot_decode_fails_it_saying_why(coding: str, body: bytes, message: str) -> None:
    with pytest.raises(NodeError, match=message.replace('(', r'\(').replace(')', r'\)')):
        await call(answer(200, body, coding))


class Trickle(httpx.AsyncByteStream):
    """A body of one byte every 10 s, for ever: each read is well within httpx's per-read timeout."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b'.'
            await asyncio.sleep(10)


async def test_the_whole_answer_takes_at_most_the_timeout() -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(NodeError, match=r'GET https://api.example/x: no whole answer within 60 s'):
        await call(lambda _: httpx.Response(200, stream=Trickle()), timeout_seconds=60)
    assert loop.time() - began == pytest.approx(60, abs=1)  # (virtual time)
