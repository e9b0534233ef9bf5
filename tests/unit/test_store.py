"""The store: schema and WAL, history queries, the workflow catalog and start-up recovery."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sample_workflows import SLOW_CHAIN as SLOW
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from store_samples import chain, run_events
from waiting import until

from flowmon.engine import Engine, Event, EventBus, EventType, Workflow, WorkflowError, default_registry, fold
from flowmon.engine import parse_workflow as _parse
from flowmon.engine.core.snapshot import workflow_snapshot
from flowmon.settings import Settings
from flowmon.store import Database, EventRecorder, History, WorkflowCatalog, interrupt_unfinished
from flowmon.store import catalog as catalog_module
from flowmon.store.tables import NodeRunRow

NODE_RUNS = NodeRunRow.__table__  # type: ignore[attr-defined]
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalog(history: History) -> WorkflowCatalog:
    return WorkflowCatalog(history, default_registry())


def events_for(execution_id: str, workflow_id: str, created: datetime, status: str) -> list[Event]:
    """The events that leave an execution of a one-node workflow in ``status``."""
    return run_events(execution_id, workflow_id, created, status, input={})


# --- database ---------------------------------------------------------------------------------------


async def test_start_creates_the_tables_in_wal_mode(database: Database) -> None:
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        mode = (await conn.execute(text('PRAGMA journal_mode'))).scalar_one()
    assert {'workflows', 'executions', 'node_runs', 'events'} <= tables
    assert mode.lower() == 'wal'
    assert database.is_sqlite


async def test_start_is_repeatable_and_keeps_data(database: Database, history: History) -> None:
    await history.put_workflow('w', 'W', chain('w'), T0)
    await database.start()
    assert (await history.get_workflow('w')) is not None


async def test_database_file_is_created_under_a_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / 'deep' / 'er' / 'flowmon.db'
    db = Database(f'sqlite+aiosqlite:///{path}')
    try:
        await db.start()
    finally:
        await db.stop()
    assert path.is_file()


async def test_a_connection_closed_amid_a_query_lets_go_of_the_write_lock(database: Database) -> None:
    """SQLAlchemy closes a connection whose task was cancelled in the middle of a statement. A query whose rows
    were not all read yet then kept the connection, its transaction and the database's write lock alive until the
    garbage collector came: every other write waited 30 s and failed (a stop of flowmon hung behind it)."""
    path = make_url(database.url).database
    async with database.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute('CREATE TABLE scratch (n INTEGER)')
        await driver.execute('INSERT INTO scratch VALUES (1), (2), (3)')  # a write: the transaction holds the lock
        unfinished = await driver.execute('SELECT n FROM scratch')  # one row read, two to go
        await conn.invalidate()  # what a cancellation amid a statement leads to: the connection is closed
        other = sqlite3.connect(path, timeout=1)
        try:
            other.execute('CREATE TABLE written (n INTEGER)')  # fails with "database is locked" if still held
            other.commit()
        finally:
            other.close()
    assert unfinished is not None


# --- history: executions ----------------------------------------------------------------------------


@pytest.fixture
async def seeded(recorder: EventRecorder) -> list[tuple[str, str, datetime, str]]:
    """Ten executions of two workflows, one minute apart, in every status (id, workflow, created, status)."""
    statuses = ['succeeded', 'failed', 'succeeded', 'running', 'queued', 'cancelled', 'succeeded', 'failed', 'x', 'y']
    rows = []
    for n, status in enumerate(statuses):
        status = 'succeeded' if status in ('x', 'y') else status
        rows.append((f'exec-{n:02d}', 'orders' if n % 2 == 0 else 'refunds', T0 + timedelta(minutes=n), status))
    # Written out of order, in one batch: the order must come from created_at, not from insertion.
    batch = [event for row in reversed(rows) for event in events_for(*row)]
    await recorder.write(batch)
    return rows


async def test_list_executions_is_newest_first_with_a_total(history: History, seeded: list[Any]) -> None:
    records, total = await history.list_executions()
    assert total == 10
    assert [r.id for r in records] == [row[0] for row in reversed(seeded)]
    newest = records[0]
    assert (newest.workflow_id, newest.status, newest.created_at) == ('refunds', 'succeeded', T0 + timedelta(minutes=9))
    assert (newest.nodes_done, newest.nodes_total) == (1, 1)
    assert newest.to_json()['progress'] == {'done': 1, 'total': 1, 'succeeded': 1}
    assert json.loads(json.dumps(newest.to_json()))['id'] == 'exec-09'


async def test_list_executions_pages_with_limit_and_offset(history: History, seeded: list[Any]) -> None:
    everything = [row[0] for row in reversed(seeded)]
    pages = []
    for offset in range(0, 10, 3):
        records, total = await history.list_executions(limit=3, offset=offset)
        assert total == 10
        pages.append([r.id for r in records])
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert [record_id for page in pages for record_id in page] == everything
    records, total = await history.list_executions(limit=3, offset=50)
    assert (records, total) == ([], 10)


async def test_list_executions_filters(history: History, seeded: list[Any]) -> None:
    async def ids(**filters: Any) -> tuple[list[str], int]:
        records, total = await history.list_executions(**filters)
        return [r.id for r in records], total

    assert await ids(workflow_id='refunds') == (['exec-09', 'exec-07', 'exec-05', 'exec-03', 'exec-01'], 5)
    assert await ids(status='failed') == (['exec-07', 'exec-01'], 2)
    assert await ids(status=['running', 'queued']) == (['exec-04', 'exec-03'], 2)
    assert await ids(workflow_id='orders', status='succeeded') == (['exec-08', 'exec-06', 'exec-02', 'exec-00'], 4)
    # since is inclusive, until exclusive
    assert await ids(since=T0 + timedelta(minutes=7)) == (['exec-09', 'exec-08', 'exec-07'], 3)
    assert await ids(until=T0 + timedelta(minutes=2)) == (['exec-01', 'exec-00'], 2)
    window = {'since': T0 + timedelta(minutes=2), 'until': T0 + timedelta(minutes=5)}
    assert await ids(**window) == (['exec-04', 'exec-03', 'exec-02'], 3)
    assert await ids(workflow_id='orders', limit=2, offset=1, **window) == (['exec-02'], 2)
    assert await ids(workflow_id='nope') == ([], 0)
    assert await ids(status='interrupted') == ([], 0)


async def test_get_execution_and_unfinished_ids(history: History, seeded: list[Any]) -> None:
    record = await history.get_execution('exec-01')
    assert record is not None
    assert (record.status, record.error, record.finished_at) == (
        'failed',
        'no',
        T0 + timedelta(minutes=1, milliseconds=4),
    )
    assert await history.get_execution('missing') is None
    assert sorted(await history.unfinished_execution_ids()) == ['exec-03', 'exec-04']


async def test_events_paging_and_load_state(history: History, seeded: list[Any]) -> None:
    stored = await history.events('exec-00')
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert stored == events_for(*seeded[0])
    assert [e.seq for e in await history.events('exec-00', after_seq=2)] == [3, 4, 5]
    assert [e.seq for e in await history.events('exec-00', after_seq=1, limit=2)] == [2, 3]
    assert await history.events('missing') == []
    state = await history.load_state('exec-00')
    assert state == fold(events_for(*seeded[0]))
    assert await history.load_state('missing') is None


async def test_the_first_event_holds_the_definition_the_execution_ran_with(
    database: Database, history: History, recorder: EventRecorder
) -> None:
    definition = chain('snap', 'x', 'y')
    await recorder.write(
        [
            Event(
                execution_id='e1',
                seq=1,
                type=EventType.EXECUTION_QUEUED,
                ts=T0,
                data={'workflow_id': 'snap', 'nodes': ['x', 'y'], 'workflow': definition},
            )
        ]
    )
    assert workflow_snapshot(await history.events('e1', limit=1)) == definition
    assert workflow_snapshot(await history.events('missing', limit=1)) is None


# --- history: workflows -----------------------------------------------------------------------------


async def test_workflow_rows_create_replace_list_delete(history: History) -> None:
    assert await history.put_workflow('b', 'Beta', chain('b'), T0) is True
    assert await history.put_workflow('a', 'Alpha', chain('a'), T0) is True
    assert await history.put_workflow('b', 'Beta 2', chain('b', 'z'), T0 + timedelta(hours=1)) is False

    stored = await history.get_workflow('b')
    assert stored is not None
    assert (stored.name, stored.definition, stored.created_at, stored.updated_at) == (
        'Beta 2',
        chain('b', 'z'),
        T0,
        T0 + timedelta(hours=1),
    )
    assert [w.id for w in await history.list_workflows()] == ['a', 'b']  # by name
    assert await history.delete_workflow('a') is True
    assert await history.delete_workflow('a') is False
    assert await history.get_workflow('a') is None


# --- catalog ----------------------------------------------------------------------------------------


async def test_catalog_put_creates_then_replaces(catalog: WorkflowCatalog) -> None:
    workflow, created = await catalog.put('chain', chain(), T0)
    assert created is True
    assert isinstance(workflow, Workflow)
    assert workflow.order == ('a', 'b')

    workflow, created = await catalog.put('chain', chain('chain', 'a', 'b', 'c'), T0 + timedelta(seconds=1))
    assert created is False
    fetched = await catalog.get('chain')
    assert isinstance(fetched, Workflow)
    assert fetched.order == ('a', 'b', 'c')  # the cache does not serve the replaced definition
    assert [w.id for w in await catalog.all()] == ['chain']


async def test_catalog_put_takes_the_id_from_the_path_when_the_body_has_none(catalog: WorkflowCatalog) -> None:
    raw = chain('ignored')
    del raw['id']
    workflow, created = await catalog.put('from-path', raw, T0)
    assert (workflow.id, created) == ('from-path', True)
    fetched = await catalog.get('from-path')
    assert fetched is not None
    assert fetched.definition()['id'] == 'from-path'


async def test_catalog_put_refuses_an_id_mismatch_and_invalid_definitions(catalog: WorkflowCatalog) -> None:
    with pytest.raises(WorkflowError, match=r"'other'.*'chain'"):
        await catalog.put('chain', chain('other'), T0)
    cyclic = chain('loop', 'a', 'b')
    cyclic['edges'].append({'source': 'b', 'target': 'a'})
    with pytest.raises(WorkflowError, match='cycle'):
        await catalog.put('loop', cyclic, T0)
    with pytest.raises(WorkflowError, match='JSON object'):
        await catalog.put('list', ['not', 'a', 'workflow'], T0)
    assert await catalog.all() == []


async def test_catalog_get_and_delete(catalog: WorkflowCatalog) -> None:
    assert await catalog.get('chain') is None
    await catalog.put('chain', chain(), T0)
    assert (await catalog.get('chain')) is await catalog.get('chain')  # validated once, then cached
    assert await catalog.delete('chain') is True
    assert await catalog.get('chain') is None
    assert await catalog.delete('chain') is False


async def test_load_directory_skips_bad_files_and_loads_the_good_ones(
    catalog: WorkflowCatalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / 'workflows'
    directory.mkdir()
    (directory / 'a-good.json').write_text(json.dumps(chain('good-json', name='From JSON')))
    (directory / 'b-good.yaml').write_text(
        'id: good-yaml\nname: From YAML\nnodes:\n  - {id: only, type: delay, config: {seconds: 0}}\n'
    )
    cyclic = chain('cyclic', 'a', 'b')
    cyclic['edges'].append({'source': 'b', 'target': 'a'})
    (directory / 'c-cycle.json').write_text(json.dumps(cyclic))
    (directory / 'd-syntax.json').write_text('{"id": "broken",')
    (directory / 'e-unknown.yml').write_text('id: unknown\nname: U\nnodes: [{id: n, type: teleport}]\n')
    (directory / 'f-not-utf8.json').write_bytes(b'\xff\xfe\x00garbage')
    (directory / 'g-deep.json').write_text('[' * 100_000 + ']' * 100_000)
    too_deep: Any = 1
    for _ in range(300):
        too_deep = {'a': too_deep}
    deep_body = {'id': 'deep', 'name': 'D', 'nodes': [{'id': 'h', 'type': 'http', 'config': {'url': 'http://x/'}}]}
    deep_body['nodes'][0]['config']['body'] = too_deep
    (directory / 'h-deep-body.json').write_text(json.dumps(deep_body))
    (directory / 'notes.txt').write_text('not a workflow')

    loaded = await catalog.load_directory(directory, T0)

    assert loaded == ['good-json', 'good-yaml']
    assert sorted(w.id for w in await catalog.all()) == ['good-json', 'good-yaml']
    skipped = ('c-cycle.json', 'd-syntax.json', 'e-unknown.yml', 'f-not-utf8.json', 'g-deep.json', 'h-deep-body.json')
    for name in skipped:
        assert name in caplog.text
    assert 'notes.txt' not in caplog.text


def uses_secret(workflow_id: str, secret: str) -> dict[str, Any]:
    headers = {'X-Api-Key': {'$secret': secret}}
    node = {'id': 'call', 'type': 'http', 'config': {'url': 'https://example.com', 'headers': headers}}
    return {'id': workflow_id, 'name': workflow_id, 'nodes': [node]}


async def test_workflows_may_name_only_existing_secrets(
    history: History, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = WorkflowCatalog(history, default_registry(), known_secrets=lambda: {'api_key'})
    await catalog.put('known', uses_secret('known', 'api_key'), T0)
    with pytest.raises(WorkflowError, match="unknown secret 'missing': create it first"):
        await catalog.put('unknown', uses_secret('unknown', 'missing'), T0)

    directory = tmp_path / 'workflows'
    directory.mkdir()
    (directory / 'a-known.json').write_text(json.dumps(uses_secret('file-known', 'api_key')))
    (directory / 'b-unknown.json').write_text(json.dumps(uses_secret('file-unknown', 'missing')))
    assert await catalog.load_directory(directory, T0) == ['file-known']
    assert "b-unknown.json not loaded: unknown secret 'missing'" in caplog.text
    assert sorted(w.id for w in await catalog.all()) == ['file-known', 'known']


async def test_load_directory_replaces_stored_workflows_and_tolerates_a_missing_directory(
    catalog: WorkflowCatalog, tmp_path: Path
) -> None:
    await catalog.put('good', chain('good', 'a'), T0)
    directory = tmp_path / 'workflows'
    directory.mkdir()
    (directory / 'good.json').write_text(json.dumps(chain('good', 'a', 'b', 'c')))
    assert await catalog.load_directory(directory, T0 + timedelta(seconds=1)) == ['good']
    fetched = await catalog.get('good')
    assert fetched is not None
    assert fetched.order == ('a', 'b', 'c')
    assert await catalog.load_directory(tmp_path / 'nowhere', T0) == []


async def test_files_of_new_workflows_past_the_limit_are_skipped_with_one_warning(
    catalog: WorkflowCatalog, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every workflow is read whole for the list and the menu: a folder of many files stores no more than the limit;
    a file replacing a stored workflow needs no room, and the files left out are said once, with how many."""
    monkeypatch.setattr(catalog_module, 'MAX_WORKFLOWS', 2)
    await catalog.put('kept', chain('kept', 'a'), T0)
    directory = tmp_path / 'workflows'
    directory.mkdir()
    for number, workflow_id in enumerate(('one', 'two', 'three', 'kept')):
        (directory / f'{number}-{workflow_id}.json').write_text(json.dumps(chain(workflow_id, 'a', 'b')))

    assert await catalog.load_directory(directory, T0 + timedelta(seconds=1)) == ['one', 'kept']
    assert sorted(w.id for w in await catalog.all()) == ['kept', 'one']
    fetched = await catalog.get('kept')
    assert fetched is not None and fetched.order == ('a', 'b')  # replaced by its file
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == ['2 workflow file(s) not loaded: at most 2 workflows can be stored (1-two.json, 2-three.json)']


