"""The async database: the engine, schema upgrades under the schema lock, the hot path's bulk writes, and the storage
questions retention asks (size, giving freed space back).

What differs between SQLite and PostgreSQL is in :mod:`flowmon.store.dialect`; this module uses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from flowmon.store import webhook_tables as _webhook_tables  # noqa: F401  (registers the webhook tables too)

from . import dialect, migrate, tables  # noqa: F401  (tables registers the tables on SQLModel.metadata)
from .codec import to_db_time
from .dialect import SCHEMA_LOCK_KEY, DriverStep, Fenced, sqlite_time

TimeEncoder = Callable[[datetime | None], Any]

log = logging.getLogger(__name__)


class DatabaseUnreachable(migrate.SchemaError):
    """The database cannot be opened at all (a server that does not answer, a refused password, a database or a
    directory that does not exist): no schema can be brought anywhere. The message names the database without its
    password, and the reason."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StorageSize:
    """How much room the database takes: ``bytes`` on disk (SQLite: the file and its write-ahead log), and of those
    ``free_bytes`` that hold nothing (pages freed by deletes, not yet given back; None where the database keeps its
    own account, as PostgreSQL does)."""

    bytes: int
    free_bytes: int | None


class Database:
    """Owns the SQLAlchemy async engine. ``start`` brings the schema up to date; ``stop`` disposes the pool."""

    def __init__(self, url: str, *, application_name: str = 'flowmon') -> None:
        """``application_name``: how PostgreSQL's ``pg_stat_activity`` names this process's connections."""
        self.url = url
        self.application_name = application_name
        self.engine: AsyncEngine = dialect.create_engine(url, application_name=application_name)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    @property
    def is_postgresql(self) -> bool:
        return dialect.is_postgresql(self.engine.dialect)

    @property
    def display_url(self) -> str:
        """The URL without its password: what status pages and logs may show."""
        url = make_url(self.url)
        return url._replace(password=None).render_as_string(hide_password=False)  # URL is a NamedTuple

    def insert_ignore(self, table: Table, key: Sequence[str]) -> Insert:
        """An INSERT that does nothing for a row whose ``key`` columns are taken (see :func:`dialect.insert_ignore`)."""
        return dialect.insert_ignore(self.engine.dialect, table, key)

    def upsert(self, table: Table, key: Sequence[str], columns: Sequence[str]) -> Insert:
        """An INSERT that sets ``columns`` for a row whose ``key`` columns are taken (see :func:`dialect.upsert`)."""
        return dialect.upsert(self.engine.dialect, table, key, columns)

    def bulk_insert(self, table: Table, columns: Sequence[str]) -> BulkInsert:
        """An executemany INSERT of pre-encoded rows into ``columns`` of ``table`` (see :class:`BulkInsert`)."""
        return BulkInsert(table, columns, self.engine.dialect)

    def bulk_statement(self, statement: Any, keys: Sequence[str], *, name: str, fence: bool = False) -> BulkStatement:
        """An executemany UPDATE or DELETE of pre-encoded rows, bound in ``keys`` order (see :class:`BulkStatement`);
        ``fence``: a SELECT that must return exactly one row (for its one row of parameters), else :class:`Fenced`."""
        return BulkStatement(statement, keys, self.engine.dialect, name=name, fence=fence)

    def bulk_update(self, table: Table, columns: Sequence[str], key: str) -> BulkStatement:
        """An executemany UPDATE of ``columns`` of the row whose ``key`` column matches, pre-encoded rows of the new
        values and then the key (bind parameters ``b_<column>``); on SQLite many rows per statement."""
        keys = [f'b_{column}' for column in (*columns, key)]
        statement = (
            table.update()
            .where(table.c[key] == bindparam(f'b_{key}'))
            .values({column: bindparam(f'b_{column}') for column in columns})
        )
        many_rows = dialect.sqlite_update_many(table.name, columns, key)
        return BulkStatement(statement, keys, self.engine.dialect, name=f'update {table.name}', many_rows=many_rows)

    def bulk_writer(self) -> BulkWriter:
        """Runs steps of bulk statements in one transaction (see :class:`BulkWriter`)."""
        return BulkWriter(self)

    async def start(self) -> migrate.MigrationReport:
        """Upgrade the schema to the newest revision (Alembic ``upgrade head``); logs what changed. A SQLite file made
        without incremental vacuum is switched to it (once: a ``VACUUM`` rewrites the file). On PostgreSQL the running
        loop logs asyncpg's left-overs of cancelled reads at DEBUG (:func:`dialect.quiet_asyncpg_left_overs`)."""
        if dialect.is_driver_asyncpg(self.engine.dialect):
            dialect.quiet_asyncpg_left_overs(asyncio.get_running_loop())
        report = await self.upgrade()
        if report.changed:
            for line in report.lines():
                log.info('database schema: %s', line)
        await self._use_incremental_vacuum()
        return report

    async def _use_incremental_vacuum(self) -> None:
        """SQLite decides when a file is created whether freed pages can be given back in steps; a file made before
        flowmon asked for that takes a one-time ``VACUUM`` to switch (:func:`dialect.use_incremental_vacuum`)."""
        if await dialect.use_incremental_vacuum(self.engine):
            log.info('database: switched the SQLite file to incremental vacuum (a one-time VACUUM)')

    async def size(self) -> StorageSize:
        """The room the database takes now (see :class:`StorageSize`)."""
        path = self._sqlite_path()
        files = () if path is None else (path, Path(f'{path}-wal'))
        used, free = await dialect.storage_size(self.engine, files)
        return StorageSize(bytes=used, free_bytes=free)

    async def free_pages(self) -> int:
        """SQLite: pages that deletes freed and the file still holds (0 elsewhere)."""
        return await dialect.free_pages(self.engine)

    async def give_back(self, pages: int) -> int:
        """SQLite: give up to ``pages`` free pages back to the file system; returns how many were given back (0
        elsewhere: PostgreSQL's autovacuum reuses freed space on its own). See :func:`dialect.give_back`."""
        return await dialect.give_back(self.engine, pages)

    async def tidy_search_index(self, pages: int) -> None:
        """After deletes: let the search index drop what deleted executions left in it (see
        :func:`dialect.tidy_search_index`)."""
        await dialect.tidy_search_index(self.engine, pages)

    async def checkpoint(self) -> bool:
        """SQLite: copy the write-ahead log into the file as far as readers allow, without waiting for anyone; when
        it gets to the end, the file takes its new, smaller size. True when the file has its size (always elsewhere:
        nothing to do)."""
        return await dialect.checkpoint(self.engine, self._sqlite_path())

    async def upgrade(self, revision: str = 'head') -> migrate.MigrationReport:
        """Bring the schema to ``revision`` in one transaction that holds the schema lock (see :func:`migrate.upgrade`;
        raises :class:`migrate.SchemaError` when that cannot be done)."""
        migrate.resolve(revision)  # an unknown revision is refused before anything is created
        await self._open()
        async with self._schema_transaction() as conn:
            return await conn.run_sync(migrate.upgrade, revision)

    async def revision(self) -> str | None:
        """The schema revision of the database; None when it is empty, missing, or made before migrations."""
        path = self._sqlite_path()
        if path is not None and not path.exists():
            return None  # do not create a database file just to say there is none
        await self._open()  # (raises DatabaseUnreachable)
        async with self.engine.connect() as conn:
            return await conn.run_sync(migrate.current_revision)

    @asynccontextmanager
    async def _schema_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only one process at a time holds, with transactional DDL on both dialects
        (:func:`dialect.lock_schema`)."""
        async with self.engine.begin() as conn:
            await dialect.lock_schema(conn)
            yield conn

    def _sqlite_path(self) -> Path | None:
        """The database file, for a file-based SQLite database."""
        url = make_url(self.url)
        if url.get_backend_name() != 'sqlite' or not url.database or url.database == ':memory:':
            return None
        return Path(url.database)

    async def _open(self) -> None:
        """Connect once, so that a database that cannot be opened is refused as such (:class:`DatabaseUnreachable`),
        not as whatever statement met it first."""
        try:
            path = self._sqlite_path()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            async with self.engine.connect():
                pass
        except (OSError, DBAPIError) as exc:
            reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            raise DatabaseUnreachable(f'cannot open the database {self.display_url}: {reason}') from None

    async def stop(self) -> None:
        await self.engine.dispose()

    async def scrub(self) -> None:
        """Leave no old row content in the files: after plain secrets were sealed in place or a key rotation.

        SQLite keeps overwritten content in free space and in the write-ahead log until something reuses it;
        ``VACUUM`` rewrites the database file and a truncating checkpoint empties the log. Other databases
        manage their own storage: nothing to do here.
        """
        await dialect.vacuum(self.engine)


class BulkStatement:
    """An executemany statement (an INSERT, or an UPDATE or DELETE with bind parameters) of pre-encoded rows.

    Rows are tuples in ``keys`` order (column names of an INSERT, bind parameter names otherwise) whose values
    are already what the driver takes: text for JSON columns, and timestamps encoded with :attr:`encode_time`.
    On SQLite (aiosqlite) and PostgreSQL (asyncpg) the statement is compiled once and the rows go straight to the
    driver (an INSERT into PostgreSQL by ``COPY``): none of SQLAlchemy's per-row parameter processing (a dict per
    row, a bind processor per value), which cost more than the insert itself. Other drivers take Core's
    executemany, where the column types encode the values as usual.
    """

    def __init__(
        self,
        statement: Any,
        keys: Sequence[str],
        dialect_: Dialect,
        *,
        name: str,
        fence: bool = False,
        many_rows: dialect.ManyRows | None = None,
    ) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self.name = name
        self.fence = fence
        # How a timestamp goes into a row: what the column type would bind it as.
        self.encode_time: TimeEncoder = to_db_time
        self.driver_sql: str | None = None
        self.copy_into: str | None = None  # PostgreSQL: the table an INSERT COPYs into
        if dialect.is_driver_sqlite(dialect_) or dialect.is_driver_asyncpg(dialect_):
            self.driver_sql = dialect.compile_for_driver(statement, self.keys, dialect_, name=name)
        self.many_rows: dialect.ManyRows | None = None  # SQLite: many rows per statement (``many_rows``, an INSERT's)
        if dialect.is_driver_sqlite(dialect_):
            self.encode_time = sqlite_time
            self.many_rows = many_rows or dialect.ManyRows.of(self.driver_sql or '')

    def core_parameters(self, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def driver_step(self, rows: Sequence[tuple[Any, ...]]) -> DriverStep:
        assert self.driver_sql is not None, 'compiled for the driver when the driver is aiosqlite or asyncpg'
        return DriverStep(
            self.driver_sql,
            rows,
            copy_into=self.copy_into,
            columns=self.keys,
            fence=self.fence,
            many_rows=self.many_rows,
        )


class BulkInsert(BulkStatement):
    """INSERT many rows in one executemany (PostgreSQL: one COPY): the recorder's hot path (every event)."""

    def __init__(self, table: Table, columns: Sequence[str], dialect_: Dialect) -> None:
        super().__init__(table.insert(), columns, dialect_, name=f'insert into {table.name}')
        if dialect.is_driver_asyncpg(dialect_):
            self.copy_into = table.name


