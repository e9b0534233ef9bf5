"""Several flowmon processes on one PostgreSQL database: what each process keeps in the shared tables.

* :class:`Membership`: the process's lease, a ``processes`` row whose ``heartbeat_at`` is renewed on the database's
  clock. A row older than the lease belongs to a dead process: the first survivor to delete it takes over its
  work. A process that finds its own row gone (paused longer than its lease) has been taken for dead: it must stop
  what it was doing (fencing) and join again under a new id.
* :class:`WriteFence`: the recorder's transactions start by locking the process's own row (``FOR KEY SHARE``), so a
  process whose row was deleted writes nothing more (its executions have been closed by another process), and the
  deletion waits for a write in flight.
* :class:`CancelRequests`: a cancel asked for in another process than the execution's owner is a row update
  (``cancel_requested_at``) plus a notification; the owner acts on either.
* :class:`EventTail`: other processes' executions, followed live by reading their events back as they are
  recorded (woken by the recorder's notification after each write, and by polling) into this process's projector.
* :class:`TickClaims`: one execution per cron tick, by a row per (workflow, scheduled time) that only one process
  can insert.
* :class:`ChangeFeed`: caches of other tables (named secrets, webhook endpoints, workflows, paused schedules) are
  refreshed when another process changed them.

Timestamps compared between processes come from the database's clock (:func:`~flowmon.store.dialect.database_now`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, exists, or_, select, update

from flowmon.engine.core.events import TERMINAL_EXECUTION_EVENTS, Event
from flowmon.engine.core.state import EXECUTION_STATUSES, TERMINAL_EXECUTION_STATUSES
from flowmon.engine.runtime.projector import Projector

from .codec import from_db_time_fast, stored_event, to_db_time
from .database import BulkStatement, Database, Step
from .dialect import database_now, notify_payload, notify_payloads, notify_statement, older_than
from .tables import EventRow, ExecutionRow, ProcessRow, ScheduleTickRow

log = logging.getLogger(__name__)

_processes = ProcessRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_ticks = ScheduleTickRow.__table__  # type: ignore[attr-defined]

EVENTS_CHANNEL = 'flowmon_events'  # after each recorder write: {"p": writer, "e": {execution id: last seq}}
CANCEL_CHANNEL = 'flowmon_cancel'  # a cancel request: the execution id
CHANGES_CHANNEL = 'flowmon_changes'  # {"p": writer, "t": topic, "k": key}: a cached table changed
ACTIVE = [status for status in EXECUTION_STATUSES if status not in TERMINAL_EXECUTION_STATUSES]  # queued, running
TICK_MEMORY = timedelta(days=7)
ENDED_MEMORY = 10_000  # executions of other processes the event tail remembers having read to their end
# changes of one topic waiting to be announced, or refreshes waiting to run, at the most by key (then the topic)
MAX_PENDING = 1000
SWEEP_MAX = 10_000  # executions a sweep reads at the most (the latest)


def new_process_id() -> str:
    return str(uuid.uuid4())


# --- leases -------------------------------------------------------------------------------------------------------


class Membership:
    """This process's row in ``processes``: joined at start, renewed by :meth:`beat`, left at a clean stop.

    ``identity_file`` (in the data directory, which one process holds at a time) remembers the id between runs: a
    process that starts finds the id its previous run left behind after a crash and removes that row at once, so
    a restart closes its own crashed executions without waiting for the lease.
    """

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float,
        identity_file: Path | None = None,
        process_id: str | None = None,
    ) -> None:
        self._db = db
        self.lease_seconds = lease_seconds
        self._identity_file = identity_file
        self.id = process_id or new_process_id()
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.joined = False

    async def join(self) -> str | None:
        """Insert this process's row; returns the id of this data directory's previous run if its row was still
        there (that run crashed: its executions are nobody's now)."""
        previous = self._previous_id()
        gone: str | None = None
        async with self._db.engine.begin() as conn:
            if previous is not None and previous != self.id:
                result = await conn.execute(delete(_processes).where(_processes.c.id == previous))
                gone = previous if result.rowcount else None
            now = database_now()
            await conn.execute(
                _processes.insert().values(id=self.id, host=self.host, pid=self.pid, started_at=now, heartbeat_at=now)
            )
        self._remember()
        self.joined = True
        return gone

    async def rejoin(self) -> str:
        """Join again under a new id (after this process was taken for dead); returns the new id."""
        self.id = new_process_id()
        await self.join()
        return self.id

    async def beat(self) -> bool:
        """Renew the lease; False when the row is gone: another process took this one for dead."""
        query = update(_processes).where(_processes.c.id == self.id).values(heartbeat_at=database_now())
        async with self._db.engine.begin() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def claim_dead(self) -> list[str]:
        """Delete the rows of processes whose lease ran out; returns their ids. Each dead process is claimed by
        exactly one survivor (the first DELETE takes it)."""
        query = (
            delete(_processes)
            .where(_processes.c.id != self.id, older_than(_processes.c.heartbeat_at, self.lease_seconds))
            .returning(_processes.c.id)
        )
        async with self._db.engine.begin() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]

    async def leave(self) -> None:
        """Remove this process's row (a clean stop: nothing of it is left to take over)."""
        if not self.joined:
            return
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(_processes).where(_processes.c.id == self.id))
        self.joined = False
        if self._identity_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self._identity_file.unlink()

    async def members(self) -> list[dict[str, Any]]:
        """Every process with a row, oldest first (for status and tests)."""
        query = select(_processes).order_by(_processes.c.started_at)
        async with self._db.engine.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]

    def _previous_id(self) -> str | None:
        if self._identity_file is None:
            return None
        try:
            text = self._identity_file.read_text(encoding='utf-8').strip()
        except FileNotFoundError:
            return None
        return text if len(text) <= 36 and text else None

    def _remember(self) -> None:
        if self._identity_file is not None:
            self._identity_file.parent.mkdir(parents=True, exist_ok=True)
            self._identity_file.write_text(self.id + '\n', encoding='utf-8')