async def test_the_shipped_example_workflows_all_load(catalog: WorkflowCatalog, settings: Settings) -> None:
    examples = settings.workflows_path
    files = [p for p in examples.iterdir() if p.suffix in ('.json', '.yaml', '.yml')]
    loaded = await catalog.load_directory(examples, T0)
    assert len(loaded) == len(files) >= 4


# --- recovery ---------------------------------------------------------------------------------------


async def crashed_mid_run(database: Database) -> tuple[str, list[Event]]:
    """Run SLOW until its delay node is running, flush, then "crash": the recorder hears nothing more."""
    bus = EventBus()
    recorder = EventRecorder(database, bus)
    engine = Engine(bus=bus, registry=default_registry())
    published: list[Event] = []
    bus.subscribe(published.append)
    await recorder.start()
    execution_id = engine.submit(_parse(SLOW, default_registry()))
    await until(
        lambda: (state := fold(published)) is not None and state.nodes['wait'].status == 'running', 'the delay to run'
    )
    await recorder.stop()  # last flush before the crash; what follows is never recorded
    before = list(published)
    await engine.stop()
    return execution_id, before


async def test_recovery_interrupts_running_and_queued_executions(
    database: Database, history: History, recorder: EventRecorder
) -> None:
    running_id, before = await crashed_mid_run(database)
    await recorder.write(events_for('queued-one', 'slow', T0, 'queued') + events_for('done-one', 'slow', T0, 'failed'))
    now = datetime.now(UTC)

    fresh = EventRecorder(database, EventBus())  # the restarted process
    interrupted = await interrupt_unfinished(history, fresh, now)

    assert sorted(interrupted) == sorted([running_id, 'queued-one'])
    events = await history.events(running_id)
    assert events[: len(before)] == before  # nothing recorded before the crash is lost
    appended = events[len(before) :]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [(e.type, e.node_id) for e in appended] == [
        (EventType.NODE_CANCELLED, 'wait'),
        (EventType.NODE_CANCELLED, 'after'),
        (EventType.EXECUTION_INTERRUPTED, None),
    ]
    assert all(e.ts == now for e in appended)
    assert 'stopped' in appended[-1].data['reason']

    state = await history.load_state(running_id)
    assert state is not None
    assert state.status == 'interrupted'
    assert {n: s.status for n, s in state.nodes.items()} == {
        'first': 'succeeded',
        'wait': 'cancelled',
        'after': 'cancelled',
    }
    record = await history.get_execution(running_id)
    assert record is not None
    assert (record.status, record.finished_at) == ('interrupted', now)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(NODE_RUNS).where(NODE_RUNS.c.execution_id == running_id))).all()
    assert {row.node_id: row.status for row in rows} == state_statuses(state)

    queued_events = await history.events('queued-one')
    assert [(e.seq, e.type) for e in queued_events] == [
        (1, EventType.EXECUTION_QUEUED),
        (2, EventType.EXECUTION_INTERRUPTED),
    ]
    assert (await history.get_execution('queued-one')).status == 'interrupted'  # type: ignore[union-attr]
    assert len(await history.events('done-one')) == 5  # finished executions are left alone
    assert (await history.get_execution('done-one')).status == 'failed'  # type: ignore[union-attr]

    assert await interrupt_unfinished(history, fresh, now) == []  # nothing left to do the second time
    assert len(await history.events(running_id)) == len(events)


def state_statuses(state: Any) -> dict[str, str]:
    return {node_id: node.status for node_id, node in state.nodes.items()}
