"""What differs between SQLite and PostgreSQL, in one place: the rest of flowmon writes portable Core.

* **Connections.** SQLite: WAL (waiting for a lock other processes hold on a new file), ``synchronous=NORMAL`` and
  foreign keys on every connection. PostgreSQL (asyncpg): a pool of ``pool_size`` + ``max_overflow`` connections,
  each pinged before it is handed out (a server restart costs one failed query otherwise) and recycled after half an
  hour, named ``flowmon:<process id>`` in ``pg_stat_activity``.
* **Schema lock, and turns.** ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL, so
  processes that start together migrate one after the other, and a count checked against a limit holds until the
  insert it allows (saved views, webhook endpoints, workflows, secrets) in every process.
* **Bulk writes** (the recorder's hot path, :class:`~flowmon.store.database.BulkWriter`): on SQLite every
  ``executemany`` and the commit in one trip to aiosqlite's thread; on PostgreSQL INSERTs go by ``COPY``
  (asyncpg's ``copy_records_to_table``, the fastest bulk path: about twice ``executemany``) and the other statements by
  asyncpg's ``executemany``, in one transaction of the connection's asyncpg driver. Errors come out as Core raises
  them (``IntegrityError`` for a taken key), whichever path wrote.
* **Insert-if-absent** (``ON CONFLICT DO NOTHING``), the database clock, and PostgreSQL's ``NOTIFY``/``LISTEN``
  (:class:`Listener`), which carries the signals between flowmon processes that share a database.
* **Vacuum.** SQLite keeps overwritten content until ``VACUUM``; PostgreSQL manages its own storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert
from sqlalchemy.util import await_

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key for schema upgrades ('flowmon' in ASCII): one process migrates, the others wait.
SCHEMA_LOCK_KEY = 0x666C6F776D6F6E
# and for the saved views' count and insert ('views' in ASCII), the webhook endpoints' ('endpoint') and the
# workflows' ('workflow') and the secrets' ('secrets')
SAVED_VIEWS_LOCK_KEY = 0x7669657773
ENDPOINTS_LOCK_KEY = 0x656E64706F696E74
WORKFLOWS_LOCK_KEY = 0x776F726B666C6F77
SECRETS_LOCK_KEY = 0x73656372657473
# PRAGMA auto_vacuum value of a SQLite file that gives freed pages back with PRAGMA incremental_vacuum(N)
SQLITE_INCREMENTAL_VACUUM = 2
SQLITE_BUSY_TIMEOUT_S = 30.0  # how long a SQLite connection waits for another one's lock
# PostgreSQL connection pool per process: processes x (POOL_SIZE + MAX_OVERFLOW + 1 listener) <= max_connections.
POOL_SIZE = 10
MAX_OVERFLOW = 5
POOL_RECYCLE_S = 1800
# A NOTIFY payload must be shorter than 8000 bytes.
MAX_NOTIFY_BYTES = 7999


class Fenced(RuntimeError):
    """A write guarded by a fencing check found that this process no longer holds its lease: nothing was written."""


def is_postgresql(dialect: Dialect) -> bool:
    return dialect.name == 'postgresql'


def is_driver_sqlite(dialect: Dialect) -> bool:
    """aiosqlite: the bulk path talks to the driver's own thread."""
    return dialect.name == 'sqlite' and dialect.driver == 'aiosqlite'


def is_driver_asyncpg(dialect: Dialect) -> bool:
    return dialect.name == 'postgresql' and dialect.driver == 'asyncpg'


# asyncio's report of a future asyncpg leaves behind when a task waiting on PostgreSQL is cancelled (a page's read when
# its visitor navigates on): asyncpg opens a connection (a new one for the pool, or the second one that carries
# PostgreSQL's CancelRequest for the query) by first asking for TLS (sslmode "prefer" is its default), and when the
# task waiting for the server's answer is cancelled it closes that connection, which sets this error on a future
# nobody awaits any more (MagicStack/asyncpg#1211, #1310). Nothing failed: the task was cancelled, the pool drops the
# connection; but asyncio logs it as an ERROR, with no traceback, once the future is collected.
NEVER_RETRIEVED = 'Future exception was never retrieved'
ASYNCPG_LEFT_OVER = ConnectionError('unexpected connection_lost() call')