async def orphaned_executions(db: Database) -> list[tuple[str, str | None]]:
    """Queued and running executions whose owner has no lease (dead, or none recorded): ``(id, owner)``."""
    alive = exists().where(_processes.c.id == _executions.c.owner)
    query = (
        select(_executions.c.id, _executions.c.owner)
        .where(_executions.c.status.in_(ACTIVE), or_(_executions.c.owner.is_(None), ~alive))
        .order_by(_executions.c.created_at)
    )
    async with db.engine.connect() as conn:
        return [(row[0], row[1]) for row in (await conn.execute(query)).all()]


class WriteFence:
    """What the recorder adds to its transactions when processes share the database (see the module docstring):
    the fencing check first, the owner of the executions it creates, and a notification of what it wrote."""

    def __init__(self, db: Database, membership: Membership) -> None:
        self._membership = membership
        check = (
            select(_processes.c.id)
            .where(_processes.c.id == bindparam('b_me'))
            .with_for_update(read=True, key_share=True)
        )
        self._check = db.bulk_statement(check, ('b_me',), name='fencing check', fence=True)
        self._notify = BulkStatement(notify_statement(), ('b_channel', 'b_payload'), db.engine.dialect, name='notify')
        self.fenced: Callable[[], None] = lambda: None  # called when a write found this process's lease gone

    @property
    def owner(self) -> str:
        return self._membership.id

    def check(self) -> Step:
        return (self._check, [(self._membership.id,)])

    def notice(self, last_seq: Mapping[str, int]) -> Step:
        """A notification to the other processes: these executions have events up to these ``seq`` now."""
        payloads = notify_payloads({'p': self._membership.id}, 'e', last_seq)  # a large write: several
        return (self._notify, [(EVENTS_CHANNEL, payload) for payload in payloads])


# --- cancel requests ----------------------------------------------------------------------------------------------


