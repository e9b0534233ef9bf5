"""Workflows' inbound trigger secrets, sealed in ``workflow_automation`` (never in the workflow definition).

A workflow that accepts triggers has its secret from the moment it is stored so: :meth:`TriggerSecrets.issue` runs
in the transaction that stores the definition (saved, created, loaded from a file), and at start-up for a workflow
an earlier flowmon stored without one. Reading a secret issues nothing. A workflow stored no longer accepting
triggers keeps its secret (switched on again, its senders keep working), and the same transaction records beside it
that the trigger is off (:meth:`TriggerSecrets.switch_off`): the row alone tells whether a call may start anything.
Of two processes sharing the database that issue at once, the first one's secret stays (the second gives way to a
row or a secret already there), and a rotation replaces only the secret it read, so two rotations at once make one
(the replaced secret keeping the shorter of their graces).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.infra.secretbox import SecretBox
from flowmon.infra.signing import new_secret

from .codec import from_db_time, to_db_time
from .database import Database
from .webhook_tables import automation


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredSecrets:
    """A workflow's trigger secrets, opened: the current one and the previous one with the end of its grace; and
    whether the definition stored with them accepts triggers."""

    secret: str | None
    previous_secret: str | None
    previous_expires_at: datetime | None
    trigger_enabled: bool


class TriggerSecrets:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db, self._box = db, box

    async def issue(self, conn: AsyncConnection, workflow_id: str, since: datetime) -> bool:
        """Give ``workflow_id`` a trigger secret unless it has one, and mark its trigger on, in the caller's
        transaction (the one storing a definition that accepts triggers); whether it got a secret here. A new
        automation row is dated ``since``, when the stored definition took effect: a first secret is no change that a
        schedule's catch-up must heed (a rotation, a pause are)."""
        sealed = self._box.seal_row(automation, workflow_id, {'trigger_secret': new_secret()})
        row = {'workflow_id': workflow_id, 'updated_at': to_db_time(since), 'trigger_enabled': True, **sealed}
        if (await conn.execute(self._db.insert_ignore(automation, ['workflow_id']).values(**row))).rowcount:
            return True
        this = automation.c.workflow_id == workflow_id
        lacking = this & automation.c.trigger_secret.is_(None)
        if (await conn.execute(automation.update().where(lacking).values(trigger_enabled=True, **sealed))).rowcount:
            return True
        await conn.execute(automation.update().where(this, ~automation.c.trigger_enabled).values(trigger_enabled=True))
        return False

    async def switch_off(self, conn: AsyncConnection, workflow_id: str) -> None:
        """Mark the trigger of ``workflow_id`` off, in the caller's transaction (the one storing a definition that
        does not accept triggers). Its secret stays: stored accepting triggers again, it works again."""
        on = (automation.c.workflow_id == workflow_id) & automation.c.trigger_enabled
        await conn.execute(automation.update().where(on).values(trigger_enabled=False))

    async def issue_missing(self, workflows: Iterable[tuple[str, datetime]]) -> list[str]:
        """:meth:`issue` to each of ``workflows`` (id, stored since: workflows that accept triggers) that has no
        secret or whose trigger is not marked on; the ids that got a secret."""
        wanted = dict(workflows)
        if not wanted:
            return []
        query = select(automation.c.workflow_id).where(
            automation.c.workflow_id.in_(list(wanted)),
            automation.c.trigger_secret.is_not(None),
            automation.c.trigger_enabled,
        )
        async with self._db.engine.begin() as conn:
            having = {row[0] for row in (await conn.execute(query)).all()}
            return [
                workflow_id
                for workflow_id in sorted(set(wanted) - having)
                if await self.issue(conn, workflow_id, wanted[workflow_id])
            ]

    async def read(self, workflow_id: str) -> StoredSecrets | None:
        """The workflow's trigger secrets, opened (None: no automation row)."""
        row = await self._raw(workflow_id)
        return None if row is None else self._opened(workflow_id, row)

    async def rotate(self, workflow_id: str, now: datetime, expires_at: datetime) -> StoredSecrets | None:
        """Make a new secret current, the current one previous until ``expires_at``; the secrets then (None: the
        workflow has no secret to rotate). A rotation made meanwhile by another caller stands for this one too: its
        secrets are returned, and the secret both replaced keeps the shorter of their graces (one asking for none,
        after a leak, stops it at once)."""
        row = await self._raw(workflow_id)
        if row is None or row['trigger_secret'] is None:
            return None
        current, secret = self._opened(workflow_id, row), new_secret()
        values = {
            'trigger_secret': secret,
            'previous_trigger_secret': current.secret,
            'previous_trigger_secret_expires_at': to_db_time(expires_at),
        }
        read = (automation.c.workflow_id == workflow_id) & (automation.c.trigger_secret == row['trigger_secret'])
        change = (
            automation.update()
            .where(read)
            .values(updated_at=to_db_time(now), **self._box.seal_row(automation, workflow_id, values))
        )
        async with self._db.engine.begin() as conn:
            rotated = (await conn.execute(change)).rowcount
        if rotated:
            return replace(current, secret=secret, previous_secret=current.secret, previous_expires_at=expires_at)
        return await self._sooner(workflow_id, current.secret, expires_at)

    async def _sooner(self, workflow_id: str, replaced: str | None, expires_at: datetime) -> StoredSecrets | None:
        """The secrets after a rotation made meanwhile, which replaced ``replaced`` too: that secret stops at
        ``expires_at`` when that is sooner than the other rotation gave it (a rotation after a leak stops it at once
        whichever of the two wrote the new secret)."""
        row = await self._raw(workflow_id)
        if row is None:
            return None
        stored = self._opened(workflow_id, row)
        later = stored.previous_expires_at is None or stored.previous_expires_at > expires_at
        if stored.previous_secret is None or stored.previous_secret != replaced or not later:
            return stored
        same = (automation.c.workflow_id == workflow_id) & (automation.c.trigger_secret == row['trigger_secret'])
        change = automation.update().where(same).values(previous_trigger_secret_expires_at=to_db_time(expires_at))
        async with self._db.engine.begin() as conn:
            if (await conn.execute(change)).rowcount:
                return replace(stored, previous_expires_at=expires_at)
        return await self.read(workflow_id)

    async def _raw(self, workflow_id: str) -> dict[str, Any] | None:
        query = select(
            automation.c.trigger_secret,
            automation.c.previous_trigger_secret,
            automation.c.previous_trigger_secret_expires_at,
            automation.c.trigger_enabled,
        ).where(automation.c.workflow_id == workflow_id)
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else dict(row._mapping)

    def _opened(self, workflow_id: str, row: dict[str, Any]) -> StoredSecrets:
        opened = self._box.open_row(automation, workflow_id, row)
        return StoredSecrets(
            secret=opened['trigger_secret'],
            previous_secret=opened['previous_trigger_secret'],
            previous_expires_at=from_db_time(opened['previous_trigger_secret_expires_at']),
            trigger_enabled=bool(row['trigger_enabled']),
        )
