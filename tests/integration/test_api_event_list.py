"""``GET /api/executions/{id}/events``: every event (or ``limit`` of them), written page by page as the store is read
(over a real system, in-process via ASGI). Pages of 2 events here (``EVENT_PAGE`` is 1,000), so a few events make
several pages; a page also stops at the event that brings its data to ``EVENT_PAGE_CHARS`` characters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from event_history import History
from fastapi import FastAPI
from paged_reads import StalledClient, before_each_read, connection_lost, delete_events, paged_reads
from pydantic import TypeAdapter
from sqlalchemy import text

from flowmon.application import history as application_history
from flowmon.application.history import ExecutionHistory
from flowmon.application.views import event_view
from flowmon.bootstrap import System
from flowmon.engine import Event, EventType

ID = 'paged'
# FastAPI's encoding of a route's whole list at once (pydantic's): what the pages written one after the other make
WHOLE = TypeAdapter(list[dict[str, Any]])


@pytest.fixture
def token() -> str:
    return 'event-list-token'


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    return paged_reads(monkeypatch, ID)


async def recorded(system: System, nodes: int) -> list[Event]:
    """An execution of ``nodes`` nodes written to the store (3 + 2 per node events), with data of every JSON kind."""
    run = History(execution_id=ID, step_ms=1)
    run.then(EventType.EXECUTION_QUEUED, nodes=[f'n{i}' for i in range(nodes)], workflow_id='wf', input={'q': 'ü'})
    run.then(EventType.EXECUTION_STARTED)
    for i in range(nodes):
        run.then(EventType.NODE_STARTED, f'n{i}', attempt=1, input={'x': [1.5e-7, None, True, 'Ω ☃ 𝄞']})
        run.then(EventType.NODE_COMPLETED, f'n{i}', attempt=1, output={'n': 2**62, 'f': 0.1, 'text': 'é\n"\\'})
    run.then(EventType.EXECUTION_COMPLETED)
    await system.recorder.write(run.events)
    return run.events


async def at_once(system: System, after_seq: int = 0) -> bytes:
    """The stored events after ``after_seq`` encoded as one list."""
    events = await system.application.history.events(ID, after_seq=after_seq)
    return WHOLE.dump_json([event_view(event) for event in events])


async def test_the_whole_list_is_the_body_the_route_wrote_at_once_read_page_by_page(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    events = await recorded(system, 1)  # 5 events: pages of 2, 2 and 1
    whole = await at_once(system)
    reads.clear()

    response = await client.get(f'/api/executions/{ID}/events')
    assert response.status_code == 200, response.text
    assert response.headers['content-type'] == 'application/json'
    assert response.content == whole
    assert [event['seq'] for event in response.json()] == [1, 2, 3, 4, 5] == [event.seq for event in events]
    assert reads == [2, 2, 2]

    whole = await at_once(system, after_seq=1)
    reads.clear()
    after = await client.get(f'/api/executions/{ID}/events', params={'after_seq': 1})
    assert after.content == whole
    assert [event['seq'] for event in after.json()] == [2, 3, 4, 5]
    assert reads == [2, 2, 2]  # seq 2-3, 4-5, then the read that finds no more


async def test_a_longer_list_is_the_same_across_many_pages(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    await recorded(system, 30)  # 63 events in 32 pages
    response = await client.get(f'/api/executions/{ID}/events')
    assert len(reads) == 32
    assert response.content == await at_once(system)
    assert len(response.json()) == 63
    tail = await client.get(f'/api/executions/{ID}/events', params={'after_seq': 60})
    assert [event['seq'] for event in tail.json()] == [61, 62, 63]
    assert (await client.get(f'/api/executions/{ID}/events', params={'after_seq': 63})).content == b'[]'


async def test_a_limit_is_written_page_by_page_too(
    client: httpx.AsyncClient, system: System, reads: list[int | None]
) -> None:
    await recorded(system, 4)  # 11 events
    response = await client.get(f'/api/executions/{ID}/events', params={'limit': 5, 'after_seq': 2})
    assert [event['seq'] for event in response.json()] == [3, 4, 5, 6, 7]
    assert reads == [2, 2, 1]  # never more than the limit left
    assert response.content == b'[' + (await at_once(system, after_seq=2))[1:].split(b',{"seq":8,')[0] + b']'
    reads.clear()
    beyond = await client.get(f'/api/executions/{ID}/events', params={'limit': 100_000, 'after_seq': 9})
    assert [event['seq'] for event in beyond.json()] == [10, 11] and reads == [2, 2]


async def test_a_page_of_large_outputs_holds_few_events_and_the_list_is_still_whole(
    client: httpx.AsyncClient, system: System, reads: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of at most 1,000 characters of data here: the event that passes them ends the page, the next page
    starts after it; an event larger than a page on its own is a page of its own."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE', 1_000)
    monkeypatch.setattr(application_history, 'EVENT_PAGE_CHARS', 1_000)
    run = History(execution_id=ID, step_ms=1)
    run.then(EventType.EXECUTION_QUEUED, nodes=['a', 'b', 'c'], workflow_id='wf')  # small: ~50 characters
    run.then(EventType.EXECUTION_STARTED)
    for node, size in (('a', 600), ('b', 300), ('c', 2_500)):
        run.then(EventType.NODE_STARTED, node, attempt=1)
        run.then(EventType.NODE_COMPLETED, node, attempt=1, output={'text': 'x' * size})
    run.then(EventType.EXECUTION_COMPLETED)
    await system.recorder.write(run.events)

    pages: list[list[int]] = []
    open_pages = ExecutionHistory.event_pages

    async def kept(history: ExecutionHistory, execution_id: str, **options: Any) -> AsyncGenerator[list[Event], None]:
        async def seen() -> AsyncGenerator[list[Event], None]:
            async for page in await open_pages(history, execution_id, **options):
                pages.append([event.seq for event in page])
                yield page

        return seen()

    monkeypatch.setattr(ExecutionHistory, 'event_pages', kept)
    response = await client.get(f'/api/executions/{ID}/events')
    made = len(reads)
    assert response.content == await at_once(system)
    async with system.db.engine.connect() as conn:
        sizes = dict((await conn.execute(text('SELECT seq, length(data) FROM events ORDER BY seq'))).all())
    expected: list[list[int]] = [[]]
    for seq in sizes:  # an event joins the page while the events before it hold under 1,000
        if sum(sizes[before] for before in expected[-1]) >= 1_000:
            expected.append([])
        expected[-1].append(seq)
    assert pages == expected and len(pages) == 3, (pages, sizes)
    assert pages[1][-1] == 8 and sizes[8] > 2_500  # c's output ends its page: nothing after it there
    assert made == len(pages)  # a page shorter than EVENT_PAGE and not cut by its size is the last one
    # each read asks for about as many events as a page holds: 50 first, then one more than a page cut by size held
    assert reads[:made] == [50, 7, 3]
    assert len(response.json()) == 9


async def test_a_list_of_large_outputs_sizes_few_events_a_read(
    client: httpx.AsyncClient, system: System, reads: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database sizes every event a read asks for, kept on the page or not: a list of outputs each larger than a
    page asks for two events a read after its first pages, not for EVENT_PAGE (1,000 outputs of 1 MiB to keep 4)."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE', 1_000)
    monkeypatch.setattr(application_history, 'EVENT_PAGE_CHARS', 1_000)
    run = History(execution_id=ID, step_ms=1)
    run.then(EventType.EXECUTION_QUEUED, nodes=[f'n{i}' for i in range(30)], workflow_id='wf')
    for i in range(30):
        run.then(EventType.NODE_COMPLETED, f'n{i}', attempt=1, output={'text': 'x' * 1_500})
    await system.recorder.write(run.events)
    response = await client.get(f'/api/executions/{ID}/events')
    assert len(response.json()) == 31
    # (the first page: the small queued event and the first output; then one output a page, and a last empty read)
    assert reads == [50, 3] + [2] * 29, reads
    reads.clear()
    limited = await client.get(f'/api/executions/{ID}/events', params={'limit': 3, 'after_seq': 10})
    assert [event['seq'] for event in limited.json()] == [11, 12, 13] and reads == [3, 2, 1], reads


async def test_unknown_executions_and_bad_parameters_are_refused_before_the_list_starts(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get('/api/executions/nope/events')
    assert (missing.status_code, missing.json()['detail']) == (404, "execution 'nope' not found")
    for params in ({'after_seq': -1}, {'after_seq': 'x'}, {'limit': 0}):
        assert (await client.get('/api/executions/nope/events', params=params)).status_code == 422, params


def test_the_document_still_says_the_route_answers_an_array_of_events(app: FastAPI) -> None:
    document = app.openapi()
    answer = document['paths']['/api/executions/{execution_id}/events']['get']['responses']['200']
    schema = answer['content']['application/json']['schema']
    assert schema == {'type': 'array', 'items': {'$ref': '#/components/schemas/ExecutionEvent'}}
    event = document['components']['schemas']['ExecutionEvent']['properties']
    assert set(event) == {'seq', 'ts', 'type', 'node_id', 'data'}


async def test_a_failed_read_after_the_first_page_ends_the_list_unclosed(
    client: httpx.AsyncClient, system: System, reads: list[int | None], caplog: pytest.LogCaptureFixture
) -> None:
    await recorded(system, 2)  # 7 events
    with pytest.MonkeyPatch.context() as patch:
        before_each_read(patch, connection_lost(after_seq=2))
        response = await client.get(f'/api/executions/{ID}/events')
    assert response.status_code == 200  # the status went out with the first page
    whole = await at_once(system)
    assert response.content == whole[: whole.index(b',{"seq":3,')]  # the first page, the array left open
    assert f"reading the events of execution '{ID}' failed" in caplog.text
    assert 'connection to the database lost' in caplog.text


async def test_a_client_that_goes_away_stops_the_reading(
    app: FastAPI, system: System, token: str, reads: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    await recorded(system, 4)  # 11 events, 6 pages
    opened: list[AsyncGenerator[list[Event], None]] = []
    open_pages = ExecutionHistory.event_pages

    async def kept(history: ExecutionHistory, execution_id: str, **options: Any) -> AsyncGenerator[list[Event], None]:
        pages = await open_pages(history, execution_id, **options)
        opened.append(pages)
        return pages

    monkeypatch.setattr(ExecutionHistory, 'event_pages', kept)
    client = StalledClient()
    task = asyncio.create_task(app(client.scope(f'/api/executions/{ID}/events', token), client.receive, client.send))
    await asyncio.wait_for(client.stalled.wait(), 10)  # the second page waits for room: the client stopped reading
    assert client.body.startswith(b'[{"seq":1,') and reads == [2, 2]
    client.gone.set()  # and hangs up
    await asyncio.wait_for(task, 10)
    assert reads == [2, 2]
    assert [pages.ag_frame for pages in opened] == [None]  # the pages were closed, not left waiting at a page


@pytest.mark.parametrize('deletion', ['whole', 'under way'])
async def test_an_execution_deleted_while_its_list_is_written_ends_it_unclosed(
    client: httpx.AsyncClient,
    system: System,
    reads: list[int | None],
    caplog: pytest.LogCaptureFixture,
    deletion: str,
) -> None:
    """Each page is its own read, and a deletion takes an execution's events lowest seq first, its row last: a
    reading it overtook found nothing more (``whole``) or skipped the events deleted (``under way``), and closed a
    list that read as the whole one. The list ends unclosed, logged; a reading that starts after it gets 404."""
    await recorded(system, 2)  # 7 events

    async def deleted_after_the_first_page(execution_id: str, after_seq: int, _limit: int | None) -> None:
        if after_seq != 2:
            return
        if deletion == 'whole':
            await system.application.executions.delete(execution_id)
        else:
            await delete_events(system, execution_id, through_seq=4)

    whole = await at_once(system)
    with pytest.MonkeyPatch.context() as patch:
        before_each_read(patch, deleted_after_the_first_page)
        response = await client.get(f'/api/executions/{ID}/events')
    assert response.status_code == 200  # the status went out with the first page
    assert response.content == whole[: whole.index(b',{"seq":3,')]  # the first page, the array left open
    assert f"execution '{ID}' was deleted while its events were being read" in caplog.text
    (told,) = [record for record in caplog.records if 'deleted while its events' in record.getMessage()]
    assert told.levelname == 'WARNING' and told.exc_info is None  # an outcome, not a fault: no ERROR, no traceback
    assert (await client.get(f'/api/executions/{ID}/events')).status_code == 404


@pytest.mark.parametrize(
    ('events', 'chars', 'on_the_loop'),
    [(50, 256 * 1024, True), (51, 100, False), (3, 256 * 1024 + 1, False)],
    ids=['few and small', 'many', 'few but large'],
)
async def test_a_page_is_encoded_on_the_loop_only_when_it_has_few_events_of_little_data(
    events: int, chars: int, on_the_loop: bool
) -> None:
    """A page cut by its size (a few outputs of 1 MiB) is encoded in a worker thread, like a page of many events:
    encoding megabytes on the event loop would hold up every page and request for tens of milliseconds."""
    run = History(execution_id=ID, step_ms=1)
    for _ in range(events):
        run.then(EventType.EXECUTION_PROGRESS, done=1, total=1)
    page = application_history.EventPage(run.events)
    page.chars = chars
    loop_thread = threading.get_ident()
    encoded_in: list[int] = []

    def encode(page_events: list[Event]) -> bytes:
        encoded_in.append(threading.get_ident())
        return b'%d' % len(page_events)

    assert await application_history.encoded_page(page, encode) == b'%d' % events
    assert (encoded_in == [loop_thread]) is on_the_loop
