"""Workflow snapshots once per version, through the real composition root: runs name their definition by hash, the
definition is stored once, and replay, export, rerun and the live page resolve it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, text

from flowmon.bootstrap import System
from flowmon.engine.core.provenance import api_trigger, ui_trigger
from flowmon.engine.core.snapshot import definition_hash
from flowmon.store.tables import WorkflowSnapshotRow

PADDING = 'a message the node would fail with, never used ' * 4300  # about 200 KB of definition
BIG = {
    'id': 'big',
    'name': 'Big',
    'nodes': [
        {'id': 'shape', 'type': 'transform', 'config': {'expression': '{n: input.n}'}},
        {'id': 'note', 'type': 'fail', 'config': {'message': PADDING, 'times': 0}},  # succeeds at once
    ],
    'edges': [{'source': 'shape', 'target': 'note'}],
}


async def pages_in_use(system: System) -> int:
    """The database's size in bytes as SQLite counts it (pages, free ones excluded), after a checkpoint."""
    await system.recorder.flush()
    async with system.db.engine.connect() as conn:
        size = (await conn.execute(text('PRAGMA page_size'))).scalar_one()
        pages = (await conn.execute(text('PRAGMA page_count'))).scalar_one()
        free = (await conn.execute(text('PRAGMA freelist_count'))).scalar_one()
    return int((pages - free) * size)


async def snapshot_rows(system: System) -> int:
    table = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
    async with system.db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def run(system: System, workflow_id: str, n: int, trigger: dict[str, Any] | None = None) -> str:
    execution_id = await system.application.executions.start(workflow_id, {'n': n}, trigger=trigger or api_trigger())
    await system.engine.wait_idle()
    return execution_id


async def test_twenty_runs_of_a_200_kb_definition_add_far_less_than_a_megabyte(system: System) -> None:
    document = json.dumps(BIG).encode()
    assert len(document) > 200_000
    await system.application.workflows.put('big', document)
    first = await run(system, 'big', 0)  # the definition's one copy is stored with the first run
    before = await pages_in_use(system)

    for n in range(1, 21):
        await run(system, 'big', n)
    grown = await pages_in_use(system) - before

    assert grown < 150_000, f'20 runs added {grown:,} bytes'  # an inline copy per run would be over 4 MB
    assert await snapshot_rows(system) == 1
    queued = (await system.application.history.events(first, limit=1))[0].data
    assert 'workflow' not in queued and queued['workflow_hash'] == definition_hash(queued_definition(system, 'big'))


def queued_definition(system: System, workflow_id: str) -> dict[str, Any]:
    workflow = system.catalog.validate(BIG)
    assert workflow.id == workflow_id
    return workflow.definition()


async def test_replay_export_and_the_live_page_resolve_the_hash(system: System) -> None:
    await system.application.workflows.put('big', json.dumps(BIG).encode())
    execution_id = await run(system, 'big', 1, ui_trigger())
    expected = queued_definition(system, 'big')

    assert system.application.live.snapshot(execution_id) == expected  # in memory: drawn without a query
    index = await system.application.history.replay(execution_id)
    assert index.workflow == expected and index.node_order == ('shape', 'note')
    document = json.loads((await system.application.exchange.export(execution_id)).content)
    assert document['workflow'] == expected  # the export holds the whole definition
    assert document['events'][0]['data']['workflow_hash'] == definition_hash(expected)
    assert document['events'][0]['data']['trigger'] == {'type': 'ui'}


async def test_a_rerun_of_a_deleted_workflow_runs_the_snapshot_it_names(system: System) -> None:
    await system.application.workflows.put('big', json.dumps(BIG).encode())
    execution_id = await run(system, 'big', 1)
    await system.application.workflows.delete('big')
    system.application.history.forget(execution_id)  # nothing cached: the definition comes from the store

    rerun = await system.application.executions.rerun(execution_id)
    await system.engine.wait_idle()

    state = await system.application.history.state(rerun)
    assert (state.status, state.retry_of, state.trigger) == (
        'succeeded',
        execution_id,
        {'type': 'rerun', 'retry_of': execution_id},
    )
    assert state.workflow_hash == definition_hash(queued_definition(system, 'big'))
    assert await snapshot_rows(system) == 1