Step = tuple[BulkStatement, Sequence[tuple[Any, ...]]]


class BulkWriter:
    """Runs executemany steps of pre-encoded rows in one transaction, all or nothing.

    On SQLite (aiosqlite) the whole transaction is one trip to the driver's thread: every step's executemany
    and the commit (or the rollback) run there back to back, INSERTs and :meth:`Database.bulk_update` hundreds of
    rows a statement (:func:`flowmon.store.dialect.write_many_rows`). A trip costs about as much as inserting 25 rows
    (a thread wake-up each way), and going through SQLAlchemy's connection costs a trip per statement, one
    for the commit and one for the pool's reset. Between :meth:`open` and :meth:`close` the writer keeps a
    connection of its own (the recorder's, for its lifetime), so that a write is exactly one trip; otherwise
    each write checks one out of the pool. On PostgreSQL (asyncpg) each write checks a connection out of the pool
    (pinged first, so a restarted server costs nothing) and runs the steps in one transaction of its asyncpg
    driver: INSERTs by ``COPY``, the rest by ``executemany``. Elsewhere the steps run through Core in
    ``engine.begin()``. Errors are raised as Core raises them (``IntegrityError`` for a taken key, and so on); a
    fencing step that finds no row raises :class:`~flowmon.store.dialect.Fenced` and nothing is written.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        dialect_ = db.engine.dialect
        self._sqlite = dialect.is_driver_sqlite(dialect_)
        self._asyncpg = dialect.is_driver_asyncpg(dialect_)
        self._dbapi: Any = dialect_.loaded_dbapi if self._sqlite or self._asyncpg else None
        self._held: AsyncConnection | None = None  # the connection kept between open() and close()
        self._driver: Any = None  # its aiosqlite connection

    async def open(self) -> None:
        """Keep a connection for the writes from now on (SQLite only; elsewhere the pool serves them)."""
        if self._sqlite and self._held is None:
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
        driver._tx.put_nowait((done, partial(_transaction, driver, plan, self._dbapi.Error)))
        return done

    async def write(self, steps: Sequence[Step]) -> None:
        """Write ``steps`` in one transaction."""
        steps = [(statement, rows) for statement, rows in steps if rows]
        if not steps:
            return
        if self._asyncpg:
            async with self._db.engine.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                await dialect.asyncpg_transaction(driver, _plan(steps), self._dbapi)
            return
        if not self._sqlite:
            async with self._db.engine.begin() as conn:
                for statement, rows in steps:
                    result = await conn.execute(statement.statement, statement.core_parameters(rows))
                    if statement.fence and len(result.all()) != 1:
                        raise Fenced('the fencing check found no row')
            return
        plan = _plan(steps)
        if self._driver is not None:
            await self._driver._execute(_transaction, self._driver, plan, self._dbapi.Error)
            return
        async with self._db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            sqlite_driver: Any = raw.driver_connection
            await sqlite_driver._execute(_transaction, sqlite_driver, plan, self._dbapi.Error)


async def to_the_end(write: asyncio.Future[None]) -> tuple[BaseException | None, bool]:
    """Wait for a write to end even if the caller is cancelled meanwhile: ``(its error or None, cancelled)``.

    A transaction abandoned midway would keep its write lock, or commit behind the caller's back (which would
    then write the same rows again)."""
    cancelled = False
    while not write.done():
        try:
            await asyncio.wait((write,))  # unlike awaiting the write, this never cancels it
        except asyncio.CancelledError:
            cancelled = True
    return (asyncio.CancelledError() if write.cancelled() else write.exception()), cancelled


def _transaction(driver: Any, plan: Sequence[DriverStep], error: type[Exception]) -> None:
    """In aiosqlite's thread: the whole transaction (:func:`flowmon.store.dialect.sqlite_transaction`)."""
    dialect.sqlite_transaction(driver, plan, error)


def _plan(steps: Sequence[Step]) -> list[DriverStep]:
    return [statement.driver_step(rows) for statement, rows in steps]


__all__ = [
    'SCHEMA_LOCK_KEY',
    'BulkInsert',
    'BulkStatement',
    'BulkWriter',
    'Database',
    'Fenced',
    'Step',
    'StorageSize',
    'sqlite_time',
    'to_the_end',
]
