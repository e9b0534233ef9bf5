"""The async database: engine creation, dialect set-up, schema upgrades (locking), the hot path's bulk inserts, and
the storage questions whose answers differ by dialect (size, giving freed space back, insert-if-absent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

from flowmon.store import webhook_tables as _webhook_tables  # noqa: F401  (registers the webhook tables too)

from . import migrate, tables  # noqa: F401  (tables registers the tables on SQLModel.metadata)
from .codec import to_db_time

TimeEncoder = Callable[[datetime | None], Any]
# pg_advisory_xact_lock key for schema upgrades ('flowmon' in ASCII): one process migrates, the others wait.
SCHEMA_LOCK_KEY = 0x666C6F776D6F6E

# PRAGMA auto_vacuum value of a SQLite file that gives freed pages back with PRAGMA incremental_vacuum(N)
SQLITE_INCREMENTAL_VACUUM = 2

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class StorageSize:
    """How much room the database takes: ``bytes`` on disk (SQLite: the file and its write-ahead log), and of those
    ``free_bytes`` that hold nothing (pages freed by deletes, not yet given back; None where the database keeps its
    own account, as PostgreSQL does)."""

    bytes: int
    free_bytes: int | None


class Database:
    """Owns the SQLAlchemy async engine. ``start`` brings the schema up to date; ``stop`` disposes the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    @property
    def display_url(self) -> str:
        """The URL without its password: what status pages and logs may show."""
        url = make_url(self.url)
        return url._replace(password=None).render_as_string(hide_password=False)  # URL is a NamedTuple

    def insert_ignore(self, table: Table, key: Sequence[str]) -> Insert:
        """An INSERT into ``table`` that does nothing for a row whose ``key`` columns are taken (on either dialect)."""
        insert = postgresql.insert if self.engine.dialect.name == 'postgresql' else sqlite.insert
        return insert(table).on_conflict_do_nothing(index_elements=list(key))

    def upsert(self, table: Table, key: Sequence[str], columns: Sequence[str]) -> Insert:
        """An INSERT into ``table`` that, for a row whose ``key`` columns are taken, sets ``columns`` to the new values
        instead (``ON CONFLICT DO UPDATE`` of either dialect)."""
        insert = postgresql.insert if self.engine.dialect.name == 'postgresql' else sqlite.insert
        statement = insert(table)
        return statement.on_conflict_do_update(
            index_elements=list(key), set_={column: statement.excluded[column] for column in columns}
        )

    def bulk_insert(self, table: Table, columns: Sequence[str]) -> BulkInsert:
        """An executemany INSERT of pre-encoded rows into ``columns`` of ``table`` (see :class:`BulkInsert`)."""
        return BulkInsert(table, columns, self.engine.dialect)

    def bulk_statement(self, statement: Any, keys: Sequence[str], *, name: str) -> BulkStatement:
        """An executemany UPDATE or DELETE of pre-encoded rows, bound in ``keys`` order (see :class:`BulkStatement`)."""
        return BulkStatement(statement, keys, self.engine.dialect, name=name)

    def bulk_writer(self) -> BulkWriter:
        """Runs steps of bulk statements in one transaction (see :class:`BulkWriter`)."""
        return BulkWriter(self)

    async def start(self) -> migrate.MigrationReport:
        """Upgrade the schema to the newest revision (Alembic ``upgrade head``); logs what changed. A SQLite file made
        without incremental vacuum is switched to it (once: a ``VACUUM`` rewrites the file)."""
        report = await self.upgrade()
        if report.changed:
            for line in report.lines():
                log.info('database schema: %s', line)
        await self._use_incremental_vacuum()
        return report

    async def _use_incremental_vacuum(self) -> None:
        """SQLite decides when a file is created whether freed pages can be given back in steps: the connection
        set-up asks for it (``PRAGMA auto_vacuum=INCREMENTAL``, before any table exists), and a file made before
        that (by an earlier flowmon) takes a one-time ``VACUUM`` to switch. Other databases reuse freed space."""
        if not self.is_sqlite:
            return
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
            mode = (await conn.exec_driver_sql('PRAGMA auto_vacuum')).scalar_one()
            if mode == SQLITE_INCREMENTAL_VACUUM:
                return
            log.info('database: switching the SQLite file to incremental vacuum (a one-time VACUUM)')
            await conn.exec_driver_sql(f'PRAGMA auto_vacuum={SQLITE_INCREMENTAL_VACUUM}')
            await conn.exec_driver_sql('VACUUM')

    async def size(self) -> StorageSize:
        """The room the database takes now (see :class:`StorageSize`)."""
        if self.is_sqlite:
            async with self.engine.connect() as conn:
                page_size = (await conn.exec_driver_sql('PRAGMA page_size')).scalar_one()
                pages = (await conn.exec_driver_sql('PRAGMA page_count')).scalar_one()
                free = (await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one()
            path = self._sqlite_path()
            on_disk = pages * page_size if path is None else _file_size(path) + _file_size(Path(f'{path}-wal'))
            return StorageSize(bytes=on_disk, free_bytes=free * page_size)
        if self.engine.dialect.name == 'postgresql':
            async with self.engine.connect() as conn:
                used = (await conn.execute(select(func.pg_database_size(func.current_database())))).scalar_one()
            return StorageSize(bytes=int(used), free_bytes=None)
        return StorageSize(bytes=0, free_bytes=None)

    async def free_pages(self) -> int:
        """SQLite: pages that deletes freed and the file still holds (0 elsewhere)."""
        if not self.is_sqlite:
            return 0
        async with self.engine.connect() as conn:
            return int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())

    async def give_back(self, pages: int) -> int:
        """SQLite: give up to ``pages`` free pages back to the file system (``PRAGMA incremental_vacuum(N)``, one
        short write transaction); returns how many were given back (0 elsewhere: PostgreSQL's autovacuum reuses
        freed space on its own). The file shrinks when the write-ahead log is next checkpointed."""
        if not self.is_sqlite or pages < 1:
            return 0
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
            before = int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())
            raw = await conn.get_raw_connection()
            # executescript steps the pragma to its end; a plain execute frees a single page
            await raw.driver_connection.executescript(f'PRAGMA incremental_vacuum({int(pages)});')  # type: ignore[union-attr]
            after = int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())
        return max(0, before - after)

    async def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the file as far as readers allow, without waiting for anyone
        (``PRAGMA wal_checkpoint(PASSIVE)``); when it gets to the end, the file takes its new, smaller size."""
        if not self.is_sqlite:
            return
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
            await conn.exec_driver_sql('PRAGMA wal_checkpoint(PASSIVE)')

    async def upgrade(self, revision: str = 'head') -> migrate.MigrationReport:
        """Bring the schema to ``revision`` in one transaction that holds the schema lock (see :func:`migrate.upgrade`;
        raises :class:`migrate.SchemaError` when that cannot be done)."""
        migrate.resolve(revision)  # an unknown revision is refused before anything is created
        self._make_directory()
        async with self._schema_transaction() as conn:
            return await conn.run_sync(migrate.upgrade, revision)

    async def revision(self) -> str | None:
        """The schema revision of the database; None when it is empty, missing, or made before migrations."""
        path = self._sqlite_path()
        if path is not None and not path.exists():
            return None  # do not create a database file just to say there is none
        async with self.engine.connect() as conn:
            return await conn.run_sync(migrate.current_revision)

    @asynccontextmanager
    async def _schema_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only one process at a time holds, with transactional DDL on both dialects.

        PostgreSQL: a transaction-scoped advisory lock (released by the commit). SQLite: ``BEGIN IMMEDIATE`` takes
        the write lock at once; it also makes the DDL transactional, which Python's sqlite3 driver otherwise does
        not (it opens a transaction only before INSERT, UPDATE and DELETE, so a failed migration would leave
        half its tables behind).
        """
        async with self.engine.begin() as conn:
            if self.is_sqlite:
                await conn.exec_driver_sql('BEGIN IMMEDIATE')
            elif conn.dialect.name == 'postgresql':
                await conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            yield conn

    def _sqlite_path(self) -> Path | None:
        """The database file, for a file-based SQLite database."""
        url = make_url(self.url)
        if url.get_backend_name() != 'sqlite' or not url.database or url.database == ':memory:':
            return None
        return Path(url.database)

    def _make_directory(self) -> None:
        path = self._sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        await self.engine.dispose()

    async def scrub(self) -> None:
        """Leave no old row content in the files: after plain secrets were sealed in place or a key rotation.

        SQLite keeps overwritten content in free space and in the write-ahead log until something reuses it;
        ``VACUUM`` rewrites the database file and a truncating checkpoint empties the log. Other databases
        manage their own storage: nothing to do here.
        """
        if not self.is_sqlite:
            return
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
            await conn.exec_driver_sql('VACUUM')
            await conn.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)')


