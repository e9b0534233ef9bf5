"""The async database: engine creation, dialect set-up, schema upgrades (locking) and the hot path's bulk inserts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, func, select
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from flowmon.store import webhook_tables as _webhook_tables  # noqa: F401  (registers the webhook tables too)

from . import migrate, tables  # noqa: F401  (tables registers the tables on SQLModel.metadata)
from .codec import to_db_time

TimeEncoder = Callable[[datetime | None], Any]
# pg_advisory_xact_lock key for schema upgrades ('flowmon' in ASCII): one process migrates, the others wait.
SCHEMA_LOCK_KEY = 0x666C6F776D6F6E

log = logging.getLogger(__name__)


class Database:
    """Owns the SQLAlchemy async engine. ``start`` brings the schema up to date; ``stop`` disposes the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    def bulk_insert(self, table: Table, columns: Sequence[str]) -> BulkInsert:
        """An executemany INSERT of pre-encoded rows into ``columns`` of ``table`` (see :class:`BulkInsert`)."""
        return BulkInsert(table, columns, self.engine.dialect)

    async def start(self) -> migrate.MigrationReport:
        """Upgrade the schema to the newest revision (Alembic ``upgrade head``); logs what changed."""
        report = await self.upgrade()
        if report.changed:
            for line in report.lines():
                log.info('database schema: %s', line)
        return report

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


class BulkInsert:
    """INSERT many rows in one executemany: the recorder's hot path (every event of every execution).

    Rows are tuples in ``columns`` order whose values are already what the driver takes: text for JSON
    columns, and timestamps encoded with :attr:`encode_time`. On SQLite (aiosqlite) the statement is
    compiled once and the rows go straight to the driver's executemany on the transaction's connection:
    one trip to the driver's thread instead of three, and none of SQLAlchemy's per-row parameter processing
    (a dict per row, a bind processor per value), which cost more than the insert itself. Other dialects
    take Core's executemany, where the column types encode the values as usual.
    """

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        self.table = table
        self.columns = tuple(columns)
        # How a timestamp goes into a row: what the column type would bind it as.
        self.encode_time: TimeEncoder = to_db_time
        self._driver_sql: str | None = None
        self._dbapi_error: type[Exception] = Exception
        if dialect.name == 'sqlite' and dialect.driver == 'aiosqlite':
            compiled = table.insert().compile(dialect=dialect, column_keys=list(self.columns))
            if tuple(compiled.positiontup or ()) != self.columns:
                raise ValueError(f'columns {self.columns} are not in the order of table {table.name!r}')
            self._driver_sql = str(compiled)
            self._dbapi_error = dialect.loaded_dbapi.Error
            self.encode_time = sqlite_time

    async def __call__(self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self._driver_sql is not None:
            raw = await conn.get_raw_connection()  # the transaction's own connection: same transaction
            driver = raw.driver_connection
            assert driver is not None, 'a connection in a transaction is never detached'
            try:
                await driver.executemany(self._driver_sql, rows)
            except self._dbapi_error as exc:  # raised as Core would raise it (IntegrityError for a taken key)
                raise DBAPIError.instance(self._driver_sql, None, exc, self._dbapi_error) from exc
            return
        columns = self.columns
        await conn.execute(self.table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it: UTC text without offset, always microseconds.

    Byte-identical to what the ``UTCDateTime`` columns bind (``2025-06-01 09:00:00.000250``), so rows
    written either way read back the same through SQLAlchemy and sort the same as text.
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC) if value.tzinfo else value  # naive means UTC, as in codec.to_db_time
    return value.isoformat(' ', 'microseconds')[:26]


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != 'sqlite':
        return create_async_engine(url, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={'timeout': 30})

    @event.listens_for(engine.sync_engine, 'connect')
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Dialect set-up: the only SQLite-specific SQL in flowmon.
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()

    return engine
