"""``GET /api/executions/{id}/export``: the file written page by page as the store is read (over a real system,
in-process via ASGI), byte for byte the document encoded at once. Pages of 2 events here (``EVENT_PAGE`` is 1,000),
so a few events make several pages."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import httpx
import pytest
from event_history import History
from fastapi import FastAPI
from paged_reads import StalledClient, before_each_read, connection_lost, delete_events, paged_reads
from sqlalchemy import delete
from store_samples import chain

from flowmon.application import history as application_history
from flowmon.bootstrap import System
from flowmon.engine import Event, EventType
from flowmon.store.codec import dumps
from flowmon.store.tables import EventRow

if TYPE_CHECKING:
    from flowmon.application.exchange import ExportStream

ID = 'exported'


@pytest.fixture
def token() -> str:
    return 'export-stream-token'


async def recorded(system: System, nodes: int, *, inline: bool = True) -> list[Event]:
    """A finished execution of ``nodes`` nodes written to the store (3 + 2 per node events), with data of every JSON
    kind; its definition recorded in its first event (``inline``), or only stored as the workflow ``wf``."""
    node_ids = [f'n{i}' for i in range(nodes)]
    definition = chain('wf', *node_ids, name='Wörk "flow"')
    run = History(execution_id=ID, step_ms=1.5)
    recorded_definition = {'workflow': definition} if inline else {}
    run.then(EventType.EXECUTION_QUEUED, nodes=node_ids, workflow_id='wf', input={'q': 'ü'}, **recorded_definition)
    run.then(EventType.EXECUTION_STARTED)
    for node_id in node_ids:
        run.then(EventType.NODE_STARTED, node_id, attempt=1, input={'x': [1.5e-7, None, True, 'Ω ☃ 𝄞 \x7f']})
        run.then(EventType.NODE_COMPLETED, node_id, attempt=1, output={'n': 2**62, 'f': 0.1, 'text': 'é\n"\\'})
    run.then(EventType.EXECUTION_COMPLETED, output={'done': 1e-05})
    await system.recorder.write(run.events)
    return run.events


async def encoded_at_once(system: System, exported_at: str) -> bytes:
    """The file as it was written before it was streamed: the replay index's final state and every event, one
    ``dumps`` of the whole document."""
    index = await system.application.history.replay(ID)
    state = index.final
    assert state is not None and state.created_at is not None and state.finished_at is not None
    document = {
        'format': 'flowmon.execution',
        'version': 1,
        'exported_at': exported_at,
        'execution': {
            'id': ID,
            'workflow_id': state.workflow_id,
            'status': state.status,
            'created_at': state.created_at.isoformat(),
            'finished_at': state.finished_at.isoformat(),
            'events': index.n,
            'imported_from': None,
        },
        'workflow': await system.application.history.definition(ID, state),
        'events': [event.marshal() for event in index.events],
    }
    return dumps(document).encode('utf-8')


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Pages of 2 events; the reads of the execution's events, by their ``limit``."""
    return paged_reads(monkeypatch, ID)


