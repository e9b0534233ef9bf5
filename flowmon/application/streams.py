"""Following executions as they run: the event streams that other programs read (Server-Sent Events).

A stream is a bounded fan-out from where events are recorded: it subscribes to the bus with a cheap callback
that appends to a buffer of at most ``buffer`` events, and a client that lets the buffer fill is cut off
(:attr:`Stream.overflowed`): the engine never waits for a client. A client resumes where it left off: the
caller gives the id of the last event it saw (``<execution>:<seq>``), and the stream replays from the store what
was recorded after it, then continues live, skipping what the replay already gave (by ``seq``, per execution).

The subscription is taken before the store is read, and reading flushes the recorder, so every event is either
in the store when the replay reads it or in the buffer: nothing falls in between. Across executions the order is
the events' timestamps, which the engine makes strictly increasing (:func:`~flowmon.engine.runtime.clock.
event_stamps`), so an id names one position in the stream of the whole process.

With several processes on one PostgreSQL database, the runs of the others reach the streams as the event tail reads
them (:meth:`EventStreams.take_stored`). Each execution's events stay exact (by ``seq``); the order across processes
is each one's clock, so resuming ``/api/events/stream`` across processes is exact only as far as their clocks agree.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from flowmon.engine.core.events import MAX_SEQ, TERMINAL_EXECUTION_EVENTS, Event, EventType
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES
from flowmon.engine.runtime.bus import EventBus, Subscription

from .errors import Invalid, Malformed, NotFound, Unavailable
from .history import ExecutionHistory
from .ids import workflow_filter
from .live import LiveView

__all__ = ['EVENT_TYPES', 'Cursor', 'EventStreams', 'Stream', 'parse_cursor', 'parse_types']

EVENT_TYPES = tuple(str(event_type) for event_type in EventType)
TERMINAL_TYPES = frozenset(str(event_type) for event_type in TERMINAL_EXECUTION_EVENTS)
KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
CLIENT_BUFFER = 10_000  # events a client may fall behind by (references: 80 KB); then it is cut off and resumes
MAX_STREAMS = 64  # open streams at once; more get 503
REPLAY_PAGE = 500  # events of every execution read from the store at a time while catching up (fewer when large)
ENDED_KEPT = 1000  # ended executions a resumed stream still knows the last replayed seq of (see Stream._ended)
LAST_EVENT_ID = 'Last-Event-ID'  # the header a stream resumes after
_CURSOR = re.compile(r'([0-9A-Za-z_-]{1,40}):(0|[1-9][0-9]{0,9})')  # an id fits the column (40), a seq 32 bits


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in a stream: the event ``seq`` of ``execution_id`` (an SSE event's ``id:``)."""

    execution_id: str
    seq: int

    def __str__(self) -> str:
        return f'{self.execution_id}:{self.seq}'


def parse_cursor(text: str) -> Cursor:
    """The cursor a ``Last-Event-ID`` names; raises :class:`Malformed` naming what is wrong with it."""
    match = _CURSOR.fullmatch(text.strip())
    if match is None or int(match.group(2)) > MAX_SEQ:
        shown = text if len(text) <= 60 else f'{text[:60]}...'
        raise Malformed(
            f'Last-Event-ID must be <execution id>:<seq> (an id this stream sent), got {shown!r}', at=LAST_EVENT_ID
        )
    return Cursor(match.group(1), int(match.group(2)))


def parse_types(text: str | None) -> frozenset[str] | None:
    """The event types of a comma-separated ``types`` filter (None: all); raises :class:`Invalid` naming an
    unknown one."""
    if text is None or not text.strip():
        return None
    wanted = frozenset(part.strip() for part in text.split(',') if part.strip())
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown:
        shown = ', '.join(repr(name[:60]) for name in unknown[:5])
        raise Invalid(f'unknown event type(s) {shown}; types are {", ".join(EVENT_TYPES)}', at='types')
    return wanted


