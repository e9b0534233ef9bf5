"""The events one run publishes and the rows the recorder stores for it, byte for byte, against a golden record.

A small workflow with a retry, a condition (one branch taken, one skipped) and data flowing into a join runs on the
stack the app wires (engine, bus, live projection, SQLite recorder, snapshot sink), on a fake clock with a fixed
execution id: every event (its seq, time, type, node, data with its key order, and the JSON text it carries) and
every stored row of the run (events, executions, node runs, search text, the definition) must be what
``golden/event_stream.json`` holds. Work that makes the engine or the recorder cheaper must leave all of it as it was.

``FLOWMON_GOLDEN_UPDATE=1`` rewrites the record from a run (for a change that means to alter what is recorded).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fake_clock import FakeClock
from sample_workflows import condition, fail, transform, workflow
from sqlalchemy import select

from flowmon.engine import Engine, Event, EventBus, default_registry, parse_workflow
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder
from flowmon.store.tables import EventRow, ExecutionRow, ExecutionSearchRow, NodeRunRow, WorkflowSnapshotRow

GOLDEN = Path(__file__).parent / 'golden' / 'event_stream.json'
EXECUTION_ID = '0000000000000golden'

# prepare -> flaky (fails once, then succeeds) -> check -> yes (taken) / no (skipped) -> join, which prepare feeds too.
DEFINITION = workflow(
    'golden',
    'Golden stream',
    transform('prepare', "{order: input.order, note: 'héllo ✓'}"),
    fail('flaky', 'gateway timeout', times=1, retry={'max_attempts': 3, 'backoff_seconds': 0}),
    condition('check', 'input.go'),
    transform('yes', "{took: 'yes', order: prepare.order}"),
    transform('no', "{took: 'no'}"),
    transform('join', '{via: yes.took || no.took, order: prepare.order}'),
    edges=[
        ('prepare', 'flaky'),
        ('flaky', 'check'),
        ('check', 'yes', True),
        ('check', 'no', False),
        ('yes', 'join'),
        ('no', 'join'),
        ('prepare', 'join'),
    ],
)


def published(event: Event) -> dict[str, Any]:
    """An event as published: every field, the data's keys in their order, and the JSON text it carries."""
    return {
        'seq': event.seq,
        'ts': event.ts.isoformat(),
        'type': str(event.type),
        'type_class': type(event.type).__name__,
        'node_id': event.node_id,
        'data': json.dumps(dict(event.data), ensure_ascii=False, default=repr),
        'data_json': event.data_json,
    }


async def stored(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row the run left in the recorder's tables (snapshot times aside: those are the wall clock's)."""
    tables: Mapping[str, Any] = {
        'events': EventRow.__table__,  # type: ignore[attr-defined]
        'executions': ExecutionRow.__table__,  # type: ignore[attr-defined]
        'node_runs': NodeRunRow.__table__,  # type: ignore[attr-defined]
        'execution_search': ExecutionSearchRow.__table__,  # type: ignore[attr-defined]
        'workflow_snapshots': WorkflowSnapshotRow.__table__,  # type: ignore[attr-defined]
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    async with db.engine.connect() as conn:
        for name, table in tables.items():
            result = await conn.execute(select(table).order_by(*table.primary_key.columns))
            rows[name] = [
                {
                    key: repr(value)
                    for key, value in row._mapping.items()
                    if not (name == 'workflow_snapshots' and key == 'created_at')
                }
                for row in result
            ]
    return rows


async def test_a_run_publishes_and_stores_exactly_the_golden_record(database: Database) -> None:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    projector = Projector(bus)
    recorder = EventRecorder(database, bus, projection=projector, flush_interval=60)
    await recorder.start()
    projector.start()
    registry = default_registry()
    engine = Engine(
        bus=bus,
        registry=registry,
        clock=FakeClock(),
        rand=lambda: 0.5,
        id_factory=lambda: EXECUTION_ID,
        snapshots=recorder.keep_snapshot,
    )
    try:
        engine.submit(
            parse_workflow(DEFINITION, registry), {'order': {'id': 'ORD-7', 'items': [1, 2.5, None]}, 'go': True}
        )
        await engine.wait_idle()
        await recorder.drain()
        record = {'published': [published(event) for event in events], 'stored': await stored(database)}
    finally:
        await engine.stop()
        await recorder.stop()
        projector.stop()
    if os.environ.get('FLOWMON_GOLDEN_UPDATE') == '1':
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(record, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    golden = json.loads(GOLDEN.read_text(encoding='utf-8'))
    assert [(e['seq'], e['type'], e['node_id']) for e in record['published']] == [
        (e['seq'], e['type'], e['node_id']) for e in golden['published']
    ]
    for got, want in zip(record['published'], golden['published'], strict=True):
        assert got == want, f'event #{want["seq"]} ({want["type"]} {want["node_id"]})'
    assert record['stored'] == golden['stored']
