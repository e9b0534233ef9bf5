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
* :class:`TickClaims`: one execution per cron tick, by a row per (workflow, scheduled time) that only one process
  can insert.

Other processes' executions are followed live by :mod:`flowmon.store.event_tail`; caches of other tables are
refreshed by :mod:`flowmon.store.change_feed`.

Timestamps compared between processes come from the database's clock (:func:`~flowmon.store.dialect.database_now`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, exists, or_, select, update

from flowmon.engine.core.state import EXECUTION_STATUSES, TERMINAL_EXECUTION_STATUSES

from .codec import to_db_time
from .database import BulkStatement, Database, Step
from .dialect import database_now, notify_payloads, notify_statement, older_than
from .tables import ExecutionRow, ProcessRow, ScheduleTickRow

_processes = ProcessRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_ticks = ScheduleTickRow.__table__  # type: ignore[attr-defined]

EVENTS_CHANNEL = 'flowmon_events'  # after each recorder write: {"p": writer, "e": {execution id: last seq}}
CANCEL_CHANNEL = 'flowmon_cancel'  # a cancel request: the execution id
ACTIVE = [status for status in EXECUTION_STATUSES if status not in TERMINAL_EXECUTION_STATUSES]  # queued, running
TICK_MEMORY = timedelta(days=7)


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


__all__ = [
    'CANCEL_CHANNEL',
    'EVENTS_CHANNEL',
    'CancelRequests',
    'Membership',
    'TickClaims',
    'WriteFence',
    'orphaned_executions',
]
