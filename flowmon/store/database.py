"""The async database: engine creation, dialect set-up, schema creation and the hot path's bulk inserts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, inspect
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from flowmon.store import webhook_tables as _webhook_tables  # noqa: F401  (registers the webhook tables too)

from . import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from .codec import to_db_time

TimeEncoder = Callable[[datetime | None], Any]


class Database:
    """Owns the SQLAlchemy async engine. ``start`` creates the schema; ``stop`` disposes the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    def bulk_insert(self, table: Table, columns: Sequence[str]) -> BulkInsert:
        """An executemany INSERT of pre-encoded rows into ``columns`` of ``table`` (see :class:`BulkInsert`)."""
        return BulkInsert(table, columns, self.engine.dialect)

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.run_sync(_add_missing_columns)

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


def _add_missing_columns(conn: Connection) -> None:
    """Bring a database made by an earlier flowmon up to date with columns added since (nullable ones only).

    ``create_all`` creates missing tables but never alters existing ones; ``ALTER TABLE ... ADD COLUMN`` is
    standard SQL, so this stays portable. Anything beyond adding a nullable column needs a real migration.
    """
    inspector = inspect(conn)
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column['name'] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}')


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != 'sqlite':
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ':memory:':
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