class BulkStatement:
    """An executemany statement (an INSERT, or an UPDATE or DELETE with bind parameters) of pre-encoded rows.

    Rows are tuples in ``keys`` order (column names of an INSERT, bind parameter names otherwise) whose values
    are already what the driver takes: text for JSON columns, and timestamps encoded with :attr:`encode_time`.
    On SQLite (aiosqlite) the statement is compiled once and the rows go straight to the driver's executemany:
    none of SQLAlchemy's per-row parameter processing (a dict per row, a bind processor per value), which cost
    more than the insert itself. Other dialects take Core's executemany, where the column types encode the
    values as usual.
    """

    def __init__(self, statement: Any, keys: Sequence[str], dialect: Dialect, *, name: str) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self.name = name
        # How a timestamp goes into a row: what the column type would bind it as.
        self.encode_time: TimeEncoder = to_db_time
        self.driver_sql: str | None = None
        if dialect.name == 'sqlite' and dialect.driver == 'aiosqlite':
            is_insert = getattr(statement, 'is_insert', False)
            compiled = statement.compile(dialect=dialect, column_keys=list(self.keys) if is_insert else None)
            if tuple(compiled.positiontup or ()) != self.keys:
                raise ValueError(f'{name}: parameters {compiled.positiontup} are not in the order {self.keys}')
            self.driver_sql = str(compiled)
            self.encode_time = sqlite_time

    def core_parameters(self, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in rows]


