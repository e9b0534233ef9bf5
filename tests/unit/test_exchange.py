"""Export and import of executions: the round trip, and every kind of invalid file rejected unchanged."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sample_workflows import SLOW_CHAIN, WAIT_ONLY, chain, condition, delay, fail, log, upstream_flaky, workflow
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from waiting import until
from worker_fakes import FakePool, Heavy

from flowmon.application.errors import ExportMalformed, ImportRejected, NotFound, Unavailable
from flowmon.application.exchange import Exchange, ExportUnavailable, import_execution
from flowmon.application.export_format import EXPORT_FORMAT, parse_export, validate_export
from flowmon.application.history import ExecutionHistory
from flowmon.application.live import LiveView
from flowmon.application.replays import ReplayLoader
from flowmon.engine import Engine, Event, EventBus, default_registry, fold, parse_workflow
from flowmon.engine.core.inputs import body_location
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.snapshot import definition_hash, snapshot_hash, workflow_snapshot
from flowmon.engine.nodes import NodeError
from flowmon.engine.runtime.execution import ExecutionRun
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History, interrupt_unfinished
from flowmon.store.tables import EventRow, ExecutionRow, NodeRunRow, WorkflowSnapshotRow

NOW = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)
REGISTRY = default_registry()
REGISTRY.register(Heavy)  # (a type that runs on a worker)

FLAKY = upstream_flaky(times=2, max_attempts=3)
SLOW = WAIT_ONLY


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[tuple[Engine, EventRecorder, History]]:
    bus = EventBus()
    recorder = EventRecorder(database, bus)
    await recorder.start()
    engine = Engine(bus=bus, registry=REGISTRY, snapshots=recorder.keep_snapshot)  # as the app wires it
    try:
        yield engine, recorder, History(database)
    finally:
        await engine.stop()
        await recorder.stop()


@pytest.fixture
def exchange(stack: tuple[Engine, EventRecorder, History]) -> Exchange:
    """The export and import use cases over the stack (no live projection: every read goes to the store)."""
    engine, recorder, history = stack
    live = LiveView(Projector(engine.bus), engine, engine.bus)
    reads = ExecutionHistory(history=history, recorder=recorder, live=live, replays=ReplayLoader(history))
    return Exchange(history=reads, recorder=recorder, registry=REGISTRY, budget=PayloadBudget(), clock=lambda: NOW)


async def snapshot(history: History, execution_id: str) -> dict[str, Any] | None:
    """The definition the execution's first event names: by hash (stored once), or inline."""
    first = await history.events(execution_id, limit=1)
    digest = snapshot_hash(first)
    return workflow_snapshot(first) if digest is None else await history.get_snapshot(digest)


@pytest.fixture
async def finished(stack: tuple[Engine, EventRecorder, History]) -> str:
    """A finished execution with retries and data flow, recorded the way the app records it."""
    engine, recorder, _ = stack
    execution_id = engine.submit(parse_workflow(FLAKY, REGISTRY), {'n': 3})
    await engine.wait_idle()
    await recorder.drain()  # node runs too: nothing of it is written later, behind a test's counts
    return execution_id


@pytest.fixture
async def document(exchange: Exchange, finished: str) -> dict[str, Any]:
    """The export as a user would get it: through JSON text."""
    file = await exchange.export(finished)
    assert file.filename == f'flowmon-flaky-{finished}.json'
    return json.loads(file.content)


