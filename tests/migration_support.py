"""Databases as earlier flowmon versions left them, and the checks every migration test makes.

A migration test builds a database at the previous revision (:func:`database_at`; before migrations,
:func:`pre_alembic_database`), puts rows in it, upgrades it and checks the rows and the schema
(:func:`assert_at_head`). Rows go in and come out through the tables as the database has them (reflection),
not through today's table classes, which describe only the newest revision.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection

from flowmon.store import Database, migrate

PRE_ALEMBIC = Path(__file__).parent / 'pre_alembic'
# pre_alembic/<name>.sql: what flowmon's create_all made before migrations, captured by running that version
FIRST_VERSION = 'first_release'  # workflows, executions, node runs, events; no imported_from, no finished index
LAST_VERSION = 'last_release'  # the schema when Alembic took over: identical to the baseline revision
# pre_alembic/rows.sql: one finished run of the workflow 'greet', as the recorder wrote it
PRE_ALEMBIC_EXECUTION = '0a1b2c3d4e5f60718293a'


def pre_alembic_database(path: Path, schema: str) -> str:
    """A SQLite file as flowmon left it before migrations: ``schema`` with the rows of one finished run.

    Returns the database URL. Nothing of today's flowmon touches the file: the schema is the SQL that the old
    version's ``create_all`` ran, the rows are the rows its recorder wrote.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript((PRE_ALEMBIC / f'{schema}.sql').read_text(encoding='utf-8'))
        conn.executescript((PRE_ALEMBIC / 'rows.sql').read_text(encoding='utf-8'))
    return f'sqlite+aiosqlite:///{path}'


async def database_at(url: str, revision: str) -> Database:
    """A database brought to ``revision`` (the previous one, in a test of the next); the caller stops it."""
    database = Database(url)
    await database.upgrade(revision)
    assert await database.revision() == revision
    return database


async def table_rows(database: Database, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as the database has it, in primary key order."""
    async with database.engine.connect() as conn:
        reflected = await conn.run_sync(_reflect, table)
        result = await conn.execute(reflected.select().order_by(*reflected.primary_key.columns))
        return [dict(row._mapping) for row in result]


async def insert_rows(database: Database, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` as the database has it (columns by name, values as the driver takes them)."""
    async with database.engine.begin() as conn:
        reflected = await conn.run_sync(_reflect, table)
        await conn.execute(reflected.insert(), rows)


async def schema_diff(database: Database) -> str:
    """What the database lacks or has too many of against flowmon's table classes, as the Alembic operations that
    would fix it ('' when they agree): types, nullability, server defaults, indexes, tables."""
    async with database.engine.connect() as conn:
        return await conn.run_sync(_diff)


async def assert_at_head(database: Database) -> None:
    """The database is at the newest revision and its schema is exactly what the table classes describe."""
    assert await database.revision() == migrate.head()
    diff = await schema_diff(database)
    assert not diff, f'the migrated schema differs from the table classes; a new revision needs:\n{diff}'


def _reflect(conn: Connection, table: str) -> Table:
    return Table(table, MetaData(), autoload_with=conn)


def _diff(conn: Connection) -> str:
    options = {'compare_type': True, 'compare_server_default': True, 'include_name': migrate.include_name}
    context = MigrationContext.configure(conn, opts=options)
    operations = produce_migrations(context, migrate.target_metadata()).upgrade_ops
    if operations is None or operations.is_empty():
        return ''
    return render_python_code(operations, render_as_batch=conn.dialect.name == 'sqlite')
