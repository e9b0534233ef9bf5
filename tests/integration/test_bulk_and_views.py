"""The bulk actions and saved views use cases over a real system: their bounds (how many executions one request may
touch, how many views may be kept) and the one line a page shows for a bulk outcome."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from flowmon.application import Application, bulk, saved_views
from flowmon.application.bulk import BulkFilter
from flowmon.application.errors import Conflict, Invalid, NotFound
from flowmon.application.history import ExecutionHistory
from flowmon.bootstrap import System
from flowmon.engine.core.provenance import api_trigger
from flowmon.engine.model import WorkflowError
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.retention import Pruner

QUICK = b'{"id": "quick", "name": "Quick", "nodes": [{"id": "a", "type": "log", "config": {"message": "hi"}}]}'


@pytest.fixture
def application(system: System) -> Application:
    return system.application


async def test_a_filter_matching_more_than_the_bound_is_refused_whole(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, 'MAX_BULK', 2)
    await application.workflows.put('quick', QUICK)
    ids = [await application.executions.start('quick', {'order': 'Q-77'}, trigger=api_trigger()) for _ in range(3)]
    await system.engine.wait_idle()

    with pytest.raises(Invalid, match='the filter matches 3 executions; at most 2 per request'):
        await application.bulk.apply('delete', where=BulkFilter(workflow_id='quick'))
    assert (await application.history.page(workflow_id='quick'))[1] == 3  # nothing was done
    with pytest.raises(Invalid, match='3 ids: at most 2'):
        await application.bulk.apply('delete', ids=ids)

    narrowed = BulkFilter(q='Q-77', until=datetime(2000, 1, 1, tzinfo=UTC))  # matches none: nothing to refuse
    assert (await application.bulk.apply('delete', where=narrowed)).summary() == 'Delete: 0 done, 0 skipped, 0 failed'
    done = await application.bulk.apply('delete', ids=ids[:2])
    assert done.summary() == 'Delete: 2 done, 0 skipped, 0 failed'
    assert (await application.history.page(workflow_id='quick'))[1] == 1


async def test_an_unknown_action_or_both_selections_are_invalid(application: Application) -> None:
    with pytest.raises(Invalid, match='action must be one of cancel, rerun, delete'):
        await application.bulk.apply('explode', ids=['x'])
    with pytest.raises(Invalid, match='either "ids" or "filter"'):
        await application.bulk.apply('cancel', ids=['x'], where=BulkFilter())
    with pytest.raises(Invalid, match='either "ids" or "filter"'):
        await application.bulk.apply('cancel')


async def test_rerun_summary_names_the_new_executions(system: System, application: Application) -> None:
    await application.workflows.put('quick', QUICK)
    first = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()
    result = await application.bulk.apply('rerun', ids=[first, 'unknown'])
    shown = result.to_json()
    assert (shown['done'], shown['skipped'], shown['failed']) == (1, 0, 1)
    assert shown['ids'] == result.new_ids and len(shown['ids']) == 1
    assert result.summary() == 'Rerun: 1 done, 0 skipped, 1 failed'
    await system.engine.wait_idle()


SLOW = b'{"id": "slow", "name": "Slow", "nodes": [{"id": "w", "type": "delay", "config": {"seconds": 30}}]}'
OTHER = b'{"id": "other", "name": "Other", "nodes": [{"id": "b", "type": "log", "config": {"message": "ho"}}]}'


async def test_a_bulk_rerun_reads_rows_not_histories_and_gives_each_its_outcome(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reruns of finished executions of two workflows, one of them deleted since (its reruns run the definition
    they ran with), start with the input each ran with and say what they rerun; a running one is skipped, as is an
    imported one, and an unknown id fails, each saying why, as a single rerun would. No execution's events are
    folded for it and each workflow is read once: a rerun of many reads their rows together."""
    await application.workflows.put('quick', QUICK)
    await application.workflows.put('other', OTHER)
    await application.workflows.put('slow', SLOW)
    quick = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(3)]
    other = await application.executions.start('other', [1, 'two', {'three': None}], trigger=api_trigger())
    await system.engine.wait_idle()
    imported = (await application.exchange.import_file((await application.exchange.export(quick[0])).content)).id
    await application.workflows.delete('other')
    running = await application.executions.start('slow', {}, trigger=api_trigger())
    catalog_reads: list[str] = []
    reading = WorkflowCatalog.get

    async def counted(catalog: WorkflowCatalog, workflow_id: str) -> Any:
        catalog_reads.append(workflow_id)
        return await reading(catalog, workflow_id)

    async def no_fold(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError('a bulk rerun folded an execution')

    monkeypatch.setattr(WorkflowCatalog, 'get', counted)
    monkeypatch.setattr(ExecutionHistory, 'replay', no_fold)
    result = await application.bulk.apply('rerun', ids=[*quick, 'unknown', running, other, imported, quick[0]])
    monkeypatch.undo()

    assert result.summary() == 'Rerun: 4 done, 2 skipped, 1 failed'
    reasons = result.reasons()  # how many were held back for which reason, as the list's notification says
    assert reasons[0] == '1 failed (not found)' and len(reasons) == 3
    assert reasons[2] == '1 skipped (was imported: imported executions are read-only)'
    assert [item.id for item in result.items] == [*quick, 'unknown', running, other, imported]  # asked, once each
    outcomes = {item.id: (item.outcome.value, item.detail) for item in result.items}
    assert outcomes['unknown'] == ('failed', "execution 'unknown' not found")
    assert outcomes[running][0] == 'skipped'
    assert re.fullmatch(
        f"execution '{running}' is still (queued|running); cancel it or wait", outcomes[running][1] or ''
    )
    assert outcomes[imported] == ('skipped', f'execution {imported!r} was imported: imported executions are read-only')
    assert sorted(catalog_reads) == ['other', 'quick']
    await application.executions.cancel(running)
    await system.engine.wait_idle()
    inputs = {}
    for item in result.items:
        if item.new_id is not None:
            record = await application.history.record(item.new_id)
            assert record is not None and record.status == 'succeeded', record
            assert (record.retry_of, record.trigger_type) == (item.id, 'rerun')
            inputs[item.id] = (record.workflow_id, (await application.history.state(item.new_id)).input)
    assert inputs == {
        quick[0]: ('quick', {'n': 0}),
        quick[1]: ('quick', {'n': 1}),
        quick[2]: ('quick', {'n': 2}),
        other: ('other', [1, 'two', {'three': None}]),
    }


async def test_a_bulk_rerun_of_a_workflow_that_no_longer_validates_fails_each_of_its_executions(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored workflow is read once and refused once; each of its executions fails saying so (a refusal of its
    own), and an execution of another workflow is rerun."""
    await application.workflows.put('quick', QUICK)
    await application.workflows.put('other', OTHER)
    broken = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(2)]
    fine = await application.executions.start('other', trigger=api_trigger())
    await system.engine.wait_idle()
    reading = WorkflowCatalog.get
    reads: list[str] = []

    async def quick_is_broken(catalog: WorkflowCatalog, workflow_id: str) -> Any:
        reads.append(workflow_id)
        if workflow_id == 'quick':
            raise WorkflowError('node a: unknown node type "gone"')
        return await reading(catalog, workflow_id)

    monkeypatch.setattr(WorkflowCatalog, 'get', quick_is_broken)
    result = await application.bulk.apply('rerun', ids=[*broken, fine])
    assert reads == ['quick', 'other']
    assert [(item.id, item.outcome.value, item.detail) for item in result.items[:2]] == [
        (execution_id, 'failed', 'node a: unknown node type "gone"') for execution_id in broken
    ]
    assert (result.items[2].outcome.value, result.items[2].new_id is not None) == ('done', True)
    await system.engine.wait_idle()


async def test_a_bulk_cancel_stops_what_runs_and_reads_the_rest_together(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued or running execution is cancelled; one that has ended is skipped, as is an imported one (each
    saying why) and an unknown id fails, as a single cancel would say; none of them has its events folded. When the
    rows cannot be read, those running here are cancelled all the same and the others fail."""
    await application.workflows.put('quick', QUICK)
    await application.workflows.put('slow', SLOW)
    ended = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(2)]
    await system.engine.wait_idle()
    imported = (await application.exchange.import_file((await application.exchange.export(ended[0])).content)).id
    running = [await application.executions.start('slow', {}, trigger=api_trigger()) for _ in range(2)]

    async def no_fold(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError('a bulk cancel folded an execution')

    monkeypatch.setattr(ExecutionHistory, 'replay', no_fold)
    result = await application.bulk.apply('cancel', ids=[ended[0], running[0], 'unknown', imported, ended[1]])
    assert [(item.id, item.outcome.value, item.detail) for item in result.items] == [
        (ended[0], 'skipped', f'execution {ended[0]!r} is already succeeded'),
        (running[0], 'done', None),
        ('unknown', 'failed', "execution 'unknown' not found"),
        (imported, 'skipped', f'execution {imported!r} was imported: imported executions are read-only'),
        (ended[1], 'skipped', f'execution {ended[1]!r} is already succeeded'),
    ]

    async def unavailable(history: ExecutionHistory, execution_ids: Any) -> Any:
        raise OSError('unable to open database file')

    monkeypatch.setattr(ExecutionHistory, 'records', unavailable)
    result = await application.bulk.apply('cancel', ids=[running[1], ended[0]])
    assert [(item.id, item.outcome.value) for item in result.items] == [(running[1], 'done'), (ended[0], 'failed')]
    monkeypatch.undo()
    await system.engine.wait_idle()
    records = await application.history.records(running)
    assert [records[execution_id].status for execution_id in running] == ['cancelled', 'cancelled']


async def test_a_bulk_rerun_that_breaks_midway_keeps_the_reruns_it_started(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The second of three reruns fails unexpectedly: the first and third are started and say so, the second
    failed (the server log has why); the caller gets outcomes, not a 500. Without a database to read the rows
    from, every item fails and nothing starts."""
    await application.workflows.put('quick', QUICK)
    ids = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(3)]
    await system.engine.wait_idle()
    submitting = system.engine.submit
    calls: list[Any] = []

    def second_breaks(*args: Any, **kwargs: Any) -> str:
        calls.append(args)
        if len(calls) == 2:
            raise OSError('no space left on device')
        return submitting(*args, **kwargs)

    monkeypatch.setattr(system.engine, 'submit', second_breaks)
    result = await application.bulk.apply('rerun', ids=ids)
    assert [(item.id, item.outcome.value) for item in result.items] == [
        (ids[0], 'done'), (ids[1], 'failed'), (ids[2], 'done')
    ]  # fmt: skip
    assert result.items[1].detail == 'unexpected error (see the server log)'
    assert 'rerun of execution' in caplog.text and 'no space left on device' in caplog.text
    await system.engine.wait_idle()
    assert (await application.history.page(workflow_id='quick', trigger='rerun'))[1] == 2

    async def unavailable(history: ExecutionHistory, execution_ids: Any) -> Any:
        raise OSError('unable to open database file')

    monkeypatch.setattr(ExecutionHistory, 'records', unavailable)
    result = await application.bulk.apply('rerun', ids=ids)
    assert result.summary() == 'Rerun: 0 done, 0 skipped, 3 failed'
    assert len(calls) == 3


async def test_a_bulk_delete_goes_in_shared_steps_with_an_outcome_per_execution(
    system: System, application: Application
) -> None:
    """Thirty finished executions are deleted together (the pruner's shared steps: tests/unit/test_retention.py); a
    running one is skipped and an unknown one fails, each saying why. ``delete_many`` answers the same way."""
    await application.workflows.put('quick', QUICK)
    await application.workflows.put('slow', SLOW)
    finished = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(30)]
    await system.engine.wait_idle()
    running = await application.executions.start('slow', {}, trigger=api_trigger())

    result = await application.bulk.apply('delete', ids=[finished[0], 'unknown', running, *finished])

    assert result.summary() == 'Delete: 30 done, 1 skipped, 1 failed'
    outcomes = {item.id: (item.outcome.value, item.detail) for item in result.items}
    assert outcomes['unknown'] == ('failed', "execution 'unknown' not found")
    assert outcomes[running][0] == 'skipped' and 'still' in (outcomes[running][1] or '')
    assert [item.id for item in result.items][:3] == [finished[0], 'unknown', running]  # the order asked
    records, total = await application.history.page(workflow_id='quick')
    assert (records, total) == ([], 0)
    for execution_id in finished[:3]:
        with pytest.raises(NotFound):
            await application.history.state(execution_id)
    await application.executions.cancel(running)
    await system.engine.wait_idle()

    more = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(30)]
    await system.engine.wait_idle()
    refused, deleted = await application.executions.delete_many([*more, running])  # cancelled: finished now
    assert refused == {} and deleted.executions == 31


async def test_a_bulk_delete_that_breaks_midway_says_which_executions_went(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database fails after the first of three finished executions is deleted: that one is done, the other two
    failed (what went before the failure stays deleted), and the server log has the error. An unknown id and a
    running execution, refused before anything was deleted, keep their own outcomes."""
    await application.workflows.put('quick', QUICK)
    await application.workflows.put('slow', SLOW)
    ids = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(3)]
    await system.engine.wait_idle()
    running = await application.executions.start('slow', {}, trigger=api_trigger())
    deleting = Pruner.delete_executions

    async def breaks_after_one(pruner: Pruner, execution_ids: Any, on_deleted: Any = None) -> Any:
        await deleting(pruner, execution_ids[:1], on_deleted)
        raise OSError('disk I/O error')

    monkeypatch.setattr(Pruner, 'delete_executions', breaks_after_one)
    result = await application.bulk.apply('delete', ids=[*ids, 'unknown', running])

    assert [(item.id, item.outcome.value) for item in result.items] == [
        (ids[0], 'done'), (ids[1], 'failed'), (ids[2], 'failed'), ('unknown', 'failed'), (running, 'skipped')
    ]  # fmt: skip
    assert result.items[1].detail == 'unexpected error (see the server log)'
    assert result.items[3].detail == "execution 'unknown' not found"
    assert 'bulk delete of 3 executions failed' in caplog.text and 'disk I/O error' in caplog.text
    assert (await application.history.page(workflow_id='quick'))[1] == 2
    await application.executions.cancel(running)
    await system.engine.wait_idle()


async def test_a_bulk_delete_without_a_database_fails_each_item_and_raises_nothing(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between the checks and the deletion, and stays away: nothing is known to be deleted, so
    each finished execution failed; what the checks refused keeps its outcome; the caller gets outcomes, not a 500.
    Gone from the start, every item fails."""
    await application.workflows.put('quick', QUICK)
    ids = [await application.executions.start('quick', {'n': n}, trigger=api_trigger()) for n in range(2)]
    await system.engine.wait_idle()
    reading = ExecutionHistory.records
    reads: list[int] = []

    async def only_once(history: ExecutionHistory, execution_ids: Any) -> Any:
        reads.append(len(execution_ids))
        if len(reads) > 1:
            raise OSError('unable to open database file')
        return await reading(history, execution_ids)

    async def unavailable(pruner: Pruner, execution_ids: Any, on_deleted: Any = None) -> Any:
        raise OSError('unable to open database file')

    monkeypatch.setattr(ExecutionHistory, 'records', only_once)
    monkeypatch.setattr(Pruner, 'delete_executions', unavailable)
    result = await application.bulk.apply('delete', ids=[*ids, 'unknown'])
    assert [(item.id, item.outcome.value) for item in result.items] == [
        (ids[0], 'failed'), (ids[1], 'failed'), ('unknown', 'failed')
    ]  # fmt: skip
    assert result.items[0].detail == 'unexpected error (see the server log)'
    assert result.items[2].detail == "execution 'unknown' not found"

    result = await application.bulk.apply('delete', ids=ids)  # (every read fails now)
    assert result.summary() == 'Delete: 0 done, 0 skipped, 2 failed'


async def test_saved_views_are_bounded_in_number(application: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saved_views, 'MAX_VIEWS', 2)
    views = application.saved_views
    version = views.version
    assert (await views.save(' one ', {'status': 'failed'}))[1] is True
    assert (await views.save('two', {}))[1] is True
    with pytest.raises(Conflict, match='already 2 saved views'):
        await views.save('three', {})
    replaced, created = await views.save('one', {'q': 'A-1001'})  # replacing needs no room
    assert created is False and replaced.filter == {'q': 'A-1001'}
    assert [view.name for view in await views.all()] == ['one', 'two']
    assert views.version == version + 3
    await views.delete('two')
    with pytest.raises(NotFound):
        await views.delete('two')
    assert (await views.save('three', {}))[1] is True