async def test_the_file_is_the_one_encoded_at_once_read_page_by_page(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    events = await recorded(system, 3)  # 9 events: pages of 2, 2, 2, 2 and 1
    response = await client.get(f'/api/executions/{ID}/export')
    assert response.status_code == 200, response.text
    assert response.headers['content-type'] == 'application/json'
    assert response.headers['content-disposition'] == f'attachment; filename="flowmon-wf-{ID}.json"'
    assert reads == [2, 1, 2, 2, 2, 2]  # pages; the 1: the definition's read of the first event
    document = response.json()
    assert response.content == await encoded_at_once(system, document['exported_at'])
    assert [event['seq'] for event in document['events']] == [event.seq for event in events]
    assert document['execution']['events'] == 9 and document['events'][2]['data']['input']['x'][0] == 1.5e-7

    imported = await client.post('/api/executions/import', content=response.content)
    assert imported.status_code == 201, imported.text
    copy = imported.json()['id']
    copied = (await client.get(f'/api/executions/{copy}/events')).json()
    assert copied[1:] == (await client.get(f'/api/executions/{ID}/events')).json()[1:]  # (the first names its workflow
    assert copied[0]['data']['workflow_hash']  # by hash once imported)
    again = await client.get(f'/api/executions/{copy}/export')
    assert again.json()['execution'] == {**document['execution'], 'id': copy, 'imported_from': ID}


async def test_an_execution_of_one_page_and_one_of_a_page_exactly(
    client: httpx.AsyncClient, system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await recorded(system, 1)  # 5 events
    for page in (1_000, 5):
        monkeypatch.setattr(application_history, 'EVENT_PAGE', page)
        response = await client.get(f'/api/executions/{ID}/export')
        assert response.content == await encoded_at_once(system, response.json()['exported_at']), page


async def test_refusals_come_before_the_file_starts(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    missing = await client.get('/api/executions/nope/export')
    assert (missing.status_code, missing.json()['detail']) == (404, "execution 'nope' not found")
    await recorded(system, 2, inline=False)
    await system.application.workflows.put('wf', json.dumps(chain('wf', 'n0', 'n1')).encode())
    assert (await client.get(f'/api/executions/{ID}/export')).status_code == 200  # the stored workflow
    await system.application.workflows.delete('wf')
    unrecorded = await client.get(f'/api/executions/{ID}/export')
    assert unrecorded.status_code == 409
    assert unrecorded.json()['detail'] == (
        f"the workflow definition of execution '{ID}' was not recorded and workflow 'wf' no longer exists"
    )
    async with system.db.engine.begin() as conn:  # its deletion begins: its first events go
        table = EventRow.__table__  # type: ignore[attr-defined]
        await conn.execute(delete(table).where(table.c.execution_id == ID, table.c.seq <= 2))
    gone = await client.get(f'/api/executions/{ID}/export')
    assert (gone.status_code, gone.json()['detail']) == (
        404,
        f"execution '{ID}' was deleted while its events were being read",
    )


async def test_a_failed_read_after_the_first_page_ends_the_file_unfinished(
    client: httpx.AsyncClient, system: System, reads: list[int | None], caplog: pytest.LogCaptureFixture
) -> None:
    await recorded(system, 2)  # 7 events
    whole = (await client.get(f'/api/executions/{ID}/export')).content
    with pytest.MonkeyPatch.context() as patch:
        before_each_read(patch, connection_lost(after_seq=2))
        response = await client.get(f'/api/executions/{ID}/export')
    assert response.status_code == 200  # the status went out with the first page
    # (the time of the export aside) the head and the first page, the document left open
    cut = response.content.index(b'"execution":')
    assert response.content[cut:] == whole[cut : whole.index(b',{"execution_id":"exported","seq":3,')]
    assert f"exporting execution '{ID}' failed; its file ends unfinished" in caplog.text
    assert 'connection to the database lost' in caplog.text
    refused = await client.post('/api/executions/import', content=response.content)
    assert refused.status_code == 400, refused.text


async def test_events_deleted_while_the_file_is_written_end_it_unfinished(
    client: httpx.AsyncClient, system: System, reads: list[int | None], caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting an execution takes its events lowest seq first: a file written meanwhile must not pass for whole."""
    await recorded(system, 2)  # 7 events

    async def deleting(execution_id: str, after_seq: int, _limit: int | None) -> None:
        if after_seq == 2:
            await delete_events(system, execution_id, through_seq=4)

    with pytest.MonkeyPatch.context() as patch:
        before_each_read(patch, deleting)
        response = await client.get(f'/api/executions/{ID}/export')
    assert response.status_code == 200
    assert b'"seq":2,' in response.content and not response.content.endswith(b']}')  # the first page, no more
    assert f"execution '{ID}' was deleted while its events were being read" in caplog.text


async def test_a_client_that_goes_away_stops_the_reading(
    app: FastAPI, system: System, token: str, reads: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    await recorded(system, 4)  # 11 events, 6 pages
    opened: list[ExportStream] = []
    open_stream = system.application.exchange.stream

    async def kept(execution_id: str) -> ExportStream:
        stream = await open_stream(execution_id)
        opened.append(stream)
        return stream

    monkeypatch.setattr(system.application.exchange, 'stream', kept)
    client = StalledClient()
    task = asyncio.create_task(app(client.scope(f'/api/executions/{ID}/export', token), client.receive, client.send))
    await asyncio.wait_for(client.stalled.wait(), 10)  # the second page waits for room: the client stopped reading
    assert client.body.startswith(b'{"format":"flowmon.execution",') and reads == [2, 1, 2]
    client.gone.set()  # and hangs up
    await asyncio.wait_for(task, 10)
    assert reads == [2, 1, 2]
    assert [(stream.chunks.ag_frame, stream.pages.ag_frame) for stream in opened] == [(None, None)]  # closed


async def test_the_pages_download_is_the_same_file(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    await recorded(system, 3)
    file = await system.application.exchange.export(ID)
    streamed = await client.get(f'/api/executions/{ID}/export')
    assert file.filename == f'flowmon-wf-{ID}.json'
    assert file.content == await encoded_at_once(system, json.loads(file.content)['exported_at'])
    cut = file.content.index(b'"execution":')
    assert file.content[cut:] == streamed.content[cut:]
