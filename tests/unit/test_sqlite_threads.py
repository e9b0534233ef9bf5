"""The test harness's guard for aiosqlite's connection thread (tests/conftest.py): a query still running when its
test's loop closes must not leave a dead thread behind, whose connection a later loop would wait to close for ever."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiosqlite
import pytest


def test_a_query_running_when_its_loop_closes_leaves_a_connection_a_later_loop_can_close(tmp_path: Path) -> None:
    release = threading.Event()
    first = asyncio.new_event_loop()

    async def open_and_start_a_query() -> tuple[aiosqlite.Connection, asyncio.Task[object]]:
        connection = await aiosqlite.connect(tmp_path / 'x.db')
        await connection.create_function('hold', 0, lambda: release.wait(10))
        query = asyncio.ensure_future(connection.execute('SELECT hold()'))
        await asyncio.sleep(0.05)  # (the thread has taken the query)
        return connection, query

    connection, query = first.run_until_complete(open_and_start_a_query())
    query.cancel()
    first.run_until_complete(asyncio.gather(query, return_exceptions=True))
    first.close()  # the test's loop ends while its query still runs
    release.set()  # the query ends: its result has no loop to go to

    later = asyncio.new_event_loop()  # a later test's loop closes the connection
    closing = later.create_task(connection.close())
    later.run_until_complete(asyncio.wait({closing}, timeout=10))
    assert closing.done(), 'the close waits for ever: the thread died with the first loop'  # (that loop left open)
    closing.result()
    with pytest.raises(ValueError, match=r'Connection closed|no active connection'):
        later.run_until_complete(connection.execute('SELECT 1'))
    later.close()


def test_a_close_right_after_a_stop_ends(tmp_path: Path) -> None:
    """SQLAlchemy's forced close of a terminated connection stops its thread; a close that comes before the thread has
    taken that stop queues its own stop behind it, to a thread the first one ends."""
    held = threading.Event()
    loop = asyncio.new_event_loop()
    try:
        connection = loop.run_until_complete(aiosqlite.connect(tmp_path / 'x.db'))
        loop.run_until_complete(connection.create_function('hold', 0, lambda: held.wait(10)))
        query = loop.create_task(connection.execute('SELECT hold()'))
        loop.run_until_complete(asyncio.sleep(0.05))  # the thread is busy with the query
        connection.stop()  # queued behind the query
        closing = loop.create_task(connection.close())
        loop.run_until_complete(asyncio.sleep(0))  # the close has queued its own stop, behind the first
        held.set()
        loop.run_until_complete(asyncio.wait({query, closing}, timeout=10))
        assert closing.done(), 'the close waits for ever for a stop queued to a thread that had stopped'
        with pytest.raises(ValueError, match='Connection closed'):  # (the close's own call found it stopped)
            closing.result()
    finally:
        loop.close()
