"""For tests of routes that write what they read a page at a time: small pages, the reads counted or interfered with,
and an ASGI client that stops reading and goes away.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete

from flowmon.application import history as application_history
from flowmon.engine import Event
from flowmon.store.history import History as Store
from flowmon.store.tables import EventRow

if TYPE_CHECKING:
    from flowmon.bootstrap import System


def paged_reads(monkeypatch: pytest.MonkeyPatch, execution_id: str) -> list[int | None]:
    """Pages of 2 events (``EVENT_PAGE`` is 1,000); the ``limit`` of each read of the events of ``execution_id``
    from the store, in order."""
    monkeypatch.setattr(application_history, 'EVENT_PAGE', 2)
    made: list[int | None] = []

    async def count(of: str, _after_seq: int, limit: int | None) -> None:
        if of == execution_id:
            made.append(limit)

    before_each_read(monkeypatch, count)
    return made


def before_each_read(monkeypatch: pytest.MonkeyPatch, act: Callable[[str, int, int | None], Awaitable[None]]) -> None:
    """``act(execution_id, after_seq, limit)`` before each read of an execution's events from the store, a page or
    not (it may fail the read by raising)."""
    read, read_page = Store.events, Store.event_page

    async def acted(store: Store, execution_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        await act(execution_id, after_seq, limit)
        return await read(store, execution_id, after_seq=after_seq, limit=limit)

    async def acted_page(
        store: Store, execution_id: str, *, after_seq: int, limit: int, max_chars: int
    ) -> tuple[list[Event], bool, int]:
        await act(execution_id, after_seq, limit)
        return await read_page(store, execution_id, after_seq=after_seq, limit=limit, max_chars=max_chars)

    monkeypatch.setattr(Store, 'events', acted)
    monkeypatch.setattr(Store, 'event_page', acted_page)


def connection_lost(*, after_seq: int) -> Callable[[str, int, int | None], Awaitable[None]]:
    """For :func:`before_each_read`: the reads of events after ``after_seq`` fail (the database went away)."""

    async def failing(_execution_id: str, after: int, _limit: int | None) -> None:
        if after >= after_seq:
            raise OSError('connection to the database lost')

    return failing


async def delete_events(system: System, execution_id: str, *, through_seq: int) -> None:
    """Delete the execution's events up to ``through_seq``, as its deletion does first (lowest seq first)."""
    async with system.db.engine.begin() as conn:
        table = EventRow.__table__  # type: ignore[attr-defined]
        await conn.execute(delete(table).where(table.c.execution_id == execution_id, table.c.seq <= through_seq))


class StalledClient:
    """A client, as a server hands it to the app, that reads the first chunk of a response and no more (the second
    write waits for ever: ``stalled``), then hangs up when ``gone`` is set."""

    def __init__(self) -> None:
        self.body = b''
        self.stalled = asyncio.Event()
        self.gone = asyncio.Event()
        self._requested = False

    @staticmethod
    def scope(path: str, token: str) -> dict[str, Any]:
        return {
            'type': 'http', 'asgi': {'version': '3.0'}, 'http_version': '1.1', 'method': 'GET', 'scheme': 'http',
            'path': path, 'raw_path': path.encode(), 'query_string': b'', 'root_path': '',
            'headers': [(b'host', b'flowmon'), (b'authorization', f'Bearer {token}'.encode())],
            'client': ('127.0.0.1', 50000), 'server': ('flowmon', 80),
        }  # fmt: skip

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {'type': 'http.request', 'body': b'', 'more_body': False}
        await self.gone.wait()
        return {'type': 'http.disconnect'}

    async def send(self, message: dict[str, Any]) -> None:
        if message['type'] != 'http.response.body':
            return
        if self.body:
            self.stalled.set()
            await asyncio.Event().wait()
        self.body += message['body']