def is_asyncpg_left_over(context: Mapping[str, Any]) -> bool:
    """Whether an event loop's exception ``context`` is asyncpg's left-over future (see :data:`ASYNCPG_LEFT_OVER`)."""
    exc = context.get('exception')
    return (
        context.get('message') == NEVER_RETRIEVED
        and type(exc) is ConnectionError
        and exc.args == ASYNCPG_LEFT_OVER.args
    )


def quiet_asyncpg_left_overs(loop: asyncio.AbstractEventLoop) -> None:
    """Have ``loop`` log asyncpg's left-over futures at DEBUG instead of asyncio's ERROR; every other exception goes
    to the handler the loop had (or its default). Idempotent."""
    previous = loop.get_exception_handler()
    if getattr(previous, 'quiets_asyncpg_left_overs', False):
        return

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if is_asyncpg_left_over(context):
            log.debug('a cancelled PostgreSQL connection attempt left an error nobody awaits (asyncpg#1211): ignored')
        elif previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    handle.quiets_asyncpg_left_overs = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handle)


class RollbackOnClose(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    SQLAlchemy closes a connection whose task was cancelled in the middle of a statement (it cannot tell what
    state the connection is in). If a statement of it is still unfinished then (a query whose rows were not read
    yet), SQLite defers the close until that statement is finalized, and the connection keeps its transaction,
    and with it the database's write lock, until the garbage collector gets to the statement: every other write
    waits (30 s, then fails). A rollback first ends the transaction, unfinished statements or not.
    """

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.in_transaction:
                self.rollback()
        super().close()


# --- connections --------------------------------------------------------------------------------------------------


def create_engine(url: str, *, application_name: str = 'flowmon') -> AsyncEngine:
    """The async engine for ``url`` with the dialect's connection set-up (see the module docstring)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == 'postgresql':
        connect_args: dict[str, Any] = {}
        if parsed.get_driver_name() == 'asyncpg':
            connect_args['server_settings'] = {'application_name': application_name[:63]}
        return create_async_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            pool_pre_ping=True,
            pool_recycle=POOL_RECYCLE_S,
            connect_args=connect_args,
        )
    if backend != 'sqlite':
        return create_async_engine(url, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={'timeout': SQLITE_BUSY_TIMEOUT_S, 'factory': RollbackOnClose})

    @event.listens_for(engine.sync_engine, 'connect')
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # Before WAL: a new file is made with incremental vacuum (for an existing file this changes nothing until
        # a VACUUM; Database.start switches files made before, once).
        cursor.execute(f'PRAGMA auto_vacuum={SQLITE_INCREMENTAL_VACUUM}')
        _sqlite_use_wal(cursor)
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()

    return engine


def _sqlite_use_wal(cursor: Any) -> None:
    """Switch the file to WAL, waiting its turn: SQLite answers ``database is locked`` at once, without its busy
    timeout, when another connection is switching the same new file (processes that start together). Waits on the
    event loop (this runs inside the async driver's greenlet), for up to ``SQLITE_BUSY_TIMEOUT_S``."""
    delay, waited = 0.005, 0.0
    while True:
        try:
            cursor.execute('PRAGMA journal_mode=WAL')
            return
        except sqlite3.OperationalError as error:
            if 'locked' not in str(error) or waited >= SQLITE_BUSY_TIMEOUT_S:
                raise
        await_(asyncio.sleep(delay))
        waited += delay
        delay = min(delay * 2, 0.25)


async def lock_schema(conn: AsyncConnection) -> None:
    """Take the schema lock in the transaction ``conn`` has just begun (released by its commit or rollback).

    PostgreSQL: a transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE`` takes the write lock at once; it also
    makes the DDL transactional, which Python's sqlite3 driver otherwise does not (it opens a transaction only before
    INSERT, UPDATE and DELETE, so a failed migration would leave half its tables behind).
    """
    await take_turn(conn, SCHEMA_LOCK_KEY)


