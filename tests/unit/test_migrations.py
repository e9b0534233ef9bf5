"""Alembic owns the schema: the migrated schema is the table classes' schema, databases made before migrations are
adopted with their rows, and every revision has a test that upgrades a database made by the one before it.

Adding revision NNNN: write ``flowmon/store/migrations/versions/NNNN_<what>.py``, then add a test here named
``test_upgrade_to_NNNN_...`` that builds a database at the previous revision with :func:`database_at`, inserts rows
with :func:`insert_rows`, upgrades with ``database.upgrade()``, and checks the rows (:func:`table_rows`) and the
schema (:func:`assert_at_head`). The portable tests take ``url``: they run on SQLite and on PostgreSQL (a throwaway
server from the ``postgres_server`` fixture; ``FLOWMON_TEST_POSTGRES=0`` leaves PostgreSQL out).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from migration_support import (
    FIRST_VERSION,
    LAST_VERSION,
    PRE_ALEMBIC_EXECUTION,
    assert_at_head,
    database_at,
    insert_rows,
    pre_alembic_database,
    table_rows,
)
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from store_samples import chain

from flowmon.application.replays import ReplayLoader
from flowmon.automation.triggers import TriggerNotFound, TriggerService, TriggerUnauthorized
from flowmon.engine import default_registry
from flowmon.engine.model import Workflow
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.signing import new_secret
from flowmon.store import Database, History, WorkflowCatalog, migrate
from flowmon.store.migrate import BASELINE, SchemaError
from flowmon.store.trigger_secrets import TriggerSecrets
from flowmon.store.webhook_tables import automation

CORE_TABLES = ('workflows', 'executions', 'node_runs', 'events')
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def url(database_url: str) -> str:
    """An empty database: a SQLite file, or a fresh database on the throwaway PostgreSQL server."""
    return database_url


@pytest.fixture
async def databases() -> AsyncIterator[Callable[[str], Database]]:
    """``open(url)``: a Database that is stopped after the test."""
    opened: list[Database] = []

    def open_database(url: str) -> Database:
        opened.append(Database(url))
        return opened[-1]

    yield open_database
    for database in opened:
        await database.stop()


async def table_names(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


# --- the history of revisions -------------------------------------------------------------------------------------


def test_revisions_form_one_numbered_line_from_the_baseline() -> None:
    revisions = migrate.history()  # newest first
    ids = [revision.id for revision in reversed(revisions)]
    assert ids[0] == BASELINE and revisions[0].id == migrate.head()
    assert ids == [f'{n:04d}' for n in range(1, len(ids) + 1)]
    scripts = migrate.scripts()
    for previous, revision in zip([None, *ids], ids, strict=False):
        script = scripts.get_revision(revision)
        assert script is not None and script.down_revision == previous
        assert Path(script.path).name.startswith(f'{revision}_'), script.path
        assert script.doc, f'revision {revision} needs a docstring: its first line is what `db history` shows'


def test_every_revision_has_an_upgrade_test() -> None:
    """The rule for schema changes: each revision comes with a test that upgrades a database made by the one before."""
    tests = [name for name in globals() if name.startswith('test_upgrade_to_')]
    for revision in migrate.history():
        assert any(name.startswith(f'test_upgrade_to_{revision.id}_') for name in tests), revision.id


# --- any dialect --------------------------------------------------------------------------------------------------


async def test_a_new_database_gets_exactly_the_schema_of_the_table_classes(
    url: str, databases: Callable[[str], Database]
) -> None:
    database = databases(url)
    report = await database.start()
    assert (report.before, report.after, report.adopted) == (None, migrate.head(), None)
    assert [revision.id for revision in report.applied] == [revision.id for revision in reversed(migrate.history())]
    await assert_at_head(database)

    again = await database.start()
    assert not again.changed and again.applied == ()
    assert again.lines() == [f'already at {migrate.head()}: nothing to do']


async def test_upgrade_to_0001_gives_a_database_made_before_migrations_what_it_lacks(
    url: str, databases: Callable[[str], Database]
) -> None:
    """Portable: the baseline's tables, then made to look like an earlier flowmon's (no version, a column, an index
    and a table missing), with a row; start-up adds what is missing, stamps the baseline and keeps the row."""
    database = await database_at(url, BASELINE)
    row = {'id': 'w', 'name': 'W', 'definition': '{}', 'created_at': T0, 'updated_at': T0}
    await insert_rows(database, 'workflows', [row])
    async with database.engine.begin() as conn:
        for statement in (
            'DROP TABLE alembic_version',
            'DROP INDEX ix_executions_finished',
            'ALTER TABLE executions DROP COLUMN imported_from',
            'DROP TABLE secrets',
        ):
            await conn.execute(text(statement))
    assert await database.revision() is None

    report = await databases(url).start()

    assert report.adopted == (
        'added column executions.imported_from',
        'created index ix_executions_finished',
        'created table secrets',
    )
    assert (report.before, report.after) == (None, migrate.head())
    assert [revision.id for revision in report.applied] == [r.id for r in reversed(migrate.history())][1:]
    assert [row['id'] for row in await table_rows(database, 'workflows')] == ['w']
    await assert_at_head(database)


async def test_upgrade_to_0003_adds_process_leases_owners_and_ticks_and_keeps_the_rows(
    url: str, databases: Callable[[str], Database]
) -> None:
    """Portable: an execution still running and a delivery in flight at 0002 keep every value; the new columns are
    empty (no owner: start-up recovery treats such an execution as nobody's) and the new tables exist."""
    database = await database_at(url, '0002')
    running = {
        'id': 'e1', 'workflow_id': 'w', 'status': 'running', 'priority': 0, 'input': '{}', 'created_at': T0,
        'nodes_done': 0, 'nodes_total': 2, 'last_seq': 3,
    }  # fmt: skip
    delivery = {
        'id': 'd1', 'webhook_id': 'msg_1', 'source': 'api', 'url': 'https://example.org/hook', 'method': 'POST',
        'headers': '{}', 'body': b'{}', 'status': 'sending', 'attempts': 1, 'round_base': 0, 'max_attempts': 3,
        'created_at': T0, 'updated_at': T0,
    }  # fmt: skip
    await insert_rows(database, 'executions', [running])
    await insert_rows(database, 'webhook_deliveries', [delivery])

    report = await databases(url).start()

    assert [revision.id for revision in report.applied] == ['0003', '0004', '0005', '0006', '0007', '0008', '0009']
    (execution,) = await table_rows(database, 'executions')
    assert (execution['owner'], execution['cancel_requested_at']) == (None, None)
    created = execution.pop('created_at')  # SQLite's reflected DateTime reads back naive (UTC)
    assert (
        created.replace(tzinfo=created.tzinfo or UTC),
        {key: execution[key] for key in running if key != 'created_at'},
    ) == (T0, {key: value for key, value in running.items() if key != 'created_at'})
    (stored,) = await table_rows(database, 'webhook_deliveries')
    assert stored['claimed_by'] is None and stored['status'] == 'sending'
    assert await table_rows(database, 'processes') == []
    assert await table_rows(database, 'schedule_ticks') == []
    await assert_at_head(database)


async def test_upgrade_to_0004_indexes_what_old_executions_hold_and_starts_with_no_saved_views(
    url: str, databases: Callable[[str], Database]
) -> None:
    """Executions recorded at 0003 become searchable by their stored input and error message (their node outputs are
    not indexed); the index keeps up with later changes of the rows (on SQLite through the FTS5 triggers)."""
    database = await database_at(url, '0003')
    common = {'workflow_id': 'orders', 'priority': 0, 'created_at': T0, 'nodes_done': 1, 'nodes_total': 1}
    common['last_seq'] = 2
    await insert_rows(
        database,
        'executions',
        [
            {**common, 'id': 'paid', 'status': 'succeeded', 'input': '{"order_id":"A-1001"}', 'error': None},
            {**common, 'id': 'refused', 'status': 'failed', 'input': '{"order_id":"B-2002"}',
             'error': "node 'charge' failed: card declined"},
            {**common, 'id': 'bare', 'status': 'succeeded', 'input': None, 'error': None},
        ],
    )  # fmt: skip

    report = await databases(url).start()

    assert [revision.id for revision in report.applied] == ['0004', '0005', '0006', '0007', '0008', '0009']
    rows = {row['execution_id']: row['text'] for row in await table_rows(database, 'execution_search')}
    assert rows == {
        'paid': '{"order_id":"A-1001"}\n',
        'refused': '{"order_id":"B-2002"}\nnode \'charge\' failed: card declined',
        'bare': '\n',
    }
    assert await table_rows(database, 'saved_views') == []
    await assert_at_head(database)
    history = History(database)
    for query, found in (('a-1001', ['paid']), ('CARD DECL', ['refused']), ('order_id', ['paid', 'refused'])):
        records, total = await history.list_executions(q=query)
        assert sorted(record.id for record in records) == found and total == len(found)
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE execution_search SET text = 'A-1001 again' WHERE execution_id = 'refused'"))
        await conn.execute(text("DELETE FROM execution_search WHERE execution_id = 'paid'"))
    assert [record.id for record in (await history.list_executions(q='A-1001'))[0]] == ['refused']
    assert (await history.list_executions(q='declined'))[1] == 0


async def test_start_logs_what_it_did_in_its_own_words(
    tmp_path: Path, databases: Callable[[str], Database], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    database = databases(f'sqlite+aiosqlite:///{tmp_path}/flowmon.db')
    await database.start()
    await database.start()  # nothing to do: nothing logged
    expected = [f'applied {revision.id}: {revision.message}' for revision in reversed(migrate.history())]
    expected.append(f'now at {migrate.head()}')
    assert [(record.name, record.getMessage()) for record in caplog.records] == [
        ('flowmon.store.database', f'database schema: {line}') for line in expected
    ]  # and none of Alembic's own INFO lines


async def test_processes_starting_together_migrate_once(url: str, databases: Callable[[str], Database]) -> None:
    """Each Database has its own pool, as separate processes would: the schema lock makes them take turns."""
    reports = await asyncio.gather(*(databases(url).start() for _ in range(3)))
    assert sorted(bool(report.applied) for report in reports) == [False, False, True]
    await assert_at_head(databases(url))


async def test_a_sqlite_file_locked_by_another_process_is_switched_to_wal_once_it_is_free(
    tmp_path: Path, databases: Callable[[str], Database]
) -> None:
    """A file still in rollback-journal mode whose write lock another process holds (as when processes create a new
    file together): SQLite refuses the switch to WAL at once, without its busy timeout; the connection waits its
    turn instead of failing with 'database is locked'."""
    path = tmp_path / 'flowmon.db'
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute('CREATE TABLE taken (x)')
    other.execute('BEGIN IMMEDIATE')
    other.execute('INSERT INTO taken VALUES (1)')
    asyncio.get_running_loop().call_later(0.3, other.execute, 'COMMIT')
    try:
        database = databases(f'sqlite+aiosqlite:///{path}')
        report = await database.start()
    finally:
        other.close()
    assert report.applied
    async with database.engine.connect() as conn:
        assert (await conn.exec_driver_sql('PRAGMA journal_mode')).scalar_one() == 'wal'
        assert (await conn.exec_driver_sql('SELECT x FROM taken')).scalars().all() == [1]


async def test_a_failed_migration_leaves_the_database_as_it_was(url: str, databases: Callable[[str], Database]) -> None:
    """The baseline creates ``workflows`` last; a view of that name makes it fail after every other table was made."""
    database = databases(url)
    async with database.engine.begin() as conn:
        await conn.execute(text('CREATE VIEW workflows AS SELECT 1 AS id'))
    with pytest.raises(DBAPIError, match='workflows'):
        await database.start()
    assert await table_names(database) == set()  # DDL is transactional on both dialects: nothing half-made stays
    assert await database.revision() is None

    async with database.engine.begin() as conn:
        await conn.execute(text('DROP VIEW workflows'))
    await database.start()
    await assert_at_head(database)


async def test_revisions_this_flowmon_does_not_know_are_refused(url: str, databases: Callable[[str], Database]) -> None:
    database = databases(url)
    with pytest.raises(SchemaError, match=r"unknown revision '0999': this flowmon knows 0001"):
        await database.upgrade('0999')
    assert await table_names(database) == set()

    await database.start()
    async with database.engine.begin() as conn:  # as if a newer flowmon had upgraded it
        await conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(SchemaError, match=r"at revision '0999', which this flowmon does not know.*newer flowmon"):
        await databases(url).start()
    assert await database.revision() == '0999'


async def test_upgrade_to_0002_adds_snapshots_and_triggers_and_keeps_old_executions_readable(
    url: str, databases: Callable[[str], Database]
) -> None:
    """Executions recorded at 0001 carry their definition inline and no trigger: they keep both (no hash; a rerun is
    known to be a rerun), and still replay with their definition; the snapshot table starts empty."""
    database = await database_at(url, BASELINE)
    definition = {'id': 'greet', 'name': 'Greet', 'nodes': [{'id': 'hello', 'type': 'log', 'config': {}}]}
    common = {'workflow_id': 'greet', 'status': 'succeeded', 'priority': 0, 'input': '{}', 'nodes_done': 1}
    await insert_rows(
        database,
        'executions',
        [
            {**common, 'id': 'first', 'created_at': T0, 'nodes_total': 1, 'last_seq': 2, 'retry_of': None},
            {**common, 'id': 'second', 'created_at': T0, 'nodes_total': 1, 'last_seq': 2, 'retry_of': 'first'},
        ],
    )
    queued = {'workflow_id': 'greet', 'input': {}, 'nodes': ['hello'], 'retry_of': None, 'workflow': definition}
    await insert_rows(
        database,
        'events',
        [
            {'execution_id': 'first', 'seq': 1, 'ts': T0, 'type': 'execution.queued', 'data': json.dumps(queued)},
            {'execution_id': 'first', 'seq': 2, 'ts': T0, 'type': 'execution.completed', 'data': '{}'},
        ],
    )

    report = await databases(url).start()

    applied = [revision.id for revision in report.applied]
    assert applied == ['0002', '0003', '0004', '0005', '0006', '0007', '0008', '0009']
    rows = await table_rows(database, 'executions')
    assert [(row['id'], row['trigger_type'], row['workflow_hash']) for row in rows] == [
        ('first', None, None),
        ('second', 'rerun', None),
    ]
    assert await table_rows(database, 'workflow_snapshots') == []
    await assert_at_head(database)
    index = await ReplayLoader(History(database)).open('first')
    assert index is not None and index.workflow == definition
    assert index.final is not None and index.final.trigger is None


async def test_upgrade_to_0005_gives_node_runs_their_workflow(url: str, databases: Callable[[str], Database]) -> None:
    """Node runs written at 0004 learn the workflow of their execution; a row whose execution is gone keeps none."""
    database = await database_at(url, '0004')
    common = {'status': 'succeeded', 'priority': 0, 'input': '{}', 'nodes_done': 1, 'nodes_total': 1, 'last_seq': 2}
    await insert_rows(
        database,
        'executions',
        [
            {**common, 'id': 'first', 'workflow_id': 'greet', 'created_at': T0},
            {**common, 'id': 'other', 'workflow_id': 'billing', 'created_at': T0},
        ],
    )
    run = {'status': 'succeeded', 'attempts': 1, 'started_at': T0, 'finished_at': T0, 'duration_ms': 5.0}
    await insert_rows(
        database,
        'node_runs',
        [
            {**run, 'execution_id': 'first', 'node_id': 'hello', 'reused': False},
            {**run, 'execution_id': 'gone', 'node_id': 'hello', 'reused': False},
            {**run, 'execution_id': 'other', 'node_id': 'hello', 'reused': False},
        ],
    )

    report = await databases(url).start()

    assert [revision.id for revision in report.applied] == ['0005', '0006', '0007', '0008', '0009']
    rows = await table_rows(database, 'node_runs')
    assert [(row['execution_id'], row['node_id'], row['workflow_id']) for row in rows] == [
        ('first', 'hello', 'greet'),
        ('gone', 'hello', None),
        ('other', 'hello', 'billing'),
    ]
    await assert_at_head(database)


async def test_upgrade_to_0006_counts_the_nodes_that_succeeded_in_ended_runs(
    url: str, databases: Callable[[str], Database]
) -> None:
    """An ended run learns how many of its nodes succeeded from its node runs (a cancelled run of three: one); a
    running one keeps None, for the recorder to write when it ends, and so does an ended one without node runs (a
    crash between the recorder's two transactions), for start-up to count when it derives them."""
    database = await database_at(url, '0005')
    common = {'workflow_id': 'greet', 'priority': 0, 'input': '{}', 'nodes_total': 3, 'created_at': T0, 'last_seq': 9}
    await insert_rows(
        database,
        'executions',
        [
            {**common, 'id': 'cancelled', 'status': 'cancelled', 'nodes_done': 3},
            {**common, 'id': 'fine', 'status': 'succeeded', 'nodes_done': 3},
            {**common, 'id': 'running', 'status': 'running', 'nodes_done': 1},
            {**common, 'id': 'failed', 'status': 'failed', 'nodes_done': 3},
            {**common, 'id': 'interrupted', 'status': 'interrupted', 'nodes_done': 3},
            {**common, 'id': 'no-runs', 'status': 'failed', 'nodes_done': 3},
        ],
    )
    run = {'workflow_id': 'greet', 'attempts': 1, 'started_at': T0, 'finished_at': T0, 'duration_ms': 5.0}
    runs = [('cancelled', 'a', 'succeeded'), ('cancelled', 'b', 'cancelled'), ('cancelled', 'c', 'cancelled')]
    runs += [('fine', node, 'succeeded') for node in 'abc'] + [('running', 'a', 'succeeded')]
    runs += [('failed', 'a', 'succeeded'), ('failed', 'b', 'succeeded'), ('failed', 'c', 'failed')]
    runs += [('interrupted', 'a', 'cancelled'), ('interrupted', 'b', 'cancelled'), ('interrupted', 'c', 'cancelled')]
    await insert_rows(
        database,
        'node_runs',
        [{**run, 'execution_id': e, 'node_id': n, 'status': status, 'reused': False} for e, n, status in runs],
    )

    report = await databases(url).start()

    assert [revision.id for revision in report.applied] == ['0006', '0007', '0008', '0009']
    rows = {row['id']: row for row in await table_rows(database, 'executions')}
    assert {key: row['nodes_succeeded'] for key, row in rows.items()} == {
        'cancelled': 1, 'fine': 3, 'running': None, 'failed': 2, 'interrupted': 0, 'no-runs': None
    }  # fmt: skip
    assert rows['cancelled']['nodes_done'] == 3 and rows['running']['nodes_done'] == 1
    await assert_at_head(database)


async def inbound_id_upgraded_from(
    revision: str, url: str, databases: Callable[[str], Database]
) -> tuple[Database, list[str]]:
    """A database at ``revision`` that remembers one inbound webhook id, upgraded to the head; the revisions
    applied."""
    database = await database_at(url, revision)
    row = {'workflow_id': 'hooked', 'webhook_id': 'msg_1', 'execution_id': 'run-1', 'received_at': T0}
    await insert_rows(database, 'webhook_inbound', [row])
    report = await databases(url).start()
    return database, [applied.id for applied in report.applied]


async def test_upgrade_to_0007_finds_inbound_webhook_ids_by_their_execution(
    url: str, databases: Callable[[str], Database]
) -> None:
    database, applied = await inbound_id_upgraded_from('0006', url, databases)

    assert applied == ['0007', '0008', '0009']
    assert [item['execution_id'] for item in await table_rows(database, 'webhook_inbound')] == ['run-1']
    async with database.engine.connect() as conn:
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes('webhook_inbound'))
    assert {index['name']: index['column_names'] for index in indexes}['ix_webhook_inbound_execution'] == [
        'execution_id'
    ]
    await assert_at_head(database)


async def test_upgrade_to_0008_keeps_inbound_webhook_ids_without_a_body_hash(
    url: str, databases: Callable[[str], Database]
) -> None:
    """An id kept before the hash of its body was has none: a later call with it is taken for a retry."""
    database, applied = await inbound_id_upgraded_from('0007', url, databases)

    assert applied == ['0008', '0009']
    rows = await table_rows(database, 'webhook_inbound')
    assert [(item['execution_id'], item['body_sha256']) for item in rows] == [('run-1', None)]
    await assert_at_head(database)


async def test_upgrade_to_0009_marks_the_trigger_of_each_stored_workflow_on_or_off(
    url: str, databases: Callable[[str], Database]
) -> None:
    """Automation rows kept at 0008 say after the upgrade whether their workflow's stored definition accepts
    triggers: a workflow whose trigger was switched off, which kept its secret, is refused from that row alone (its
    definition is not read); one that accepts triggers keeps taking calls signed with its secret."""
    database = await database_at(url, '0008')
    box = SecretBox(new_key())
    definitions = {
        'hooked': {**chain('hooked'), 'trigger': {'enabled': True}},
        'implicit': {**chain('implicit'), 'trigger': {}},  # ("enabled" is true when left out)
        'off': {**chain('off'), 'trigger': {'enabled': False}},
        'paused': chain('paused'),  # never accepted triggers; its schedule was paused
    }
    stored = [
        {'id': key, 'name': key, 'definition': json.dumps(value), 'created_at': T0, 'updated_at': T0}
        for key, value in definitions.items()
    ]
    await insert_rows(database, 'workflows', stored)
    secrets = {key: new_secret() for key in ('hooked', 'implicit', 'off', 'gone')}
    await insert_rows(
        database,
        'workflow_automation',
        [
            {'workflow_id': key, 'schedule_paused': key == 'paused', 'updated_at': T0,
             'previous_trigger_secret': None, 'previous_trigger_secret_expires_at': None,
             **box.seal_row(automation, key, {'trigger_secret': secrets.get(key)})}
            for key in ('gone', 'hooked', 'implicit', 'off', 'paused')
        ],
    )  # fmt: skip

    report = await databases(url).start()

    assert [revision.id for revision in report.applied] == ['0009']
    rows = await table_rows(database, 'workflow_automation')
    assert {row['workflow_id']: row['trigger_enabled'] for row in rows} == {
        'gone': False,  # (no workflow: nothing to start)
        'hooked': True,
        'implicit': True,
        'off': False,
        'paused': False,
    }
    kept = {row['workflow_id']: box.open_row(automation, row['workflow_id'], row)['trigger_secret'] for row in rows}
    assert kept == {**secrets, 'paused': None}  # the secrets stay: switched on again, a trigger works with its own
    await assert_at_head(database)

    catalog = WorkflowCatalog(History(database), default_registry())
    read: list[str] = []
    definition_of = catalog.get

    async def reading(workflow_id: str) -> Workflow | None:
        read.append(workflow_id)
        return await definition_of(workflow_id)

    catalog.get = reading  # type: ignore[method-assign]
    service = TriggerService(database, catalog, _starts_nothing, TriggerSecrets(database, box))
    for workflow_id in ('off', 'gone', 'paused', 'nope'):
        with pytest.raises(TriggerNotFound, match='no trigger at this address'):
            await service.receive(workflow_id, {}, b'{}')
    assert read == []  # each refused from its automation row alone
    for workflow_id in ('hooked', 'implicit'):  # a trigger: a call without a signature is what it lacks
        with pytest.raises(TriggerUnauthorized):
            await service.receive(workflow_id, {}, b'{}')
    assert read == ['hooked', 'implicit']


async def _starts_nothing(*_: Any, **__: Any) -> str:
    raise AssertionError('nothing may start')


# --- SQLite: databases as earlier flowmon versions made them ------------------------------------------------------


async def test_upgrade_to_0001_adopts_the_last_database_made_before_migrations(
    tmp_path: Path, databases: Callable[[str], Database]
) -> None:
    url = pre_alembic_database(tmp_path / 'flowmon.db', LAST_VERSION)
    old = databases(url)
    before = {table: await table_rows(old, table) for table in CORE_TABLES}
    assert await old.revision() is None

    report = await databases(url).start()

    assert report.adopted == ()  # the baseline is this schema: nothing to add
    assert report.lines()[0] == f'adopted a database made before migrations (nothing was missing); stamped {BASELINE}'
    rows = {table: await table_rows(old, table) for table in CORE_TABLES}
    assert [(row['trigger_type'], row['workflow_hash']) for row in rows['executions']] == [(None, None)]
    assert {row['workflow_id'] for row in rows['node_runs']} == {'greet'}  # added in 0005, from the execution
    assert {table: _columns_of(rows[table], before[table]) for table in CORE_TABLES} == before
    await assert_at_head(old)
    await _reads_the_old_execution(old, imported_from=None)


async def test_upgrade_to_0001_repairs_a_database_made_by_the_first_version(
    tmp_path: Path, databases: Callable[[str], Database]
) -> None:
    """The first version had four tables; later versions added a column and tables at start-up, and an index that
    start-up never added to an existing table. Adoption brings it to the baseline with every row intact."""
    url = pre_alembic_database(tmp_path / 'flowmon.db', FIRST_VERSION)
    old = databases(url)
    before = {table: await table_rows(old, table) for table in CORE_TABLES}

    report = await databases(url).start()

    assert report.adopted == (
        'added column executions.imported_from',
        'created index ix_executions_finished',
        'created table secrets',
        'created table webhook_attempts',
        'created index ix_webhook_attempts_delivery_n',
        'created table webhook_deliveries',
        'created index ix_webhook_deliveries_created',
        'created index ix_webhook_deliveries_endpoint_created',
        'created index ix_webhook_deliveries_finished',
        'created index ix_webhook_deliveries_source_key',
        'created index ix_webhook_deliveries_status_next',
        'created table webhook_endpoints',
        'created table webhook_inbound',
        'created index ix_webhook_inbound_received',
        'created table workflow_automation',
    )
    rows = {table: await table_rows(old, table) for table in CORE_TABLES}
    assert [(row['trigger_type'], row['workflow_hash']) for row in rows['executions']] == [(None, None)]
    after = {table: _columns_of(rows[table], before[table], 'imported_from') for table in CORE_TABLES}
    assert [row.pop('imported_from') for row in after['executions']] == [None]
    assert {row['workflow_id'] for row in rows['node_runs']} == {'greet'}  # added in 0005, from the execution
    assert after == before
    await assert_at_head(old)
    await _reads_the_old_execution(old, imported_from=None)


def _columns_of(rows: list[dict[str, Any]], before: list[dict[str, Any]], *kept: str) -> list[dict[str, Any]]:
    """``rows`` with only the columns the rows ``before`` had (and ``kept``): later revisions add columns."""
    names = {name for row in before for name in row} | set(kept)
    return [{name: value for name, value in row.items() if name in names} for row in rows]


async def _reads_the_old_execution(database: Database, *, imported_from: str | None) -> None:
    history = History(database)
    records, total = await history.list_executions()
    assert total == 1 and records[0].id == PRE_ALEMBIC_EXECUTION
    assert (records[0].status, records[0].imported_from) == ('succeeded', imported_from)
    state = await history.load_state(PRE_ALEMBIC_EXECUTION)
    assert state is not None and state.status == 'succeeded'
    assert {node_id: node.status for node_id, node in state.nodes.items()} == {
        'hello': 'succeeded',
        'report': 'succeeded',
    }
    stored = await history.get_workflow('greet')
    assert stored is not None and stored.name == 'Greet'


async def test_the_revision_of_a_missing_database_is_none_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / 'data' / 'flowmon.db'
    database = Database(f'sqlite+aiosqlite:///{path}')
    try:
        assert await database.revision() is None
    finally:
        await database.stop()
    assert not path.parent.exists()


def test_the_report_says_what_happened_in_one_line_per_step() -> None:
    report = migrate.MigrationReport(
        before=None,
        after='0002',
        applied=(migrate.Revision('0002', 'Retention: executions.keep_until.'),),
        adopted=('added column executions.imported_from',),
    )
    assert report.lines() == [
        'adopted a database made before migrations (added column executions.imported_from); stamped 0001',
        'applied 0002: Retention: executions.keep_until.',
        'now at 0002',
    ]