class Stream:
    """One client's stream: events to send, ``None`` for a keep-alive; ends when the execution it follows has
    ended, when the client falls ``buffer`` events behind (:attr:`overflowed`), or when flowmon stops."""

    def __init__(
        self,
        owner: EventStreams,
        *,
        execution_id: str | None,
        workflow_id: str | None,
        types: frozenset[str] | None,
        after: Cursor | None,
        after_ts: datetime | None,
    ) -> None:
        self._owner = owner
        self.execution_id = execution_id
        self.workflow_id = workflow_id
        self.types = types
        self._after = after
        self._after_ts = after_ts
        self._buffer: deque[Event] = deque()
        self._limit = owner.buffer
        self._wakeup = asyncio.Event()
        # The last seq given, of the executions the replay reached (and the cursor's): a live event at or below
        # it was replayed or came before the cursor. An entry goes at the first live event past it (the bus
        # delivers an execution's events in order), or at the replay's end when the execution has ended, so
        # the map holds only executions that can still send events.
        self._given: dict[str, int] = {} if after is None else {after.execution_id: after.seq}
        # The last seq given of the newest executions the replay saw end (at most ENDED_KEPT): another process's
        # events reach this one by a tail that polls its database, so events the replay gave may still arrive
        self._ended: dict[str, int] = {}
        # Per execution, whether it belongs to ``workflow_id`` (when filtering by workflow): learnt from its
        # execution.queued event or looked up once; forgotten when it ends.
        self._belongs: dict[str, bool] = {}
        self.overflowed = False
        self.closed = False
        heard = None if types is None else types | {str(EventType.EXECUTION_QUEUED)} | TERMINAL_TYPES
        self._heard = heard
        self._subscription: Subscription | None = owner.bus.subscribe(self._offer, types=heard or EVENT_TYPES)
        owner._opened(self)
        self._items = self._iterate()

    @property
    def tracked_executions(self) -> int:
        """How many executions the stream remembers a last replayed ``seq`` of (those that can still send events)."""
        return len(self._given)

    def _offer(self, event: Event) -> None:
        """The bus callback: O(1), never waits; a full buffer cuts the client off instead."""
        execution_id = event.execution_id
        if self.execution_id is not None and execution_id != self.execution_id:
            return
        if self.workflow_id is not None:
            if event.type is EventType.EXECUTION_QUEUED:
                self._belongs[execution_id] = event.data.get('workflow_id') == self.workflow_id
            if self._belongs.get(execution_id) is False:
                if event.type in TERMINAL_EXECUTION_EVENTS:
                    del self._belongs[execution_id]
                return
        if self.types is not None and event.type not in self.types:
            if event.type in TERMINAL_EXECUTION_EVENTS:
                self._belongs.pop(execution_id, None)
            return  # heard only to learn or forget which workflow the execution belongs to
        if len(self._buffer) >= self._limit:
            self.overflowed = True
            self.close()
            return
        self._buffer.append(event)
        self._wakeup.set()

    def offer_stored(self, events: Sequence[Event]) -> None:
        """Events another process ran, as this one reads them from the shared database (in ``seq`` order per
        execution): offered like the bus's, with the types the subscription would have let through."""
        heard = self._heard
        for event in events:
            if self.closed:
                return
            if heard is None or event.type in heard:
                self._offer(event)

    def close(self) -> None:
        """Stop following (the client went away, fell behind, or flowmon stops); the iterator then ends."""
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
            self._owner._closed(self)
        self.closed = True
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[Event | None]:
        """The one iteration of the stream (iterating again continues it)."""
        return self._items

    async def _iterate(self) -> AsyncIterator[Event | None]:
        try:
            async for event in self._replay():
                yield event
                if self._ends_with(event):
                    return
            async for item in self._live():
                yield item
                if item is not None and self._ends_with(item):
                    return
        finally:
            self.close()

    def _ends_with(self, event: Event) -> bool:
        return self.execution_id is not None and event.type in TERMINAL_EXECUTION_EVENTS

    async def _replay(self) -> AsyncIterator[Event]:
        """What the store holds after the cursor (for one execution without a cursor: from its first event)."""
        history = self._owner.history
        given = self._given
        if self.execution_id is not None:
            if self.closed:
                return
            # the list's pages (bounded by count and by size): a replay of large outputs holds a few of them at a time
            after = 0 if self._after is None else self._after.seq
            try:
                async with aclosing(await history.event_pages(self.execution_id, after_seq=after)) as pages:
                    async for events in pages:
                        for event in events:
                            given[event.execution_id] = event.seq
                            yield event
                        if self.closed:
                            return
            except NotFound:  # deleted while its events were being read: the stream ends here
                self._buffer.clear()
                self.close()
            return
        if self._after is None or self._after_ts is None:
            return  # the stream of every execution starts now
        position = (self._after_ts, self._after.execution_id, self._after.seq)
        ended: dict[str, int] = {}  # executions whose final event the replay gave: nothing of theirs comes live
        while not self.closed:
            page, cut = await history.events_after(
                position, workflow_id=self.workflow_id, types=self.types, limit=REPLAY_PAGE
            )
            for event in page:
                position = (event.ts, event.execution_id, event.seq)
                given[event.execution_id] = event.seq  # (ascending per execution: the page is in stream order)
                if event.type in TERMINAL_EXECUTION_EVENTS:
                    ended[event.execution_id] = event.seq
                yield event
            if len(page) < REPLAY_PAGE and not cut:
                break
        await self._settle(ended)

    async def _settle(self, ended: dict[str, int]) -> None:
        """After the replay: keep a seq only for the executions that can still send events. Those that ended (their
        final event replayed, or, when ``types`` leaves it out, their row says so) are dropped once the buffer no
        longer holds what the replay gave of them (every event the store held was offered before it was read)."""
        given = self._given
        live = self._owner.live
        pending: list[str] = []  # (not running here: their rows say whether they ended)
        for execution_id in given:
            state = live.get(execution_id)
            if state is None:
                pending.append(execution_id)
            elif state.is_terminal:
                ended.setdefault(execution_id, given[execution_id])
        for start in range(0, len(pending), REPLAY_PAGE):
            chunk = pending[start : start + REPLAY_PAGE]
            records = await self._owner.history.records(chunk, flush=False)
            for execution_id in chunk:
                record = records.get(execution_id)
                if record is None or record.status in TERMINAL_EXECUTION_STATUSES:
                    ended[execution_id] = given[execution_id]
        if not ended:
            return
        self._buffer = deque(event for event in self._buffer if event.seq > ended.get(event.execution_id, -1))
        for execution_id in ended:
            given.pop(execution_id, None)
        self._ended = dict(list(ended.items())[-ENDED_KEPT:])  # (in the replay's order: the newest last)

    async def _live(self) -> AsyncIterator[Event | None]:
        """Events as they are recorded, each once; ``None`` after ``keepalive_seconds`` without one."""
        owner = self._owner
        given = self._given
        while True:
            while self._buffer:
                event = self._buffer.popleft()
                execution_id = event.execution_id
                if given:
                    last = given.get(execution_id)
                    if last is not None:
                        if event.seq <= last:
                            continue
                        del given[execution_id]
                if self._ended and event.seq <= self._ended.get(execution_id, -1):
                    continue  # (replayed, and come again by another process's tail)
                if self.workflow_id is not None and not await self._belongs_to_workflow(execution_id):
                    continue
                if event.type in TERMINAL_EXECUTION_EVENTS:
                    self._belongs.pop(execution_id, None)
                yield event
            if self.closed:
                return
            self._wakeup.clear()
            try:
                async with asyncio.timeout(owner.keepalive_seconds):
                    await self._wakeup.wait()
            except TimeoutError:
                yield None

    async def _belongs_to_workflow(self, execution_id: str) -> bool:
        known = self._belongs.get(execution_id)
        if known is None:
            state = self._owner.live.get(execution_id)
            workflow_id = state.workflow_id if state is not None else None
            if workflow_id is None:
                record = await self._owner.history.record(execution_id)
                workflow_id = record.workflow_id if record is not None else None
            known = self._belongs[execution_id] = workflow_id == self.workflow_id
        return known