class CancelRequests:
    """Cancels of executions that run in another process (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._notify = notify_statement()

    async def request(self, execution_id: str) -> bool:
        """Ask the owner of a queued or running execution to cancel it; False when there is none such."""
        query = (
            update(_executions)
            .where(
                _executions.c.id == execution_id,
                _executions.c.status.in_(ACTIVE),
                _executions.c.imported_from.is_(None),
            )
            .values(cancel_requested_at=database_now())
        )
        async with self._db.engine.begin() as conn:
            if (await conn.execute(query)).rowcount != 1:
                return False
            await conn.execute(self._notify, {'b_channel': CANCEL_CHANNEL, 'b_payload': execution_id})
        return True

    async def pending(self, owner: str) -> list[str]:
        """The executions of ``owner`` still active with a cancel asked for."""
        query = select(_executions.c.id).where(
            _executions.c.owner == owner,
            _executions.c.cancel_requested_at.is_not(None),
            _executions.c.status.in_(ACTIVE),
        )
        async with self._db.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]


# --- following other processes' executions ------------------------------------------------------------------------


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
            if execution_id not in latest:  # gone (deleted): nothing more to read
                self._read.pop(execution_id, None)
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


# --- cron ticks ---------------------------------------------------------------------------------------------------


class TickClaims:
    """One execution per cron tick when several processes fire the same schedule (see the module docstring)."""

    def __init__(self, db: Database, *, me: Callable[[], str]) -> None:
        self._db = db
        self._me = me
        self._claim = db.insert_ignore(_ticks, ['workflow_id', 'fire_time']).returning(_ticks.c.workflow_id)

    async def claim(self, workflow_id: str, fire_time: datetime, execution_id: str, now: datetime) -> bool:
        """Record the tick of ``workflow_id`` scheduled for ``fire_time`` as this process's, starting
        ``execution_id``; False when another process claimed it first."""
        values = {
            'workflow_id': workflow_id,
            'fire_time': to_db_time(fire_time),
            'owner': self._me(),
            'execution_id': execution_id,
            'claimed_at': to_db_time(now),
        }
        async with self._db.engine.begin() as conn:
            return (await conn.execute(self._claim.values(**values))).first() is not None

    async def prune(self, now: datetime, keep: timedelta = TICK_MEMORY) -> int:
        """Forget ticks scheduled more than ``keep`` ago; returns how many."""
        async with self._db.engine.begin() as conn:
            result = await conn.execute(delete(_ticks).where(_ticks.c.fire_time < to_db_time(now - keep)))
        return int(result.rowcount or 0)


# --- changes of cached tables -------------------------------------------------------------------------------------

Refresh = Callable[[str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Change:
    topic: str
    key: str | None


class _Waiting:
    """Changes waiting (to be sent, or to be applied), each once; at most :data:`MAX_PENDING` of a topic by key,
    then the topic as a whole."""

    def __init__(self) -> None:
        self._changes: set[Change] = set()
        self._by_topic: Counter[str] = Counter()

    def add(self, change: Change) -> Change | None:
        """The change to queue (the whole topic past the bound), or None when it waits already."""
        if change.key is not None and self._by_topic[change.topic] >= MAX_PENDING:
            change = Change(change.topic, None)
        if change in self._changes:
            return None
        self._changes.add(change)
        self._by_topic[change.topic] += 1
        return change

    def discard(self, change: Change) -> None:
        if change in self._changes:
            self._changes.remove(change)
            self._by_topic[change.topic] -= 1


class ChangeFeed:
    """Tells the other processes that a table they cache changed, and refreshes this process's caches when one of
    them says so. Topics are registered with :meth:`on`; a refresh with a ``None`` key means "everything" (after the
    listener (re)connects: notifications sent meanwhile are lost). :meth:`run` sends and applies them in order."""

    def __init__(self, db: Database, *, me: Callable[[], str]) -> None:
        self._db = db
        self._me = me
        self._notify = notify_statement()
        self._refresh: dict[str, Refresh] = {}
        self._inbox: asyncio.Queue[Change] = asyncio.Queue()
        self._outbox: asyncio.Queue[Change] = asyncio.Queue()
        self._queued = _Waiting()  # in the outbox: the same change again needs no second notification
        self._waiting = _Waiting()  # in the inbox: the same refresh again is done by the one waiting
        self._every: dict[str, float] = {}  # topics announced at most once per so many seconds
        self._sent: dict[str, float] = {}  # when each of those was last announced (monotonic)

    def on(self, topic: str, refresh: Refresh, *, every_s: float = 0.0) -> None:
        """Refresh with ``refresh`` when another process changed ``topic``; a change of it made here is announced at
        most once per ``every_s`` seconds (a topic that changes often: the changes meanwhile go in one)."""
        self._refresh[topic] = refresh
        if every_s:
            self._every[topic] = every_s

    def announce(self, topic: str, key: str | None = None) -> None:
        """``topic`` (``key`` of it) changed here, committed: the other processes are told (by :meth:`run`; once for
        the changes announced until it is sent). Past :data:`MAX_PENDING` changes waiting (the database slow to
        take them), a change is announced as one of the whole topic."""
        change = self._queued.add(Change(topic, key))
        if change is not None:
            self._outbox.put_nowait(change)

    async def publish(self, topic: str, key: str | None = None) -> None:
        """Tell the other processes now that ``topic`` (``key`` of it) changed here."""
        me = self._me()
        payload = notify_payload({'p': me, 't': topic, 'k': key}, {'p': me, 't': topic, 'k': None})
        async with self._db.engine.begin() as conn:
            await conn.execute(self._notify, {'b_channel': CHANGES_CHANNEL, 'b_payload': payload})

    def received(self, payload: str | None) -> None:
        """The listener's handler: queue the refresh a notification asks for (``None``: refresh everything)."""
        if payload is None:
            for topic in self._refresh:
                self._take(Change(topic, None))
            return
        try:
            change = json.loads(payload)
        except ValueError:
            return
        if not isinstance(change, dict) or change.get('p') == self._me() or change.get('t') not in self._refresh:
            return
        key = change.get('k')
        self._take(Change(str(change['t']), key if isinstance(key, str) else None))

    def _take(self, change: Change) -> None:
        taken = self._waiting.add(change)  # (refreshes far behind: the whole topic is read again instead)
        if taken is not None:
            self._inbox.put_nowait(taken)

    async def run(self) -> None:
        """Send what :meth:`announce` queued and apply the refreshes others asked for, until cancelled."""
        await asyncio.gather(self._send(), self._apply())

    async def _send(self) -> None:
        while True:
            change = await self._outbox.get()
            every = self._every.get(change.topic)
            if every is not None:  # (still queued meanwhile: what changes meanwhile goes with it)
                await asyncio.sleep(max(0.0, self._sent.get(change.topic, -every) + every - time.monotonic()))
                self._sent[change.topic] = time.monotonic()
            self._queued.discard(change)  # a change from now on is announced again
            try:
                await self.publish(change.topic, change.key)
            except Exception:
                log.exception('could not tell the other processes that %s changed', change.topic)

    async def settled(self) -> None:
        """Wait until every refresh asked for so far has been applied (the listener asks for a refresh of everything
        each time it connects, the first time included)."""
        await self._inbox.join()

    async def _apply(self) -> None:
        while True:
            change = await self._inbox.get()
            self._waiting.discard(change)  # a change from now on is refreshed again
            try:
                await self._refresh[change.topic](change.key)
            except Exception:
                log.exception('could not refresh %s after another process changed it', change.topic)
            finally:
                self._inbox.task_done()


__all__ = [
    'CANCEL_CHANNEL',
    'CHANGES_CHANNEL',
    'EVENTS_CHANNEL',
    'CancelRequests',
    'ChangeFeed',
    'EventTail',
    'Membership',
    'TickClaims',
    'WriteFence',
    'orphaned_executions',
    'parse_events_notice',
]
