"""Named secrets: values that node configs refer to with ``{"$secret": "<name>"}``, sealed in the database.

Values are write-only from the outside: :meth:`SecretStore.list` gives names and times, never a value. The
engine gets them through :meth:`SecretStore.resolve` when a node that names them runs. The store keeps the
opened values in memory (loaded at start-up, changed with every write, loaded again when another process sharing the
database changed them), so resolving costs no query and the log filter (:mod:`flowmon.infra.logredact`) can hide
them from every log line.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.payload_values import MAX_KEY_CHARS_SHOWN, bounded_text
from flowmon.engine.runtime.secret_refs import SECRET_NAME_PATTERN, SecretMissing
from flowmon.infra.secretbox import SecretBox, aad
from flowmon.store.codec import from_db_time

from . import dialect
from .database import Database
from .tables import SecretRow

MAX_SECRET_CHARS = 16 * 1024
MAX_SECRETS = 500
_NAME = re.compile(SECRET_NAME_PATTERN)
_table = SecretRow.__table__  # type: ignore[attr-defined]


class SecretInvalid(ValueError):
    """A name or value that cannot be stored; the message names the problem (never the value)."""


class TooManySecrets(RuntimeError):
    """The store holds :data:`MAX_SECRETS` already."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretInfo:
    """What may be shown of a secret: its name and when it was created and last replaced."""

    name: str
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, str]:
        return {'name': self.name, 'created_at': self.created_at.isoformat(), 'updated_at': self.updated_at.isoformat()}


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        shown = bounded_text(name, MAX_KEY_CHARS_SHOWN)
        raise SecretInvalid(f'secret name {shown!r} must match {SECRET_NAME_PATTERN} (letters, digits, _ . -; 1-64)')


def check_value(value: str) -> None:
    if not value:
        raise SecretInvalid('the value must not be empty')
    if len(value) > MAX_SECRET_CHARS:
        raise SecretInvalid(f'the value is {len(value)} characters long; at most {MAX_SECRET_CHARS} are allowed')
    if '\x00' in value:
        raise SecretInvalid('the value must not contain NUL characters')
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise SecretInvalid('the value is not valid Unicode text (it holds a lone surrogate)') from None


class SecretStore:
    def __init__(self, db: Database, box: SecretBox, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._box = box
        self._clock = clock
        self._values: dict[str, str] = {}
        self._info: dict[str, SecretInfo] = {}
        self._lock = asyncio.Lock()  # writes and loads one at a time (two writes of one name: one inserts)
        self.version = 0  # moves on every change (pages re-read when it moved)
        # called after a change made here (other processes sharing the database then load the secrets again)
        self.announce: Callable[[], None] = lambda: None

    async def load(self) -> None:
        """Read (and open) every secret: at start-up, after the sealed values were checked, and when another process
        changed one. Under the writes' lock: a change made here while the rows are read must not be undone by
        installing that older read."""
        async with self._lock:
            async with self._db.engine.connect() as conn:
                rows = (await conn.execute(select(_table).order_by(_table.c.name))).all()
            self._values = {row.name: self._box.open(row.value, aad(_table.name, row.name, 'value')) for row in rows}
            self._info = {row.name: _info(row.name, row.created_at, row.updated_at) for row in rows}
            self.version += 1

    def list(self) -> list[SecretInfo]:
        """Names and times, by name; never a value."""
        return [self._info[name] for name in sorted(self._info)]

    def names(self) -> frozenset[str]:
        return frozenset(self._info)

    def values(self) -> tuple[str, ...]:
        """Every value (the log filter hides them)."""
        return tuple(self._values.values())

    def get(self, name: str) -> SecretInfo | None:
        return self._info.get(name)

    async def put(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create or replace; returns the secret's info and whether it was created."""
        check_name(name)
        if name in ('.', '..') and name not in self._info:  # (one stored before this rule may still be replaced)
            raise SecretInvalid(f'secret name {name!r} cannot be used: /api/secrets/{name} is not a URL clients keep')
        check_value(value)
        async with self._lock:
            return await self._put(name, value)

    async def _put(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Whether the secret exists, and how many there are, is asked of the database, not of what this process
        read last: another process sharing it may have created or deleted the secret a moment ago (its announcement
        not read here yet). Two processes creating one name at once: the second to write replaces."""
        now = self._clock()
        sealed = self._box.seal_field(_table.name, name, 'value', value)
        for attempt in range(2):
            try:
                created_at = await self._write(name, sealed, now)
                break
            except IntegrityError:  # created by another process between the read and the insert: replace it
                if attempt:
                    raise
        info = SecretInfo(name=name, created_at=created_at or now, updated_at=now)
        self._values[name], self._info[name] = value, info
        self.version += 1
        self.announce()
        return info, created_at is None

    async def _write(self, name: str, sealed: str | None, now: datetime) -> datetime | None:
        """Insert or replace the row; returns when the replaced secret was created (None: created now). The count
        and the insert are one step for every process that shares the database (:func:`~flowmon.store.dialect.
        take_turn`), so processes creating secrets together stop at :data:`MAX_SECRETS` too."""
        async with self._db.engine.begin() as conn:
            await dialect.take_turn(conn, dialect.SECRETS_LOCK_KEY)
            stored = (await conn.execute(select(_table.c.created_at).where(_table.c.name == name))).first()
            if stored is None:
                count = (await conn.execute(select(func.count()).select_from(_table))).scalar_one()
                if count >= MAX_SECRETS:
                    raise TooManySecrets(f'at most {MAX_SECRETS} secrets can be stored; delete one first')
                await conn.execute(_table.insert().values(name=name, value=sealed, created_at=now, updated_at=now))
                return None
            await conn.execute(_table.update().where(_table.c.name == name).values(value=sealed, updated_at=now))
            return from_db_time(stored.created_at)

    async def delete(self, name: str) -> bool:
        async with self._lock, self._db.engine.begin() as conn:
            result = await conn.execute(delete(_table).where(_table.c.name == name))
        self._values.pop(name, None)
        self._info.pop(name, None)
        self.version += 1
        self.announce()
        return bool(result.rowcount)

    async def stored(self, names: Collection[str]) -> frozenset[str]:
        """Which of ``names`` the database holds (not what this process read last)."""
        if not names:
            return frozenset()
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(select(_table.c.name).where(_table.c.name.in_(sorted(names))))
            return frozenset(row.name for row in rows)

    async def read_again_if_stored(self, names: Collection[str]) -> bool:
        """Read every secret again when the database holds one of ``names`` that this process does not know yet
        (another process sharing it created it a moment ago); returns whether it did."""
        if not await self.stored([name for name in names if name not in self._values]):
            return False
        await self.load()
        return True

    async def resolve(self, names: Collection[str]) -> dict[str, str]:
        """The values of ``names`` (the engine's resolver); raises ``SecretMissing`` naming the missing ones. A name
        this process does not know is looked for in the database first (created through another process a moment
        ago)."""
        missing = sorted(name for name in names if name not in self._values)
        if missing and await self.read_again_if_stored(missing):
            missing = sorted(name for name in names if name not in self._values)
        if missing:
            listed = ', '.join(repr(name) for name in missing)
            raise SecretMissing(f'secret {listed} does not exist (deleted after the workflow was saved?)')
        return {name: self._values[name] for name in names}


def _info(name: str, created_at: datetime, updated_at: datetime) -> SecretInfo:
    return SecretInfo(name=name, created_at=from_db_time(created_at), updated_at=from_db_time(updated_at))  # type: ignore[arg-type]
