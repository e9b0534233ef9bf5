"""``GET /api/executions/{id}/stream`` and ``GET /api/events/stream``: executions' events as Server-Sent Events.

A thin adapter over :class:`~flowmon.application.streams.EventStreams`: refusals (unknown execution, a bad
``Last-Event-ID`` or type) are answered before the stream starts; then each event is one SSE message whose ``id``
is ``<execution>:<seq>`` and whose data is the event as JSON, and a keep-alive comment goes out after a quiet
spell. The response is not compressed (gzip leaves ``text/event-stream`` alone) and tells proxies not to buffer it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from flowmon.application.streams import EVENT_TYPES, Stream
from flowmon.application.views import stream_event_json

from .dependencies import Streams

router = APIRouter(prefix='/api', tags=['streams'])

OPENING = b': flowmon event stream\n\n'  # sent at once, so the client (and every proxy) sees the response start
KEEPALIVE = b': keep-alive\n\n'
HEADERS = {'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'}
STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {'content': {'text/event-stream': {}}, 'description': 'Server-Sent Events; `id` is `<execution>:<seq>`'},
    400: {'description': 'malformed Last-Event-ID'},
    422: {'description': 'unknown event type, or a Last-Event-ID that names no event of this stream'},
    503: {'description': 'too many streams open'},
}
LastEventId = Annotated[
    str | None,
    Header(description='resume after this event (`<execution>:<seq>`, the `id` of the last event received)'),
]


class EventStreamResponse(StreamingResponse):
    """A stream's response: the stream is closed (its bus subscription and its place among the open streams let go
    of) when the response ends in any way. Starlette stops iterating a body whose ``send`` failed or was cancelled
    (a client cut off for reading nothing, one that went away) without closing the generator, which then waits at
    its ``yield`` until the garbage collector finds it: seconds or minutes."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        super().__init__(self._messages(), media_type='text/event-stream', headers=HEADERS)

    async def _messages(self) -> AsyncIterator[bytes]:
        yield OPENING
        async for event in self._stream:
            if event is None:
                yield KEEPALIVE
            else:
                yield f'id: {event.execution_id}:{event.seq}\ndata: {stream_event_json(event)}\n\n'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()


@router.get(
    '/executions/{execution_id}/stream',
    response_class=StreamingResponse,
    responses={**STREAM_RESPONSES, 204: {'description': 'nothing left: the execution ended at Last-Event-ID'},
               404: {'description': 'unknown execution'}},
)  # fmt: skip
async def stream_execution(execution_id: str, streams: Streams, last_event_id: LastEventId = None) -> Response:
    """One execution's events as they are recorded, from its first (or after ``Last-Event-ID``) to its final event."""
    stream = await streams.execution(execution_id, last_event_id=last_event_id)
    if stream is None:
        return Response(status_code=204)
    return EventStreamResponse(stream)


@router.get('/events/stream', response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def stream_events(
    streams: Streams,
    last_event_id: LastEventId = None,
    workflow_id: Annotated[str | None, Query(max_length=64, description='only executions of this workflow')] = None,
    types: Annotated[
        str | None, Query(max_length=1000, description=f'comma-separated event types: {", ".join(EVENT_TYPES)}')
    ] = None,
) -> Response:
    """Every execution's events as they are recorded, from now (or after ``Last-Event-ID``)."""
    return EventStreamResponse(await streams.events(workflow_id=workflow_id, types=types, last_event_id=last_event_id))
