"""Store contract: the bulk writer's transactions of pre-encoded rows (the recorder's hot path) insert and update every
row they are given, in order, whatever the count; on SQLite many rows go in one statement (a statement of hundreds of
rows, then the rest in halving runs, each under the driver's limit of bind variables), on PostgreSQL by COPY."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flowmon.store import Database, dialect
from flowmon.store.tables import ExecutionRow

EXECUTIONS = ExecutionRow.__table__  # type: ignore[attr-defined]
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
COLUMNS = ('id', 'workflow_id', 'status', 'priority', 'input', 'created_at', 'nodes_done', 'nodes_total', 'last_seq')


def rows(db: Database, count: int, start: int = 0) -> list[tuple[object, ...]]:
    created = db.bulk_insert(EXECUTIONS, COLUMNS).encode_time(T0)  # as the driver takes it
    return [
        (f'e{i:05d}', f'wf-{i % 7}', 'running', i % 3, f'{{"n":{i}}}', created, 0, 3, i)
        for i in range(start, start + count)
    ]


async def stored(db: Database) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        result = await conn.execute(
            select(EXECUTIONS.c.id, EXECUTIONS.c.workflow_id, EXECUTIONS.c.status, EXECUTIONS.c.last_seq).order_by(
                EXECUTIONS.c.id
            )
        )
        return [tuple(row) for row in result]


@pytest.mark.parametrize('count', [1, 2, 3, 511, 512, 513, 5000])
async def test_an_insert_of_any_count_stores_every_row_once(db: Database, count: int) -> None:
    given = rows(db, count)
    insert = db.bulk_insert(EXECUTIONS, COLUMNS)
    writer = db.bulk_writer()
    await writer.open()
    try:
        await writer.submit([(insert, given)])
    finally:
        await writer.close()

    assert await stored(db) == [(row[0], row[1], row[2], row[-1]) for row in given]


async def test_an_update_of_many_rows_changes_those_rows_and_no_other(db: Database) -> None:
    insert = db.bulk_insert(EXECUTIONS, COLUMNS)
    update = db.bulk_update(EXECUTIONS, ('status', 'last_seq'), 'id')
    writer = db.bulk_writer()
    await writer.write([(insert, rows(db, 1200))])
    changed = [('succeeded', 10_000 + i, f'e{i:05d}') for i in range(0, 1200, 2)]  # every other row
    missing = [('failed', 1, 'no-such-execution')]  # an UPDATE of a row that is not there changes nothing

    await writer.write([(update, [*changed, *missing])])

    after = {row[0]: (row[2], row[3]) for row in await stored(db)}
    assert len(after) == 1200
    for i in range(1200):
        assert after[f'e{i:05d}'] == (('succeeded', 10_000 + i) if i % 2 == 0 else ('running', i))


async def test_a_taken_key_fails_the_whole_transaction(db: Database) -> None:
    insert = db.bulk_insert(EXECUTIONS, COLUMNS)
    writer = db.bulk_writer()
    await writer.write([(insert, rows(db, 10))])
    with pytest.raises(IntegrityError):
        await writer.write([(insert, rows(db, 600, start=10)), (insert, rows(db, 1, start=3))])
    assert len(await stored(db)) == 10  # none of the 600 new rows either


@pytest.mark.parametrize(
    ('limit', 'count', 'runs'),
    [
        (100, 29, [8, 8, 8, 4, 1]),  # SQLite's limit: 7 columns go 8 rows to a statement at the most
        (None, 5000, [1024, 1024, 1024, 1024, 512, 256, 128, 8]),  # flowmon's: 8,192 variables over 7 columns
    ],
)
def test_sqlite_statements_stay_under_the_bind_variable_limits(limit: int | None, count: int, runs: list[int]) -> None:
    conn = sqlite3.connect(':memory:')
    conn.execute('CREATE TABLE t (a, b, c, d, e, f, g)')
    if limit is not None:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    many = dialect.ManyRows.of('INSERT INTO t (a, b, c, d, e, f, g) VALUES (?, ?, ?, ?, ?, ?, ?)')
    assert many is not None
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    given = [(i, i, i, i, i, i, i) for i in range(count)]

    dialect.write_many_rows(conn, many, given)

    assert conn.execute('SELECT a FROM t ORDER BY rowid').fetchall() == [(i,) for i in range(count)]
    assert [statement.count('(') - 1 for statement in statements if statement.startswith('INSERT')] == runs


def test_only_an_insert_of_one_row_of_parameters_is_split() -> None:
    assert dialect.ManyRows.of('INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING') == dialect.ManyRows(
        'INSERT INTO t (a, b) VALUES ', '(?, ?)', ' ON CONFLICT (a) DO NOTHING'
    )
    assert dialect.ManyRows.of('UPDATE t SET a=? WHERE b = ?') is None
    assert dialect.ManyRows.of('INSERT INTO t (a) SELECT a FROM u WHERE a = ?') is None
