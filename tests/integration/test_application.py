"""The application layer over a real system: read-your-writes inside the use cases, the workflow an execution ran,
and refusals that the API answers with one status code each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flowmon.api import install_api
from flowmon.api.errors import status_of
from flowmon.application import Application
from flowmon.application.errors import (
    AppError,
    Conflict,
    ExportMalformed,
    ImportRejected,
    Invalid,
    Malformed,
    NotFound,
    OversizedPayload,
    RefusedPayload,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from flowmon.application.exchange import ExportUnavailable
from flowmon.bootstrap import System
from flowmon.engine import Event, EventType
from flowmon.engine.core.provenance import api_trigger

QUICK = b'{"id": "quick", "name": "Quick", "nodes": [{"id": "a", "type": "log", "config": {"message": "hi"}}]}'
T0 = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def application(system: System) -> Application:
    return system.application


async def test_lists_and_events_see_an_execution_the_moment_it_ends(system: System, application: Application) -> None:
    await application.workflows.put('quick', QUICK)
    execution_id = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()  # ended; the recorder's next group commit is still up to 100 ms away
    records, total = await application.history.page(workflow_id='quick')
    assert total == 1 and (records[0].id, records[0].status) == (execution_id, 'succeeded')
    events = await application.history.events(execution_id)
    assert events[-1].type == EventType.EXECUTION_COMPLETED
    assert [event.seq for event in events] == list(range(1, len(events) + 1))


async def test_reading_an_execution_written_long_since_does_not_wait_for_the_recorder(
    system: System, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    await application.workflows.put('quick', QUICK)
    ended = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()
    await application.history.settle()  # its events are written
    flush_for = system.recorder.flush_for
    readers: list[int] = []  # how many events each read had written before it

    async def flush_for_a_reader(execution_ids: Any) -> int:
        written = await flush_for(execution_ids)
        readers.append(written)
        return written

    monkeypatch.setattr(system.recorder, 'flush_for', flush_for_a_reader)
    running = await application.executions.start('quick', trigger=api_trigger())  # its events wait for a commit
    record = await application.history.record(ended)
    assert record is not None and record.status == 'succeeded'
    assert (await application.history.replay(ended)).n == len(await application.history.events(ended))
    assert await application.history.event_time(ended, 1) is not None
    assert await application.history.snapshot(ended) is not None
    assert set(await application.history.records([ended])) == {ended}
    assert readers and set(readers) == {0}  # nothing of it to wait for, however busy the recorder
    await system.engine.wait_idle()
    record = await application.history.record(running)  # read your writes: its events are waited for if need be
    assert record is not None and record.status == 'succeeded'


async def test_the_definition_falls_back_from_the_snapshot_to_the_stored_workflow_to_a_bare_graph(
    system: System, application: Application
) -> None:
    await application.workflows.put('quick', QUICK)
    with_snapshot = await application.executions.start('quick', trigger=api_trigger())
    await system.engine.wait_idle()
    assert (await application.history.definition(with_snapshot))['nodes'][0]['type'] == 'log'

    queued = {'workflow_id': 'quick', 'nodes': ['a'], 'input': {}}  # recorded without the workflow snapshot
    await system.recorder.write(
        [
            Event(execution_id='old', seq=1, type=EventType.EXECUTION_QUEUED, ts=T0, data=queued),
            Event(execution_id='old', seq=2, type=EventType.EXECUTION_CANCELLED, ts=T0, data={'reason': 'test'}),
        ]
    )
    stored = await application.history.definition('old')
    assert stored == (await application.workflows.get('quick')).definition
    await application.workflows.delete('quick')
    assert await application.history.definition('old') == {'id': 'quick', 'name': 'quick', 'nodes': [{'id': 'a'}]}
    with pytest.raises(NotFound):
        await application.history.definition('no-such-execution')


async def test_a_run_asked_for_while_the_engine_stops_is_503(
    system: System, application: Application, token: str
) -> None:
    await application.workflows.put('quick', QUICK)
    app = FastAPI()
    install_api(app, application)
    await system.engine.stop()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url='http://flowmon') as client:
        response = await client.post(
            '/api/workflows/quick/executions', json={}, headers={'Authorization': f'Bearer {token}'}
        )
    assert response.status_code == 503
    assert response.json() == {'detail': 'the engine is stopping'}


@pytest.mark.parametrize(
    ('error', 'status'),
    [
        (Malformed, 400),
        (ExportMalformed, 400),
        (Unauthorized, 401),
        (NotFound, 404),
        (Conflict, 409),
        (ExportUnavailable, 409),
        (TooLarge, 413),
        (OversizedPayload, 413),
        (Invalid, 422),
        (RefusedPayload, 422),
        (ImportRejected, 422),
        (Unavailable, 503),
    ],
)
def test_every_refusal_has_one_status_code(error: type[AppError], status: int) -> None:
    assert status_of(error('why')) == status
