"""Several flowmon processes on one PostgreSQL database: other processes' executions, followed live.

:class:`EventTail` reads other processes' executions back as their events are recorded (woken by the recorder's
notification after each write, which :func:`parse_events_notice` reads, and by polling) into this process's projector.

Timestamps compared between processes come from the database's clock (:func:`~flowmon.store.dialect.database_now`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import or_, select

from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS, Event
from flowmon.engine.runtime.projector import Projector

from .cluster import ACTIVE
from .codec import from_db_time_fast, stored_event, to_db_time
from .database import Database
from .dialect import database_now
from .tables import EventRow, ExecutionRow

log = logging.getLogger('flowmon.store.cluster')  # the name these messages have always been logged under

_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]

ENDED_MEMORY = 10_000  # executions of other processes the event tail remembers having read to their end
SWEEP_MAX = 10_000  # executions a sweep reads at the most (the latest)


class EventTail:
    """Feeds ``projector`` the events of executions that other processes run, as they are recorded.

    :meth:`notified` (the recorder's notification after each write: which executions have events up to which
    ``seq``) reads those events at once; :meth:`poll` finds what a lost notification would have announced (every
    queued or running execution of another process whose ``last_seq`` is past what was read), and :meth:`sweep`
    the executions that began and ended while notifications were lost (the listener reconnected). An execution is
    read from its first event, then only what is new; it is let go once its terminal event has been read (and its id
    remembered a while, so that a sweep does not read it again).
    """

    def __init__(self, db: Database, projector: Projector, *, me: Callable[[], str], batch: int = 5000) -> None:
        self._db = db
        self._projector = projector
        self._me = me
        self.batch = batch
        self._read: dict[str, int] = {}  # followed executions: the last seq read
        self._ended: OrderedDict[str, None] = OrderedDict()  # read to their end, newest last (ENDED_MEMORY of them)
        self._lock = asyncio.Lock()
        self.events_read = 0
        # also told of every event read (the event streams follow other processes' runs through them): cheap
        # synchronous callbacks, like the bus's
        self.listeners: list[Callable[[Sequence[Event]], None]] = []
        # called with each execution followed (not read to its end) that a poll finds deleted: its owner deleted it
        # before this tail read its end, and the news of it may have been lost (the live projection would otherwise
        # hold it as running)
        self.gone: Callable[[str], None] = lambda _execution_id: None

    @property
    def following(self) -> frozenset[str]:
        return frozenset(self._read)

    async def notified(self, latest: Mapping[str, int]) -> int:
        """Read the events announced by another process's write; returns how many were taken."""
        wanted = {
            execution_id: seq
            for execution_id, seq in latest.items()
            if seq > self._read.get(execution_id, 0) and execution_id not in self._ended  # (read to its end already)
        }
        return await self._catch_up(wanted) if wanted else 0

    async def poll(self) -> int:
        """Read whatever is new of the executions other processes run (and of those followed that have ended)."""
        me = self._me()
        active = select(_executions.c.id, _executions.c.last_seq).where(
            _executions.c.status.in_(ACTIVE), _executions.c.owner.is_not(None), _executions.c.owner != me
        )
        async with self._db.engine.connect() as conn:
            latest = {row[0]: row[1] for row in (await conn.execute(active)).all()}
            ended = [execution_id for execution_id in self._read if execution_id not in latest]
            if ended:
                query = select(_executions.c.id, _executions.c.last_seq).where(_executions.c.id.in_(ended))
                latest.update({row[0]: row[1] for row in (await conn.execute(query)).all()})
        for execution_id in ended:
            if execution_id not in latest:  # gone (deleted): nothing more to read, and nothing to show
                self._read.pop(execution_id, None)
                self.gone(execution_id)
        return await self.notified(latest)

    async def sweep(self, seconds: float) -> int:
        """Read the executions of other processes created in the last ``seconds`` (by the database's clock against
        their hosts': keep the clocks synchronised) that were never read to their end: after the listener reconnected,
        those that began and ended meanwhile (no poll sees them: it looks for active ones). At most the latest
        :data:`SWEEP_MAX`. Returns how many events were taken."""
        me = self._me()
        async with self._db.engine.connect() as conn:
            now = (await conn.execute(select(database_now()))).scalar_one()
            query = (
                select(_executions.c.id, _executions.c.last_seq)
                .where(
                    _executions.c.created_at >= to_db_time(from_db_time_fast(now) - timedelta(seconds=seconds)),
                    _executions.c.owner.is_not(None),
                    _executions.c.owner != me,
                )
                .order_by(_executions.c.created_at.desc())
                .limit(SWEEP_MAX)
            )
            rows = (await conn.execute(query)).all()
        if len(rows) == SWEEP_MAX:
            log.warning(
                'the listener was away long: only the latest %d executions of other processes are read', SWEEP_MAX
            )
        return await self.notified({row[0]: row[1] for row in rows})

    async def _catch_up(self, wanted: Mapping[str, int]) -> int:
        """Read every execution of ``wanted`` up to its ``seq`` (100 executions and ``batch`` events a query, as many
        queries as that takes: a long run must not starve the others, which may end before another round finds
        them)."""
        async with self._lock:
            taken = 0
            ids = sorted(wanted)
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                while chunk:
                    conditions = [
                        (_events.c.execution_id == execution_id) & (_events.c.seq > self._read.get(execution_id, 0))
                        for execution_id in chunk
                    ]
                    query = (
                        select(_events.c.execution_id, _events.c.seq, _events.c.type, _events.c.node_id, _events.c.ts)
                        .add_columns(_events.c.data)
                        .where(or_(*conditions))
                        .order_by(_events.c.execution_id, _events.c.seq)
                        .limit(self.batch)
                    )
                    async with self._db.engine.connect() as conn:
                        rows = (await conn.execute(query)).all()
                    # (with their stored text: the live projection counts their size by it, as it does its own runs')
                    events = [stored_event(*row, keep_text=True) for row in rows]
                    taken += self._projector.take_stored(events)
                    for listener in self.listeners:
                        listener(events)
                    ended: set[str] = set()
                    for event in events:
                        self._read[event.execution_id] = event.seq
                        if event.type in TERMINAL_EXECUTION_EVENTS:
                            self._read.pop(event.execution_id, None)
                            ended.add(event.execution_id)
                            self._ended[event.execution_id] = None
                            if len(self._ended) > ENDED_MEMORY:
                                self._ended.popitem(last=False)
                    self.events_read += len(events)
                    if len(rows) < self.batch:
                        break  # everything there is of the chunk
                    chunk = [key for key in chunk if key not in ended and self._read.get(key, 0) < wanted[key]]
            return taken


def parse_events_notice(payload: str, me: str) -> dict[str, int] | None:
    """The executions a recorder's notification announces (None: one from this process, or unreadable; an empty
    dict: none listed (as an older flowmon said "too many"), poll)."""
    try:
        notice = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(notice, dict) or notice.get('p') == me:
        return None
    latest = notice.get('e')
    if not isinstance(latest, dict):
        return {}
    return {str(key): value for key, value in latest.items() if isinstance(value, int)}


__all__ = ['EventTail', 'parse_events_notice']