@dataclass(eq=False, kw_only=True)
class EventStreams:
    """Opens streams: of one execution (until its final event), or of every execution (optionally one
    workflow's, some event types). Refusals come before anything is sent, so the API can answer them."""

    bus: EventBus
    history: ExecutionHistory
    live: LiveView
    keepalive_seconds: float = KEEPALIVE_SECONDS
    buffer: int = CLIENT_BUFFER
    max_streams: int = MAX_STREAMS
    _open: set[Stream] = field(default_factory=set, init=False, repr=False)

    @property
    def open_count(self) -> int:
        return len(self._open)

    async def execution(self, execution_id: str, *, last_event_id: str | None = None) -> Stream | None:
        """The stream of one execution's events, from the first (or after ``last_event_id``) to its final
        event; None when there is nothing left to send (it ended at or before that id). Raises NotFound for an
        unknown execution, Malformed or Invalid for a Last-Event-ID that is not one of its events."""
        after = None if last_event_id is None else parse_cursor(last_event_id)
        if after is not None and after.execution_id != execution_id:
            raise Invalid(
                f'Last-Event-ID {str(after)!r} names an event of another execution than {execution_id!r}',
                at=LAST_EVENT_ID,
            )
        self._check_room()
        stream = Stream(self, execution_id=execution_id, workflow_id=None, types=None, after=after, after_ts=None)
        try:
            live = self.live.get(execution_id)
            record = await self.history.record(execution_id)  # (flushes: the row says what is recorded so far)
            if live is None and record is None:
                raise NotFound(f'execution {execution_id!r} not found')
            if after is not None and after.seq > 0 and await self.history.event_time(execution_id, after.seq) is None:
                raise Invalid(
                    f'Last-Event-ID {str(after)!r} names no recorded event of execution {execution_id!r}',
                    at=LAST_EVENT_ID,
                )
            ended = record is not None and record.status in TERMINAL_EXECUTION_STATUSES
            if ended and after is not None and not await self._events_after(execution_id, after.seq):
                stream.close()  # it ended at the cursor: nothing left
                return None
        except BaseException:
            stream.close()
            raise
        return stream

    async def events(
        self, *, workflow_id: str | None = None, types: str | None = None, last_event_id: str | None = None
    ) -> Stream:
        """The stream of every execution's events (of ``workflow_id``, of the comma-separated ``types``) from now,
        or after ``last_event_id``. Raises Invalid for an unknown type, a ``workflow_id`` no workflow can have (the
        stream would never carry an event; blank: every workflow, as in the execution list), Malformed for a
        malformed id and Invalid for an id that names no recorded event."""
        refused = workflow_filter(workflow_id)
        if refused is not None:
            raise refused
        workflow_id = workflow_id or None
        wanted = parse_types(types)
        after = None if last_event_id is None else parse_cursor(last_event_id)
        self._check_room()
        after_ts = None
        if after is not None:
            after_ts = await self.history.event_time(after.execution_id, after.seq)
            if after_ts is None:
                raise Invalid(
                    f'Last-Event-ID {str(after)!r} names no recorded event (its execution may have been deleted); '
                    'reconnect without it to follow from now',
                    at=LAST_EVENT_ID,
                )
        return Stream(self, execution_id=None, workflow_id=workflow_id, types=wanted, after=after, after_ts=after_ts)

    async def _events_after(self, execution_id: str, seq: int) -> bool:
        return bool(await self.history.events(execution_id, after_seq=seq, limit=1))

    def take_stored(self, events: Sequence[Event]) -> None:
        """Hand every open stream the events of other processes' runs (on one PostgreSQL database), as the event
        tail reads them: a cheap synchronous callback, like a bus subscriber."""
        for stream in list(self._open):
            stream.offer_stored(events)

    def close_all(self) -> None:
        """End every open stream (flowmon is stopping: the server waits for open responses before it stops)."""
        for stream in list(self._open):
            stream.close()

    def _check_room(self) -> None:
        if len(self._open) >= self.max_streams:
            raise Unavailable(f'{self.max_streams} event streams are open already; try again later')

    def _opened(self, stream: Stream) -> None:
        self._open.add(stream)

    def _closed(self, stream: Stream) -> None:
        self._open.discard(stream)