async def take_turn(conn: AsyncConnection, key: int) -> None:
    """Make the transaction ``conn`` has just begun the only one holding ``key`` until it ends, in every process:
    a check and the write that depends on it (a count under a limit) are then one step. PostgreSQL: a
    transaction-scoped advisory lock on ``key``. SQLite: ``BEGIN IMMEDIATE``, the database's one write lock."""
    if conn.dialect.name == 'sqlite':
        await conn.exec_driver_sql('BEGIN IMMEDIATE')
    elif is_postgresql(conn.dialect):
        await conn.execute(select(func.pg_advisory_xact_lock(key)))


async def vacuum(engine: AsyncEngine) -> None:
    """Leave no old row content in the files (SQLite: ``VACUUM`` and a truncating checkpoint; nothing elsewhere)."""
    await _sqlite_autocommit(engine, 'VACUUM', 'PRAGMA wal_checkpoint(TRUNCATE)')


# --- storage: size, giving freed space back -----------------------------------------------------------------------


async def use_incremental_vacuum(engine: AsyncEngine) -> bool:
    """SQLite: switch a file made without incremental vacuum to it (a one-time ``VACUUM``: the connection set-up asks
    for it only before any table exists); True when it did. Other databases reuse freed space on their own."""
    if engine.dialect.name != 'sqlite':
        return False
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
        if (await conn.exec_driver_sql('PRAGMA auto_vacuum')).scalar_one() == SQLITE_INCREMENTAL_VACUUM:
            return False
        await conn.exec_driver_sql(f'PRAGMA auto_vacuum={SQLITE_INCREMENTAL_VACUUM}')
        await conn.exec_driver_sql('VACUUM')
    return True


async def storage_size(engine: AsyncEngine, files: Sequence[Path]) -> tuple[int, int | None]:
    """The bytes the database takes and, on SQLite, the bytes of its free pages (None elsewhere). SQLite's size is
    that of ``files`` (the database file and its write-ahead log) when there are any, else of its pages."""
    async with engine.connect() as conn:
        if engine.dialect.name == 'sqlite':
            page_size = (await conn.exec_driver_sql('PRAGMA page_size')).scalar_one()
            pages = (await conn.exec_driver_sql('PRAGMA page_count')).scalar_one()
            free = (await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one()
            on_disk = sum(_file_size(path) for path in files) if files else pages * page_size
            return on_disk, free * page_size
        if is_postgresql(engine.dialect):
            used = (await conn.execute(select(func.pg_database_size(func.current_database())))).scalar_one()
            return int(used), None
    return 0, None


async def free_pages(engine: AsyncEngine) -> int:
    """SQLite: pages that deletes freed and the file still holds (0 elsewhere)."""
    if engine.dialect.name != 'sqlite':
        return 0
    async with engine.connect() as conn:
        return int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())


async def give_back(engine: AsyncEngine, pages: int) -> int:
    """SQLite: give up to ``pages`` free pages back to the file system (``PRAGMA incremental_vacuum(N)``, one short
    write transaction); how many were given back. The file shrinks when the write-ahead log is next checkpointed."""
    if engine.dialect.name != 'sqlite' or pages < 1:
        return 0
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
        before = int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())
        raw = await conn.get_raw_connection()
        # executescript steps the pragma to its end; a plain execute frees a single page
        await raw.driver_connection.executescript(f'PRAGMA incremental_vacuum({int(pages)});')  # type: ignore[union-attr]
        after = int((await conn.exec_driver_sql('PRAGMA freelist_count')).scalar_one())
    return max(0, before - after)


async def tidy_search_index(engine: AsyncEngine, pages: int) -> None:
    """SQLite: merge up to about ``pages`` pages of the search index's segments (FTS5 ``merge``, bounded work), so the
    entries that deleted executions left in it are dropped and their pages freed; nothing elsewhere (PostgreSQL's
    autovacuum tends the pg_trgm index)."""
    if engine.dialect.name != 'sqlite' or pages < 1:
        return
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO execution_search_fts(execution_search_fts, rank) VALUES ('merge', ?)", (int(pages),)
        )