class BulkInsert(BulkStatement):
    """INSERT many rows in one executemany: the recorder's hot path (every event of every execution)."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        super().__init__(table.insert(), columns, dialect, name=f'insert into {table.name}')


Step = tuple[BulkStatement, Sequence[tuple[Any, ...]]]


class BulkWriter:
    """Runs executemany steps of pre-encoded rows in one transaction, all or nothing.

    On SQLite (aiosqlite) the whole transaction is one trip to the driver's thread: every step's executemany
    and the commit (or the rollback) run there back to back. A trip costs about as much as inserting 25 rows
    (a thread wake-up each way), and going through SQLAlchemy's connection costs a trip per statement, one
    for the commit and one for the pool's reset. Between :meth:`open` and :meth:`close` the writer keeps a
    connection of its own (the recorder's, for its lifetime), so that a write is exactly one trip; otherwise
    each write checks one out of the pool. Elsewhere the steps run through Core in ``engine.begin()``.
    Errors are raised as Core raises them (``IntegrityError`` for a taken key, and so on).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        dialect = db.engine.dialect
        self._driver_level = dialect.name == 'sqlite' and dialect.driver == 'aiosqlite'
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error if self._driver_level else Exception
        self._held: AsyncConnection | None = None  # the connection kept between open() and close()
        self._driver: Any = None  # its aiosqlite connection

    async def open(self) -> None:
        """Keep a connection for the writes from now on (SQLite only; elsewhere the pool serves them)."""
        if self._driver_level and self._held is None:
            held = await self._db.engine.connect()
            raw = await held.get_raw_connection()
            self._held, self._driver = held, raw.driver_connection

    async def close(self) -> None:
        held, self._held, self._driver = self._held, None, None
        if held is not None:
            await held.close()

    def submit(self, steps: Sequence[Step]) -> asyncio.Future[None]:
        """Start writing ``steps`` and return what to wait on. The write goes on to its end even if nobody
        waits any more (a transaction abandoned midway would keep its write lock, or commit after all)."""
        steps = [(statement, rows) for statement, rows in steps if rows]
        loop = asyncio.get_running_loop()
        if self._driver is None or not steps:
            return asyncio.ensure_future(self.write(steps))
        # The held connection: the transaction is queued to the driver's thread as aiosqlite's own calls are
        # (SQLAlchemy's aiosqlite dialect queues to it likewise): what is waited on is that trip's own future.
        driver = self._driver
        plan = _plan(steps)
        done: asyncio.Future[None] = loop.create_future()
        if not (driver._running and driver._connection):  # what aiosqlite's own calls check first
            done.set_exception(ValueError('Connection closed'))
            return done
        driver._tx.put_nowait((done, partial(_transaction, driver, plan, self._dbapi_error)))
        return done

    async def write(self, steps: Sequence[Step]) -> None:
        """Write ``steps`` in one transaction."""
        steps = [(statement, rows) for statement, rows in steps if rows]
        if not steps:
            return
        if not self._driver_level:
            async with self._db.engine.begin() as conn:
                for statement, rows in steps:
                    await conn.execute(statement.statement, statement.core_parameters(rows))
            return
        plan = _plan(steps)
        if self._driver is not None:
            await self._driver._execute(_transaction, self._driver, plan, self._dbapi_error)
            return
        async with self._db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver._execute(_transaction, driver, plan, self._dbapi_error)


Plan = list[tuple[str, Sequence[tuple[Any, ...]]]]  # (SQL for the driver, rows) per step


def _plan(steps: Sequence[Step]) -> Plan:
    plan: Plan = []
    for statement, rows in steps:
        assert statement.driver_sql is not None, 'compiled for the driver when the dialect is aiosqlite'
        plan.append((statement.driver_sql, rows))
    return plan


def _transaction(driver: Any, plan: Plan, error: type[Exception]) -> None:
    """In the driver's thread: every executemany of ``plan`` and the commit; a rollback if any fails.

    A driver error is raised as Core would raise it (``IntegrityError`` for a taken key, and so on)."""
    conn = driver._conn  # the sqlite3 connection, used only from this thread
    sql = ''
    try:
        for sql, rows in plan:
            conn.executemany(sql, rows)
        conn.commit()
    except BaseException as exc:
        conn.rollback()
        if isinstance(exc, error):
            raise DBAPIError.instance(sql, None, exc, error) from exc
        raise


def sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it: UTC text without offset, always microseconds.

    Byte-identical to what the ``UTCDateTime`` columns bind (``2025-06-01 09:00:00.000250``), so rows
    written either way read back the same through SQLAlchemy and sort the same as text.

    Every event row has one, so it is made fast: the text up to the second is kept for the seconds seen lately
    and the microseconds are looked up in two halves (``isoformat`` of an aware datetime costs three times as
    much).
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        else:  # naive means UTC, as in codec.to_db_time
            value = value.replace(tzinfo=UTC)
    key = (value.year, value.month, value.day, value.hour, value.minute, value.second)
    prefix = _SECONDS.get(key)
    if prefix is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        prefix = _SECONDS[key] = value.isoformat(' ', 'seconds')[:19] + '.'
    microsecond = value.microsecond
    return prefix + _THREE_DIGITS[microsecond // 1000] + _THREE_DIGITS[microsecond % 1000]


# The text up to the second of the seconds sqlite_time formatted lately (at most _SECONDS_KEPT of them: concurrent
# executions, or a history written at once, interleave a few); the digits of 0 to 999.
_SECONDS: dict[tuple[int, ...], str] = {}
_SECONDS_KEPT = 4096
_THREE_DIGITS = [f'{n:03d}' for n in range(1000)]


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != 'sqlite':
        return create_async_engine(url, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={'timeout': 30})

    @event.listens_for(engine.sync_engine, 'connect')
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Dialect set-up: the only SQLite-specific SQL in flowmon.
        cursor = dbapi_connection.cursor()
        # Before WAL: a new file is made with incremental vacuum (for an existing file this changes nothing until
        # a VACUUM; Database.start switches files made before, once).
        cursor.execute(f'PRAGMA auto_vacuum={SQLITE_INCREMENTAL_VACUUM}')
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()

    return engine


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