async def counts(database: Database) -> list[int]:
    """Rows in the executions, events and node_runs tables."""
    found = []
    async with database.engine.connect() as conn:
        for table in (ExecutionRow.__table__, EventRow.__table__, NodeRunRow.__table__):  # type: ignore[attr-defined]
            found.append((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return found


async def test_export_holds_the_workflow_and_every_event(
    stack: tuple[Engine, EventRecorder, History], finished: str, document: dict[str, Any]
) -> None:
    events = await stack[2].events(finished)
    assert (document['format'], document['version'], document['exported_at']) == (EXPORT_FORMAT, 1, NOW.isoformat())
    assert document['workflow'] == parse_workflow(FLAKY, REGISTRY).definition()
    assert document['events'] == [json.loads(json.dumps(event.marshal())) for event in events]
    assert document['execution'] == {
        'id': finished,
        'workflow_id': 'flaky',
        'status': 'succeeded',
        'created_at': events[0].ts.isoformat(),
        'finished_at': events[-1].ts.isoformat(),
        'events': len(events),
        'imported_from': None,
    }
    assert [e['type'] for e in document['events']].count('node.retrying') == 2


async def test_import_round_trip_gives_the_same_events_under_a_new_id(
    database: Database,
    stack: tuple[Engine, EventRecorder, History],
    exchange: Exchange,
    finished: str,
    document: dict[str, Any],
) -> None:
    _, recorder, history = stack
    imported = await import_execution(recorder, REGISTRY, document)
    assert imported.id != finished
    assert (imported.imported_from, imported.status, imported.events) == (
        finished,
        'succeeded',
        len(document['events']),
    )

    original = await history.events(finished)
    copied = await history.events(imported.id)
    assert copied == [replace(event, execution_id=imported.id) for event in original]
    assert fold(copied) == replace(fold(original), id=imported.id)  # type: ignore[type-var]

    record = await history.get_execution(imported.id)
    assert record is not None
    assert (record.status, record.workflow_id, record.imported_from) == ('succeeded', 'flaky', finished)
    assert record.to_json()['imported_from'] == finished
    assert (await history.get_execution(finished)).imported_from is None  # type: ignore[union-attr]
    assert await snapshot(history, imported.id) == document['workflow']
    async with database.engine.connect() as conn:
        table = NodeRunRow.__table__  # type: ignore[attr-defined]
        runs = (await conn.execute(select(table).where(table.c.execution_id == imported.id))).all()
    assert {(run.node_id, run.status, run.attempts) for run in runs} == {
        ('fetch', 'succeeded', 1),
        ('parse', 'succeeded', 3),
        ('report', 'succeeded', 1),
    }
    again = json.loads((await exchange.export(imported.id)).content)
    assert again['execution']['imported_from'] == finished
    assert [e['data'] for e in again['events']] == [e['data'] for e in document['events']]


async def test_importing_twice_gives_two_executions(
    stack: tuple[Engine, EventRecorder, History], document: dict[str, Any]
) -> None:
    first = await import_execution(stack[1], REGISTRY, document)
    second = await import_execution(stack[1], REGISTRY, document)
    assert first.id != second.id and first.imported_from == second.imported_from


async def test_a_running_execution_cannot_be_exported_and_an_unknown_one_is_not_found(
    stack: tuple[Engine, EventRecorder, History], exchange: Exchange
) -> None:
    running = stack[0].submit(parse_workflow(SLOW, REGISTRY))
    with pytest.raises(ExportUnavailable, match=r'still (queued|running)'):
        await exchange.export(running)  # the use case flushes the recorder itself: reads see every write
    with pytest.raises(NotFound):
        await exchange.export('nope')


async def test_a_queued_event_without_a_snapshot_gets_the_exported_definition(
    stack: tuple[Engine, EventRecorder, History], document: dict[str, Any]
) -> None:
    del document['events'][0]['data']['workflow_hash']
    imported = await import_execution(stack[1], REGISTRY, document)
    assert await snapshot(stack[2], imported.id) == document['workflow']


async def test_an_export_with_the_definition_inline_is_stored_once_per_version(
    database: Database, stack: tuple[Engine, EventRecorder, History], document: dict[str, Any]
) -> None:
    """An export from a flowmon that recorded definitions inline: the import stores the definition under its hash
    (one row for both imports) and the queued event names it, as for a run made here."""
    queued = document['events'][0]['data']
    del queued['workflow_hash']
    queued['workflow'] = document['workflow']
    first = await import_execution(stack[1], REGISTRY, document)
    second = await import_execution(stack[1], REGISTRY, copy.deepcopy(document))
    digest = definition_hash(document['workflow'])
    for imported in (first, second):
        stored = (await stack[2].events(imported.id, limit=1))[0].data
        assert stored['workflow_hash'] == digest and 'workflow' not in stored
        assert await snapshot(stack[2], imported.id) == document['workflow']
    async with database.engine.connect() as conn:
        table = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
        assert (await conn.execute(select(table.c.hash))).scalars().all() == [digest]


async def test_an_imported_execution_keeps_its_trigger(
    stack: tuple[Engine, EventRecorder, History], document: dict[str, Any]
) -> None:
    document['events'][0]['data']['trigger'] = {'type': 'schedule', 'cron': '*/5 * * * *', 'timezone': 'UTC'}
    imported = await import_execution(stack[1], REGISTRY, document)
    record = await stack[2].get_execution(imported.id)
    assert record is not None
    assert (record.trigger_type, record.imported_from) == ('schedule', document['execution']['id'])
    state = fold(await stack[2].events(imported.id))
    assert state is not None and state.trigger == {'type': 'schedule', 'cron': '*/5 * * * *', 'timezone': 'UTC'}


# a condition whose false branch is skipped, a node after it skipped too, and a join of both branches
BRANCHES = workflow(
    'branches',
    'Branches',
    condition('check', 'input.n > `1`'),
    log('big', 'big'),
    log('small', 'small'),
    log('after_small', 'after'),
    log('join', 'joined'),
    edges=[
        ('check', 'big', True),
        ('check', 'small', False),
        ('small', 'after_small'),
        ('big', 'join'),
        ('after_small', 'join'),
    ],
)
FAILING = chain('failing', 'Failing', delay('load', 0), fail('parse', 'bad row'), log('after', 'never'))
TIMED_OUT = chain('late', 'Late', log('first', 'quick'), delay('wait', 30), log('after', 'late'), timeout_seconds=0.05)


async def crashed_mid_run(recorder: EventRecorder, history: History) -> str:
    """An execution whose process died while a node ran: its events up to then recorded, then closed by recovery at
    the next start (``execution.interrupted``)."""
    engine = Engine(bus=EventBus(), registry=REGISTRY)  # nothing it raises is recorded but what is written below
    published: list[Event] = []
    engine.bus.subscribe(published.append)
    execution_id = engine.submit(parse_workflow(SLOW_CHAIN, REGISTRY))
    await until(lambda: (state := fold(published)) and state.nodes['wait'].status == 'running', 'the delay to run')
    await recorder.write(list(published))
    await engine.stop()
    await interrupt_unfinished(history, recorder, NOW)
    return execution_id


async def test_real_exports_of_every_kind_import(
    stack: tuple[Engine, EventRecorder, History], exchange: Exchange, finished: str
) -> None:
    """Each way an execution can run and end, exported as it was recorded, imports (the checks of the events'
    story refuse none of them) unless its head is edited to say otherwise, and so does an export of an earlier
    flowmon whose head said less."""
    engine, recorder, history = stack
    published: list[Event] = []
    engine.bus.subscribe(published.append)
    flaky = parse_workflow(FLAKY, REGISTRY)
    before = fold(await history.events(finished))
    assert before is not None
    crashed = await crashed_mid_run(recorder, history)  # (first: recovery closes every unfinished execution)
    slow = engine.submit(parse_workflow(SLOW_CHAIN, REGISTRY))
    one_slot = Engine(bus=engine.bus, registry=REGISTRY, snapshots=recorder.keep_snapshot, max_concurrent=1)
    stopped = one_slot.submit(parse_workflow(WAIT_ONLY, REGISTRY))
    waiting = one_slot.submit(parse_workflow(WAIT_ONLY, REGISTRY))
    await until(lambda: {e.execution_id for e in published if e.node_id == 'wait'} >= {slow, stopped}, 'the delays')
    engine.cancel(slow)
    one_slot.cancel(waiting)
    await one_slot.stop()
    kinds = {
        'retried': (finished, 'succeeded', 'node.retrying'),
        'failed, skipping what follows': (engine.submit(parse_workflow(FAILING, REGISTRY)), 'failed', 'node.skipped'),
        'branches not taken': (
            engine.submit(parse_workflow(BRANCHES, REGISTRY), {'n': 3}),
            'succeeded',
            'node.skipped',
        ),
        'timed out': (engine.submit(parse_workflow(TIMED_OUT, REGISTRY)), 'failed', 'node.cancelled'),
        'rerun from a node': (engine.rerun(before, flaky, from_node='parse'), 'succeeded', 'node.completed'),
        'rerun': (engine.rerun(before, flaky), 'succeeded', 'node.retrying'),
        'cancelled while running': (slow, 'cancelled', 'node.cancelled'),
        'cancelled while queued': (waiting, 'cancelled', 'execution.cancelled'),
        'interrupted by a stop': (stopped, 'interrupted', 'node.cancelled'),
        'interrupted by recovery': (crashed, 'interrupted', 'node.cancelled'),
    }
    await engine.wait_idle()
    await recorder.drain()
    for kind, (execution_id, status, seen) in kinds.items():
        document = json.loads((await exchange.export(execution_id)).content)
        assert seen in [event['type'] for event in document['events']], kind
        imported = await import_execution(recorder, REGISTRY, document)
        assert (imported.status, imported.events) == (status, document['execution']['events']), kind
        document['execution']['status'] = 'failed' if status == 'succeeded' else 'succeeded'  # and its head must agree
        with pytest.raises(ImportRejected, match=r'"execution\.status"'):
            await import_execution(recorder, REGISTRY, document)
    rerun = json.loads((await exchange.export(kinds['rerun from a node'][0])).content)
    assert [e['node_id'] for e in rerun['events'] if e['data'].get('reused')] == ['fetch']
    document = json.loads((await exchange.export(finished)).content)
    lacking = {**document, 'execution': dict.fromkeys(document['execution'])}
    for earlier in (lacking, {key: value for key, value in document.items() if key != 'execution'}):
        assert (await import_execution(recorder, REGISTRY, earlier)).status == 'succeeded'


async def test_real_exports_of_runs_on_workers_import(
    stack: tuple[Engine, EventRecorder, History], exchange: Exchange
) -> None:
    """Runs whose nodes ran on workers (a pool the test drives), exported as recorded, import with the workers their
    events name: a node a worker took and finished, one retried on another worker after its first was lost, one
    whose result came before the worker's announcement, and a run failed by a node that timed out while still
    queued for a worker (started with none)."""
    engine, recorder, _ = stack
    pool = FakePool()
    workers = Engine(bus=engine.bus, registry=REGISTRY, snapshots=recorder.keep_snapshot, workers=pool)

    def heavy(node_id: str, **extra: Any) -> dict[str, Any]:
        return {'id': node_id, 'type': 'heavy', 'config': {'n': 1}, **extra}

    retry = {'max_attempts': 2, 'backoff_seconds': 0}
    nodes = [heavy('taken'), heavy('lost', retry=retry), heavy('early')]
    ran = workers.submit(parse_workflow({'id': 'on-workers', 'name': 'On workers', 'nodes': nodes}, REGISTRY))
    taken = await pool.take(f'{ran}-taken-1', 'tcp://w1:1')
    taken.future.set_result(('tcp://w1:1', {'rows': 3}))
    lost = await pool.take(f'{ran}-lost-1', 'tcp://w1:1')
    lost.future.set_exception(NodeError('the Dask worker tcp://w1:1 died while running the node'))
    again = await pool.take(f'{ran}-lost-2', 'tcp://w2:1')
    again.future.set_result(('tcp://w2:1', 'ok'))
    early = await pool.next_job(f'{ran}-early-1')
    early.future.set_result(('local:7', 7))
    queued = {'id': 'queued', 'name': 'Queued', 'nodes': [heavy('late', timeout_seconds=0.05)]}
    timed_out = workers.submit(parse_workflow(queued, REGISTRY))
    await workers.wait_idle()
    early.started('local:7')  # (too late: ignored)
    await workers.stop()
    await recorder.drain()
    for execution_id, status, seen in (
        (
            ran,
            'succeeded',
            {('taken', 'tcp://w1:1'), ('lost', 'tcp://w1:1'), ('lost', 'tcp://w2:1'), ('early', 'local:7')},
        ),
        (timed_out, 'failed', {('late', None)}),
    ):
        document = json.loads((await exchange.export(execution_id)).content)
        started = {(e['node_id'], e['data'].get('worker')) for e in document['events'] if e['type'] == 'node.started'}
        assert started == seen
        imported = await import_execution(recorder, REGISTRY, document)
        assert (imported.status, imported.events) == (status, document['execution']['events'])
        again_exported = json.loads((await exchange.export(imported.id)).content)
        assert [(e['type'], e['node_id'], e['data']) for e in again_exported['events']] == [
            (e['type'], e['node_id'], e['data']) for e in document['events']
        ]


async def test_an_execution_an_engine_error_ended_imports(
    stack: tuple[Engine, EventRecorder, History], exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in the engine's bookkeeping of a node's end fails the execution and cancels that node although it had
    completed: the export of such a run imports as it was recorded."""
    engine, recorder, _ = stack
    original = ExecutionRun._mark  # fault injection: only a bug in this private step can raise

    def broken(run: ExecutionRun, node_id: str, status: str) -> None:
        if node_id == 'report':
            raise RuntimeError('bookkeeping broke')
        original(run, node_id, status)

    monkeypatch.setattr(ExecutionRun, '_mark', broken)
    execution_id = engine.submit(parse_workflow(FLAKY, REGISTRY), {'n': 1})
    await engine.wait_idle()
    await recorder.drain()
    document = json.loads((await exchange.export(execution_id)).content)
    ending = [(e['type'], e['node_id']) for e in document['events'][-3:]]
    assert ending == [('node.completed', 'report'), ('node.cancelled', 'report'), ('execution.failed', None)]
    assert (await import_execution(recorder, REGISTRY, document)).status == 'failed'


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    """A mutation setting ``path`` (dot-separated, list indexes as numbers) to ``value``."""

    def mutate(doc: dict[str, Any]) -> Any:
        *parents, last = path.split('.')
        target: Any = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return doc

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], Any]:
    def mutate(doc: dict[str, Any]) -> Any:
        *parents, last = path.split('.')
        target: Any = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[int(last) if isinstance(target, list) else last]
        return doc

    return mutate


def _renumber(doc: dict[str, Any]) -> dict[str, Any]:
    for seq, event in enumerate(doc['events'], start=1):
        event['seq'] = seq
    return doc


def _events(change: Callable[[list[dict[str, Any]]], Any]) -> Callable[[dict[str, Any]], Any]:
    def mutate(doc: dict[str, Any]) -> Any:
        change(doc['events'])
        return doc

    return mutate


def _moved(index: int, to: int) -> Callable[[dict[str, Any]], Any]:
    """A mutation moving the event at ``index`` to ``to``, the events then numbered again."""
    return lambda doc: _renumber(_events(lambda events: events.insert(to, events.pop(index)))(doc))


def _cut(start: int, stop: int) -> Callable[[dict[str, Any]], Any]:
    """A mutation leaving out the events from ``start`` to ``stop``, the rest then numbered again."""
    return lambda doc: _renumber(_events(lambda events: events.__delitem__(slice(start, stop)))(doc))


def _ends_failed(failed_nodes: list[str], *, drop: slice = slice(0)) -> Callable[[dict[str, Any]], Any]:
    """A mutation ending the execution ``execution.failed`` naming ``failed_nodes`` (none: a timeout's), with the
    events at ``drop`` left out."""

    def mutate(doc: dict[str, Any]) -> Any:
        del doc['events'][drop]
        data: dict[str, Any] = {'error': 'it failed', **({'failed_nodes': failed_nodes} if failed_nodes else {})}
        doc['events'][-1].update(type='execution.failed', data=data)
        return _renumber(doc)

    return mutate


DATA_FLOW = -1000  # an event's index in a place below: the first data.flow event


def _in_document(place: tuple[str | int, ...], document: Any) -> tuple[str | int, ...]:
    """``place`` with the index of an event counted from the end of ``document``'s events (``('events', -1)``: the
    last) or :data:`DATA_FLOW` made the index from its start."""
    if place[:1] != ('events',) or len(place) < 2 or not isinstance(place[1], int) or place[1] >= 0:
        return place
    events = document['events']
    if place[1] == DATA_FLOW:
        index = next(index for index, event in enumerate(events) if event['type'] == 'data.flow')
    else:
        index = len(events) + place[1]
    return ('events', index, *place[2:])


INVALID: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ('not an object', lambda doc: doc['events'], 'an export must be a JSON object, got a list'),
    ('no format marker', _drop('format'), 'not a flowmon execution export: the document has no "format" field'),
    ('another format', _set('format', 'n8n.workflow'), "has format 'n8n.workflow', expected 'flowmon.execution'"),
    ('no version', _drop('version'), '"version" must be an integer, got None'),
    ('a newer version', _set('version', 2), 'unsupported export version 2 (this flowmon reads version 1)'),
    ('no workflow', _drop('workflow'), '"workflow" must be the workflow definition (an object), got nothing'),
    (
        'an invalid workflow',
        _set('workflow.nodes.1.type', 'teleport'),
        "the workflow definition is not valid: node 'parse' has unknown type 'teleport'",
    ),
    ('no events', _set('events', []), '"events" must be a non-empty list, got an empty list'),
    ('events not a list', _set('events', {'seq': 1}), '"events" must be a non-empty list, got an object'),
    ('an event that is not an object', _set('events.3', 'node.started'), 'events[3] must be an object, got a string'),
    ('an unknown event type', _set('events.2.type', 'node.exploded'), "events[2]: unknown event type 'node.exploded'"),
    ('an event without a timestamp', _drop('events.1.ts'), "events[1]: event is missing the field 'ts'"),
    ('a bad timestamp', _set('events.1.ts', 'yesterday'), "events[1]: event timestamp is not ISO 8601: 'yesterday'"),
    ('a bad seq', _set('events.1.seq', 'two'), "events[1]: event seq must be a positive integer, got 'two'"),
    ('a gap in seq', _drop('events.4'), 'events[4] has seq 6, expected 5: seq must run 1..n without gaps'),
    (
        'seq out of order',
        _events(lambda events: events.insert(2, events.pop(3))),
        'events[2] has seq 4, expected 3',
    ),
    ('two executions', _set('events.5.execution_id', 'someone-else'), "events[5] belongs to execution 'someone-else'"),
    ('a bad execution id', lambda doc: [e.update(execution_id='../x') for e in doc['events']] and doc, "'../x' is not"),
    (
        'not starting with execution.queued',
        lambda doc: _renumber(_drop('events.0')(doc)),
        'the first event must be execution.queued, got execution.started',
    ),
    (
        'an unfinished execution',
        _drop('events.-1'),
        'the execution never finished (the last event is execution.progress)',
    ),
    (
        'events after the end',
        lambda doc: _renumber(_events(lambda events: events.append(copy.deepcopy(events[-2])))(doc)),
        'ends the execution but 1 event(s) follow it',
    ),
    ('a node not in the workflow', _set('events.3.node_id', 'ghost'), "names node 'ghost', not in the workflow"),
    (
        'data sent to a node not in the workflow',
        lambda doc: [e['data'].update(target='ghost') for e in doc['events'] if e['type'] == 'data.flow'] and doc,
        "sends data to 'ghost', not in the workflow",
    ),
    (
        'another workflow id',
        _set('events.0.data.workflow_id', 'other'),
        "execution.queued names workflow 'other' but the export holds the definition of 'flaky'",
    ),
    ('other nodes', _set('events.0.data.nodes', ['fetch']), "lists nodes ['fetch'], but the workflow has"),
    (
        'an inline snapshot that differs',
        lambda doc: doc['events'][0]['data'].update(workflow={**doc['workflow'], 'name': 'Renamed'}) or doc,
        'the workflow snapshot in execution.queued differs from the exported workflow definition',
    ),
    (
        'an inline snapshot that is not valid',
        lambda doc: doc['events'][0]['data'].update(workflow={**doc['workflow'], 'nodes': []}) or doc,
        'the workflow snapshot in execution.queued is not valid',
    ),
    (
        'a snapshot hash of another definition',
        _set('events.0.data.workflow_hash', '0' * 64),
        "names workflow snapshot '" + '0' * 64 + "', which is not the hash of the exported workflow definition",
    ),
    ('a snapshot hash that is no hash', _set('events.0.data.workflow_hash', '../x'), 'workflow_hash must be a SHA-256'),
    (
        'a trigger of an unknown type',
        _set('events.0.data.trigger', {'type': 'cron'}),
        "trigger type must be one of api, ui, schedule, hook, rerun, got 'cron'",
    ),
    (
        'a trigger with a field it cannot have',
        _set('events.0.data.trigger', {'type': 'api', 'note': '<b>'}),
        "trigger of type api has no field 'note'",
    ),
    ('a value the reducer cannot use', _set('events.0.data.priority', 'high'), 'priority must be an integer'),
    ('a node id on an execution event', _set('events.1.node_id', 'fetch'), 'but execution.started has no node'),
    (
        'markup as the node id of the final event',
        _set('events.-1.node_id', '</svg><img src=x onerror=alert(1)>'),
        '.node_id must be null or a node id (letters, digits, "_.-", at most 64)',
    ),
    ('a node id that is not text', _set('events.3.node_id', 7), 'events[3].node_id must be null or a node id'),
    (
        'a node id ending in a line break',
        _set('events.3.node_id', 'fetch\n'),
        'events[3].node_id must be null or a node id (letters, digits, "_.-", at most 64)',
    ),
    (
        'data sent to a node id ending in a line break',
        lambda doc: [e['data'].update(target='report\n') for e in doc['events'] if e['type'] == 'data.flow'] and doc,
        'target must be null or an id (letters, digits, "_.-", at most 64)',
    ),
    ('event data nested 300 deep', _set('events.2.data.deep', json.loads('[' * 300 + ']' * 300)), 'events[2] ('),
    ('an error message without bounds', _set('events.-1.data.error', 'x' * 5000), 'error is 5,000 characters long'),
    ('a number beyond 64 bits', _set('events.-1.data.extra', 2**70), 'holds an integer outside the 64-bit range'),
    ('a float where a count belongs', _set('events.2.data.attempt', 1e300), 'attempt must be an integer from 0 to'),
    (  # the API takes -100 to 100; a larger one would not fit PostgreSQL's column either
        'a priority the API would refuse',
        _set('events.0.data.priority', 2**31),
        'priority must be an integer from -100 to 100, got 2147483648',
    ),
    ('a count past 32 bits', _set('events.-2.data.total', 2**31), 'total must be an integer from 0 to 2,147,483,647'),
    (
        'a rerun of an execution id too long for one',
        _set('events.0.data.retry_of', 'r' * 41),
        'retry_of must be null or an execution id (letters, digits, "_.-", at most 40)',
    ),
    ('a timestamp out of range', _set('events.1.ts', '0001-01-01T00:00:00+05:00'), 'events[1].ts'),
    ('a timestamp of any length', _set('events.1.ts', '2025' * 100), 'events[1].ts is not a timestamp'),
    (
        'an execution id ending in a line break',
        lambda doc: [e.update(execution_id='run-1\n') for e in doc['events']] and doc,
        "execution id 'run-1\\n' is not valid",
    ),
    (
        'a snapshot hash ending in a line break',
        _set('events.0.data.workflow_hash', 'a' * 64 + '\n'),
        'workflow_hash must be a SHA-256',
    ),
    (
        'an execution id that is not text',
        lambda doc: [e.update(execution_id=[1]) for e in doc['events']] and doc,
        'execution_id must be a string',
    ),
]

# Refusals of the events' story and of the head: (name, mutation, message, place in the file)
STORY_INVALID: list[tuple[str, Callable[[dict[str, Any]], Any], str, tuple[str | int, ...]]] = [
    # the events against the graph; the document's: 0 queued, 1 started, 2-3 fetch ran, 4 progress, 5 data.flow
    # fetch -> parse, 6-11 parse started, retried twice, completed, 12 progress, 13 data.flow parse -> report,
    # 14-15 report ran, 16 progress, 17 completed
    (
        'a node started before its upstream node completed',
        _cut(11, 14),
        "events[11] (node.started) cannot happen here: node 'report' starts while its upstream node 'parse' was "
        'running',
        ('events', 11, 'type'),
    ),
    (
        'data along an edge the workflow does not have',
        _set('events.5.data.target', 'report'),
        "events[5] (data.flow) cannot happen here: the workflow has no edge from 'fetch' to 'report'",
        ('events', 5, 'data', 'target'),
    ),
    (
        'data from a node that has not succeeded',
        _moved(13, 11),
        "events[11] (data.flow) cannot happen here: node 'parse' was running",
        ('events', 11, 'node_id'),
    ),
    (
        'data to a node that has started',
        _moved(5, 6),
        "events[6] (data.flow) cannot happen here: node 'parse' was running",
        ('events', 6, 'data', 'target'),
    ),
    (
        'succeeded although no node ran',
        _cut(2, -1),
        "events[2] (execution.completed) cannot happen here: the execution ends succeeded while node 'fetch' had not "
        'started',
        ('events', -1, 'type'),
    ),
    (
        'succeeded although a node never completed',
        lambda doc: _renumber(_drop('events.15')(doc)),
        "the execution ends succeeded while node 'report' was running",
        ('events', -1, 'type'),
    ),
    (
        'failed while a node runs',
        _ends_failed([], drop=slice(15, 17)),
        "events[15] (execution.failed) cannot happen here: the execution ends failed while node 'report' was running",
        ('events', -1, 'type'),
    ),
    (
        'failed naming a node that succeeded',
        _ends_failed(['parse']),
        "it names node 'parse' as failed, but that node had succeeded",
        ('events', -1, 'data', 'failed_nodes', 0),
    ),
    (
        'a node completing twice',
        lambda doc: _renumber(_events(lambda events: events.insert(16, copy.deepcopy(events[15])))(doc)),
        "events[16] (node.completed) cannot happen here: node 'report' had succeeded",
        ('events', 16, 'type'),
    ),
    (
        'a node completing without starting',
        lambda doc: _renumber(_drop('events.14')(doc)),
        "events[14] (node.completed) cannot happen here: node 'report' had not started",
        ('events', 14, 'type'),
    ),
    (
        'a retry of a node that is not running',
        lambda doc: _renumber(_drop('events.8')(doc)),
        "events[8] (node.retrying) cannot happen here: node 'parse' was waiting to be retried",
        ('events', 8, 'type'),
    ),
    (
        'attempts out of order',
        _set('events.10.data.attempt', 5),
        "events[10] (node.started) cannot happen here: node 'parse' starts attempt 5, not 3",
        ('events', 10, 'data', 'attempt'),
    ),
    (
        'an execution started twice',
        lambda doc: _renumber(_events(lambda events: events.insert(2, copy.deepcopy(events[1])))(doc)),
        'events[2] (execution.started) cannot happen here: the execution had started already',
        ('events', 2, 'type'),
    ),
    (
        'a reused output outside a rerun from a node',
        _set('events.3.data.reused', True),
        'events[3] (node.completed) cannot happen here: only a rerun from a node reuses an earlier output',
        ('events', 3, 'data', 'reused'),
    ),
    (
        'a node skipped before its upstream node ran',
        lambda doc: doc['events'][6].update(type='node.skipped', node_id='report', data={'reason': 'x'}) or doc,
        "events[6] (node.skipped) cannot happen here: node 'report' is skipped while its upstream node 'parse' had "
        'not started',
        ('events', 6, 'type'),
    ),
    (
        'a node event before execution.started',
        _moved(2, 1),
        'events[1] (node.started) cannot happen here: it comes before execution.started',
        ('events', 1, 'type'),
    ),
    # the head against the events
    (
        'a head that is not an object',
        _set('execution', ['x']),
        'export "execution" must be an object, got a list',
        ('execution',),
    ),
    (
        'a head of another execution',
        _set('execution.id', 'other'),
        'export "execution.id" is \'other\', but its events',
        ('execution', 'id'),
    ),
    (
        'a head of another workflow',
        _set('execution.workflow_id', 'other'),
        "export \"execution.workflow_id\" is 'other', but its events say 'flaky'",
        ('execution', 'workflow_id'),
    ),
    (
        'a head with another status',
        _set('execution.status', 'failed'),
        "export \"execution.status\" is 'failed', but its events say 'succeeded'",
        ('execution', 'status'),
    ),
    (
        'a head counting other events',
        _set('execution.events', 17),
        'export "execution.events" is 17, but its events say 18',
        ('execution', 'events'),
    ),
    (
        'a head counting in text',
        _set('execution.events', '18'),
        'export "execution.events" is \'18\'',
        ('execution', 'events'),
    ),
    (
        'a head with another start',
        _set('execution.created_at', '2020-01-01T00:00:00+00:00'),
        'export "execution.created_at" is \'2020-01-01T00:00:00+00:00\', but its events say',
        ('execution', 'created_at'),
    ),
    (
        'a head with another end',
        _set('execution.finished_at', 'soon'),
        'export "execution.finished_at" is \'soon\', but its events say',
        ('execution', 'finished_at'),
    ),
]

# The place in the file each refusal above is marked with (``errors[].loc`` after ``body``)
PLACES: dict[str, tuple[str | int, ...]] = {
    'not an object': (),
    'no format marker': ('format',),
    'another format': ('format',),
    'no version': ('version',),
    'a newer version': ('version',),
    'no workflow': ('workflow',),
    'an invalid workflow': ('workflow', 'nodes', 1, 'type'),
    'no events': ('events',),
    'events not a list': ('events',),
    'an event that is not an object': ('events', 3),
    'an unknown event type': ('events', 2, 'type'),
    'an event without a timestamp': ('events', 1, 'ts'),
    'a bad timestamp': ('events', 1, 'ts'),
    'a bad seq': ('events', 1, 'seq'),
    'a gap in seq': ('events', 4, 'seq'),
    'seq out of order': ('events', 2, 'seq'),
    'two executions': ('events', 5, 'execution_id'),
    'a bad execution id': ('events', 0, 'execution_id'),
    'not starting with execution.queued': ('events', 0, 'type'),
    'an unfinished execution': ('events', -1, 'type'),
    'events after the end': ('events', -2, 'type'),
    'a node not in the workflow': ('events', 3, 'node_id'),
    'data sent to a node not in the workflow': ('events', DATA_FLOW, 'data', 'target'),
    'another workflow id': ('events', 0, 'data', 'workflow_id'),
    'other nodes': ('events', 0, 'data', 'nodes'),
    'an inline snapshot that differs': ('events', 0, 'data', 'workflow'),
    'an inline snapshot that is not valid': ('events', 0, 'data', 'workflow', 'nodes'),
    'a snapshot hash of another definition': ('events', 0, 'data', 'workflow_hash'),
    'a snapshot hash that is no hash': ('events', 0, 'data', 'workflow_hash'),
    'a trigger of an unknown type': ('events', 0, 'data', 'trigger'),
    'a trigger with a field it cannot have': ('events', 0, 'data', 'trigger'),
    'a value the reducer cannot use': ('events', 0, 'data', 'priority'),
    'a node id on an execution event': ('events', 1, 'node_id'),
    'markup as the node id of the final event': ('events', -1, 'node_id'),
    'a node id that is not text': ('events', 3, 'node_id'),
    'a node id ending in a line break': ('events', 3, 'node_id'),
    'data sent to a node id ending in a line break': ('events', DATA_FLOW, 'data', 'target'),
    'event data nested 300 deep': ('events', 2, 'data'),
    'an error message without bounds': ('events', -1, 'data', 'error'),
    'a number beyond 64 bits': ('events', -1, 'data', 'extra'),
    'a float where a count belongs': ('events', 2, 'data', 'attempt'),
    'a priority the API would refuse': ('events', 0, 'data', 'priority'),
    'a count past 32 bits': ('events', -2, 'data', 'total'),
    'a rerun of an execution id too long for one': ('events', 0, 'data', 'retry_of'),
    'a timestamp out of range': ('events', 1, 'ts'),
    'a timestamp of any length': ('events', 1, 'ts'),
    'an execution id ending in a line break': ('events', 0, 'execution_id'),
    'a snapshot hash ending in a line break': ('events', 0, 'data', 'workflow_hash'),
    'an execution id that is not text': ('events', 0, 'execution_id'),
}


@pytest.mark.parametrize(
    ('mutate', 'message', 'place'),
    [(mutate, message, PLACES[name]) for name, mutate, message in INVALID]
    + [(mutate, message, place) for _, mutate, message, place in STORY_INVALID],
    ids=[name for name, _, _ in INVALID] + [name for name, _, _, _ in STORY_INVALID],
)
async def test_an_invalid_export_is_rejected_naming_the_problem_and_its_place_and_nothing_is_written(
    database: Database,
    stack: tuple[Engine, EventRecorder, History],
    document: dict[str, Any],
    mutate: Callable[[dict[str, Any]], Any],
    message: str,
    place: tuple[str | int, ...],
) -> None:
    """The refusal's message names the problem, and its mark the place in the file (``errors[].loc`` of the API,
    after ``body``): the field of the event, ``('events', 4, 'seq')``, not only ``events[4]`` in the words."""
    before = await counts(database)
    edited = mutate(copy.deepcopy(document))
    with pytest.raises(ImportRejected) as rejected:
        await import_execution(stack[1], REGISTRY, edited)
    assert message in str(rejected.value)
    assert body_location(rejected.value) == _in_document(place, edited)
    assert await counts(database) == before


def test_validation_keeps_the_original_id_and_state(document: dict[str, Any]) -> None:
    valid = validate_export(document, REGISTRY)
    assert valid.original_id == document['execution']['id']
    assert valid.state.status == 'succeeded' and valid.workflow.id == 'flaky'
    assert [event.marshal() for event in valid.events] == document['events']
    assert isinstance(valid.events[0], Event)


async def test_the_write_is_one_transaction(
    database: Database, stack: tuple[Engine, EventRecorder, History], finished: str, document: dict[str, Any]
) -> None:
    before = await counts(database)
    with pytest.raises(IntegrityError):  # the id is taken: the first insert fails, nothing stays
        await import_execution(stack[1], REGISTRY, document, new_id=finished)
    assert await counts(database) == before


def test_event_data_nested_too_deeply_is_refused_naming_the_event_and_the_limit(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    index = next(i for i, event in enumerate(doc['events']) if event['type'] == 'node.completed')
    doc['events'][index]['data']['output'] = json.loads('[' * 300 + ']' * 300)
    with pytest.raises(ImportRejected) as rejected:
        validate_export(doc, REGISTRY)
    assert str(rejected.value) == (
        f'events[{index}] (node.completed): data is nested more than 66 levels deep (payloads may nest 64 levels)'
    )
    doc['events'][index]['data']['output'] = json.loads('[' * 65 + ']' * 65)  # data 66 deep, the output 65
    with pytest.raises(ImportRejected, match=rf'events\[{index}\] \(node.completed\) output is nested more than 64'):
        validate_export(doc, REGISTRY)


def test_each_payload_of_an_event_is_held_to_the_payload_budget(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    index = next(i for i, event in enumerate(doc['events']) if event['type'] == 'node.completed')
    doc['events'][index]['data']['output'] = {'blob': 'x' * 3000}
    with pytest.raises(ImportRejected, match=r'output is 2.9 KiB, over FLOWMON_MAX_PAYLOAD_BYTES \(2 KiB\)'):
        validate_export(doc, REGISTRY, PayloadBudget(max_bytes=2048))
    assert validate_export(doc, REGISTRY, PayloadBudget(max_bytes=4096)).state.status == 'succeeded'


def test_a_document_nested_beyond_the_parse_limit_is_not_parsed() -> None:
    with pytest.raises(ExportMalformed, match='nested more than 512 levels deep; it was not parsed'):
        parse_export(b'[' * 100_000)
    with pytest.raises(ExportMalformed, match='not valid JSON'):
        parse_export(b'{"format": ')
    assert parse_export(b'[' * 300 + b']' * 300) == json.loads('[' * 300 + ']' * 300)


async def test_an_import_is_read_and_checked_off_the_event_loop_and_one_at_a_time(
    exchange: Exchange, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of half a million events takes seconds to read and check: a worker thread does it, so the event loop
    (every page, request and stream) is not held; a second file meanwhile is refused, as each holds much memory."""
    from flowmon.application import exchange as module

    threads: dict[str, str] = {}
    release = threading.Event()
    real_parse, real_validate = module.parse_export, module.validate_export

    def parse(content: bytes) -> Any:
        threads['parse'] = threading.current_thread().name
        release.wait(10)  # (the first import stays in its check until the second one has been refused)
        return real_parse(content)

    def validate(*args: Any) -> Any:
        threads['validate'] = threading.current_thread().name
        return real_validate(*args)

    monkeypatch.setattr(module, 'parse_export', parse)
    monkeypatch.setattr(module, 'validate_export', validate)
    content = json.dumps(document).encode()
    first = asyncio.create_task(exchange.import_file(content))
    await until(lambda: 'parse' in threads, 'the first import to be read')
    with pytest.raises(Unavailable, match='another export file is being imported'):
        await exchange.import_file(content)
    release.set()
    imported = await first
    assert imported.imported_from == document['execution']['id']
    assert threads['parse'] != threading.main_thread().name
    assert threads['validate'] != threading.main_thread().name
    assert (await exchange.import_file(content)).id != imported.id  # and the next file is taken