async def checkpoint(engine: AsyncEngine, file: Path | None) -> bool:
    """SQLite: ``PRAGMA wal_checkpoint(PASSIVE)``, which waits for nobody; True when ``file`` (the database file) is
    no longer than its pages: a checkpoint shrinks the file only when it copies the whole log, which a reader of an
    older snapshot or a write landing meanwhile prevents. True elsewhere."""
    if engine.dialect.name != 'sqlite':
        return True
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
        await conn.exec_driver_sql('PRAGMA wal_checkpoint(PASSIVE)')
        pages = int((await conn.exec_driver_sql('PRAGMA page_count')).scalar_one())
        page_size = int((await conn.exec_driver_sql('PRAGMA page_size')).scalar_one())
    return file is None or _file_size(file) <= pages * page_size


async def _sqlite_autocommit(engine: AsyncEngine, *statements: str) -> None:
    """SQLite: run ``statements`` in turn outside any transaction (nothing elsewhere)."""
    if engine.dialect.name != 'sqlite':
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level='AUTOCOMMIT')
        for statement in statements:
            await conn.exec_driver_sql(statement)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


# --- portable statements with dialect forms -----------------------------------------------------------------------


def insert_ignore(dialect: Dialect, table: Table, key: Sequence[str]) -> Insert:
    """An INSERT into ``table`` that does nothing for a row whose ``key`` columns are taken (``ON CONFLICT DO
    NOTHING`` on both dialects); with ``RETURNING``, the row comes back only when it was inserted."""
    insert = postgresql.insert if is_postgresql(dialect) else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(key))


def upsert(dialect: Dialect, table: Table, key: Sequence[str], columns: Sequence[str]) -> Insert:
    """An INSERT into ``table`` that, for a row whose ``key`` columns are taken, sets ``columns`` to the new values
    instead (``ON CONFLICT DO UPDATE`` on both dialects)."""
    insert = postgresql.insert if is_postgresql(dialect) else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={column: statement.excluded[column] for column in columns}
    )


def database_now() -> ColumnElement[datetime]:
    """The database's clock (``now()``: the transaction's start time). Leases between processes compare only times
    taken from it, never a host's clock against a stored time: hosts' clocks drift apart."""
    return func.now()


def older_than(column: ColumnElement[datetime], seconds: float) -> ColumnElement[bool]:
    """``column < now() - seconds`` on the database's clock (PostgreSQL sends the bound timedelta as an interval)."""
    return column < func.now() - timedelta(seconds=seconds)


def notify_statement() -> Any:
    """``SELECT pg_notify(:b_channel, :b_payload)``: the notification is delivered when the transaction commits."""
    from sqlalchemy import bindparam

    return select(func.pg_notify(bindparam('b_channel'), bindparam('b_payload')))


def notify_payload(value: Mapping[str, Any], overflow: Mapping[str, Any]) -> str:
    """``value`` as compact JSON, or ``overflow`` when that would not fit a notification (8000 bytes)."""
    text = json.dumps(value, separators=(',', ':'))
    return text if len(text.encode()) <= MAX_NOTIFY_BYTES else json.dumps(overflow, separators=(',', ':'))


def notify_payloads(head: Mapping[str, Any], key: str, entries: Mapping[str, Any]) -> list[str]:
    """``head`` with ``entries`` under ``key``, as compact JSON notifications that each fit (8000 bytes): as many as
    it takes, none lost (at least one, with every entry of an empty ``entries``)."""
    fixed = len(json.dumps({**head, key: {}}, separators=(',', ':')).encode())
    payloads: list[str] = []
    part: dict[str, Any] = {}
    size = fixed
    for name, value in entries.items():
        item = len(json.dumps({name: value}, separators=(',', ':')).encode()) - 1  # '"name":value' and a comma
        if part and size + item > MAX_NOTIFY_BYTES:
            payloads.append(json.dumps({**head, key: part}, separators=(',', ':')))
            part, size = {}, fixed
        part[name] = value
        size += item
    payloads.append(json.dumps({**head, key: part}, separators=(',', ':')))
    return payloads


