"""A JSON answer written as it is read from the database (an execution's whole event list, an export file)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from flowmon.application.errors import NotFound


class WrittenAsReadResponse(StreamingResponse):
    """``chunks`` written as they come, each read and encoded page by page: one page in memory at a time, however
    large the whole. The headers go out with the first chunk, so a failing read of a later one cannot be a 500 any
    more: ``failure`` is logged (to ``log``) and the body ends there, unfinished (not JSON, so no client takes it
    for the whole); an execution deleted meanwhile is a warning, without a traceback. A client that goes away stops
    the reading: ``close`` (which lets go of what ``chunks`` reads) is called when the response ends in any way
    (Starlette leaves a body it stopped writing unclosed)."""

    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None],
        *,
        close: Callable[[], Awaitable[None]],
        log: logging.Logger,
        failure: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._source = chunks
        self._close = close
        self._log = log
        self._failure = failure
        self._chunks = self._body()
        super().__init__(self._chunks, media_type='application/json', headers=headers)

    async def _body(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._source:
                yield chunk
        except NotFound as exc:  # deleted while it was read (the file ends unfinished): an outcome, not a fault
            self._log.warning('%s: %s', self._failure, exc)
        except Exception:  # the client has the status and part of the body already: nothing else can tell it
            self._log.exception('%s', self._failure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._chunks.aclose()
            await self._source.aclose()
            await self._close()