# --- bulk transactions --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverStep:
    """One statement of a driver-level transaction: SQL with positional parameters and its rows.

    ``copy_into`` (PostgreSQL): the rows go by ``COPY`` into that table's ``columns`` instead. ``fence``: the
    statement must return exactly one row (a fencing check), else the transaction is rolled back and :class:`Fenced`
    raised.
    """

    sql: str
    rows: Sequence[tuple[Any, ...]]
    copy_into: str | None = None
    columns: tuple[str, ...] = ()
    fence: bool = False
    many_rows: ManyRows | None = None


@dataclass(frozen=True, slots=True)
class ManyRows:
    """A statement split around its one row of parameters (``head``, ``row``, ``tail``), so that SQLite takes many rows
    a statement (:func:`write_many_rows`): an ``INSERT ... VALUES (?, ...)`` (:meth:`of`), or an ``UPDATE ... FROM
    (VALUES ...)`` (:func:`sqlite_update_many`)."""

    head: str
    row: str
    tail: str

    @classmethod
    def of(cls, sql: str) -> ManyRows | None:
        """The split of ``sql``, or None when it is not an INSERT of one row of positional parameters."""
        match = _ONE_ROW.fullmatch(sql)
        return None if match is None else cls(*match.groups())

    def sql(self, count: int) -> str:
        return _many_rows_sql(self.head, self.row, self.tail, count)


_ONE_ROW = re.compile(r'(INSERT\b.*?\bVALUES )(\((?:\?, )*\?\))(.*)', re.DOTALL | re.IGNORECASE)


def sqlite_update_many(table: str, columns: Sequence[str], key: str) -> ManyRows | None:
    """An UPDATE of ``columns`` by ``key`` taking many rows per statement (``UPDATE ... FROM (VALUES ...)``, SQLite
    3.33 and later; None before: row by row then), its row of parameters the new values and then the key."""
    if sqlite3.sqlite_version_info < (3, 33):
        return None
    values = ', '.join(f'{column} = v.column{i}' for i, column in enumerate(columns, start=1))
    return ManyRows(
        head=f'UPDATE {table} SET {values} FROM (VALUES ',
        row=f'({", ".join("?" * (len(columns) + 1))})',
        tail=f') AS v WHERE {table}.{key} = v.column{len(columns) + 1}',
    )


# Rows per statement at the most (a power of two), and bind variables (rows times columns; fewer where SQLite's own
# limit is lower). Each size of each statement stays prepared on the connection, at about 100 bytes a variable: the
# statements of one table take about 1.6 MiB at the most. A full batch of 5,000 events goes in 8 statements.
MANY_ROWS_MAX = 4096
MANY_VARIABLES_MAX = 8192


@functools.lru_cache(maxsize=256)
def _many_rows_sql(head: str, row: str, tail: str, count: int) -> str:
    return f'{head}{", ".join([row] * count)}{tail}'


def compile_for_driver(statement: Any, keys: Sequence[str], dialect: Dialect, *, name: str) -> str:
    """``statement`` as the driver's SQL, its parameters in ``keys`` order (refused otherwise)."""
    is_insert = getattr(statement, 'is_insert', False)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if is_insert else None)
    if tuple(compiled.positiontup or ()) != tuple(keys):
        raise ValueError(f'{name}: parameters {compiled.positiontup} are not in the order {tuple(keys)}')
    return str(compiled)


def sqlite_transaction(driver: Any, plan: Sequence[DriverStep], error: type[Exception]) -> None:
    """In aiosqlite's thread: every step of ``plan`` and the commit; a rollback if any fails.

    A driver error is raised as Core would raise it (``IntegrityError`` for a taken key, and so on)."""
    conn = driver._conn  # the sqlite3 connection, used only from this thread
    sql = ''
    try:
        for step in plan:
            sql = step.sql
            if step.fence:
                if len(conn.execute(sql, step.rows[0]).fetchall()) != 1:
                    raise Fenced('the fencing check found no row')
            elif step.many_rows is not None and len(step.rows) > 1:
                write_many_rows(conn, step.many_rows, step.rows)
            else:
                conn.executemany(sql, step.rows)
        conn.commit()
    except BaseException as exc:
        conn.rollback()
        if isinstance(exc, error):
            raise DBAPIError.instance(sql, None, exc, error) from exc
        raise


def write_many_rows(conn: sqlite3.Connection, many: ManyRows, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write ``rows`` by statements of many rows each: runs of :data:`MANY_ROWS_MAX` rows (fewer where that many
    would pass :data:`MANY_VARIABLES_MAX` bind variables, or SQLite's own limit), then the rest in runs of halving
    powers of two (a bounded set of statements, which the driver keeps prepared).

    Faster than a statement per row, but mostly this is about the GIL: the sqlite3 module lets go of it around every
    statement it steps, and taking it back while the event loop's thread runs Python waits up to the interpreter's
    switch interval (5 ms). Row by row, a batch written in the driver's thread crawls while the engine runs; a
    statement of hundreds of rows lets go of it once for all of them, and SQLite inserts them while the loop's thread
    goes on. Measured (5,000 rows 20 times beside a thread running Python): 24 s row by row, 0.84 s a thousand rows a
    statement; 0.11 s with nothing beside it."""
    width = len(rows[0])
    size = MANY_ROWS_MAX
    variables = min(MANY_VARIABLES_MAX, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    while size > 1 and size * width > variables:
        size //= 2
    chain = itertools.chain.from_iterable
    start, total = 0, len(rows)
    while start < total:
        while size > total - start:
            size //= 2
        end = start + (total - start) // size * size
        conn.executemany(many.sql(size), [tuple(chain(rows[i : i + size])) for i in range(start, end, size)])
        start = end


async def asyncpg_transaction(driver: Any, plan: Sequence[DriverStep], dbapi: Any) -> None:
    """On an asyncpg connection: every step of ``plan`` in one transaction (INSERTs by ``COPY``).

    A driver error is raised as Core would raise it: asyncpg's exception is mapped to the DBAPI class that
    SQLAlchemy's asyncpg dialect maps it to (``UniqueViolationError`` -> ``IntegrityError``), then wrapped like Core
    wraps it. COPY has no ``ON CONFLICT``: a row whose key is taken fails the whole transaction.
    """
    sql = ''
    try:
        async with driver.transaction():
            for step in plan:
                sql = step.sql
                if step.copy_into is not None:
                    sql = f'COPY {step.copy_into} ({", ".join(step.columns)}) FROM STDIN (FORMAT binary)'
                    await driver.copy_records_to_table(step.copy_into, records=step.rows, columns=step.columns)
                elif step.fence:
                    if len(await driver.fetch(sql, *step.rows[0])) != 1:
                        raise Fenced('the fencing check found no row')
                elif len(step.rows) == 1:
                    await driver.execute(sql, *step.rows[0])
                else:
                    await driver.executemany(sql, step.rows)
    except Fenced:
        raise
    except Exception as exc:
        raise translate_asyncpg_error(sql, exc, dbapi) from exc


def translate_asyncpg_error(sql: str, exc: Exception, dbapi: Any) -> Exception:
    """asyncpg's ``exc`` as Core raises it (see :func:`asyncpg_transaction`); anything else unchanged."""
    import asyncpg

    if not isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return exc
    mapping: Mapping[type, type] = getattr(dbapi, '_asyncpg_error_translate', {})
    adapted: Exception | None = None
    for kind in type(exc).__mro__:
        if kind in mapping:
            adapted = mapping[kind](exc.args[0] if exc.args else str(exc), exc)
            break
    if adapted is None:
        adapted = dbapi.Error(str(exc), exc)
    return DBAPIError.instance(sql, None, adapted, dbapi.Error)


def sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it: UTC text without offset, always microseconds.

    Byte-identical to what the ``UTCDateTime`` columns bind (``2025-06-01 09:00:00.000250``), so rows
    written either way read back the same through SQLAlchemy and sort the same as text.

    Every event row has one, so it is made fast: the text up to the second is kept for the seconds seen lately
    and the microseconds are looked up in two halves (``isoformat`` of an aware datetime costs three times as
    much). A time in the same second as the last one made (the common case: an execution's events come
    microseconds apart) takes its text from that second's at once, by two comparisons: half the cost again.
    """
    global _last_second
    if value is None:
        return None
    start, end, last_prefix = _last_second  # (one read: another thread may replace it meanwhile)
    if value.tzinfo is UTC and start <= value < end:
        microsecond = value.microsecond
        return last_prefix + _THREE_DIGITS[microsecond // 1000] + _THREE_DIGITS[microsecond % 1000]
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
    second = value.replace(microsecond=0, fold=0)
    _last_second = (second, second + _ONE_SECOND if second < _LAST_SECOND_OF_TIME else _FAR, prefix)
    return prefix + _THREE_DIGITS[microsecond // 1000] + _THREE_DIGITS[microsecond % 1000]


# The text up to the second of the seconds sqlite_time formatted lately (at most _SECONDS_KEPT of them: concurrent
# executions, or a history written at once, interleave a few); the digits of 0 to 999.
_SECONDS: dict[tuple[int, ...], str] = {}
_SECONDS_KEPT = 4096
_THREE_DIGITS = [f'{n:03d}' for n in range(1000)]
# The second (in UTC) of the last time sqlite_time made from its parts: its start, the next one's, and its text.
_FAR = datetime.max.replace(tzinfo=UTC)
_last_second: tuple[datetime, datetime, str] = (_FAR, _FAR, '')
_ONE_SECOND = timedelta(seconds=1)
_LAST_SECOND_OF_TIME = _FAR.replace(microsecond=0)


# --- LISTEN / NOTIFY ------------------------------------------------------------------------------------------------

Handler = Callable[[str | None], None]


class Listener:
    """LISTENs on PostgreSQL channels on a connection of its own, and hands each payload to its channel's handler.

    The connection never goes back to a pool (a pooled connection would keep delivering to old callbacks) and never
    sits in a transaction (an idle-in-transaction session receives nothing): it only LISTENs. Notifications sent
    while it is disconnected are lost, so after every (re)connect each handler is called with ``None``: re-read
    whatever may have been missed. A lost connection is noticed by the driver's termination callback or by a
    ``SELECT 1`` probe every ``probe_s`` seconds, and the listener connects again (after ``retry_s`` on failure).
    Handlers are synchronous and cheap (they wake a task); an exception in one is logged.
    """

    def __init__(
        self,
        url: str,
        handlers: Mapping[str, Handler],
        *,
        application_name: str,
        probe_s: float = 5.0,
        retry_s: float = 0.5,
    ) -> None:
        self._engine = create_async_engine(
            url, poolclass=NullPool, connect_args={'server_settings': {'application_name': application_name[:63]}}
        )
        self._handlers = dict(handlers)
        self.probe_s = probe_s
        self.retry_s = retry_s
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it has (re)connected

    async def run(self) -> None:
        """LISTEN until cancelled, connecting again whenever the connection is lost."""
        try:
            while True:
                try:
                    await self._listen()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning('database listener lost its connection; connecting again', exc_info=True)
                self.connected.clear()
                await asyncio.sleep(self.retry_s)
        finally:
            self.connected.clear()
            await self._engine.dispose()

    async def _listen(self) -> None:
        async with self._engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            for channel in self._handlers:
                await driver.add_listener(channel, self._deliver)
            self.connections += 1
            self.connected.set()
            for channel in self._handlers:
                self._call(channel, None)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.probe_s):
                        await lost.wait()
                if not lost.is_set():
                    async with asyncio.timeout(self.probe_s):
                        await driver.fetchval('SELECT 1')
            await conn.invalidate()

    def _deliver(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        self._call(channel, payload)

    def _call(self, channel: str, payload: str | None) -> None:
        try:
            self._handlers[channel](payload)
        except Exception:
            log.exception('database listener: the handler of %s failed', channel)
