"""A read cancelled mid-way on PostgreSQL (a page's read when its visitor navigates on) is no ERROR in flowmon's log.

asyncpg can leave a future with ``ConnectionError('unexpected connection_lost() call')`` behind when the task that
waited for a connection's TLS answer is cancelled (MagicStack/asyncpg#1211, #1310); asyncio logs it as an ERROR once
the future is collected. A started :class:`Database` on PostgreSQL has its loop log that one at DEBUG; any other
future left with an error is still an ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

import pytest
from sqlalchemy import text
from started import started

from flowmon.store import Database
from flowmon.store.dialect import NEVER_RETRIEVED, quiet_asyncpg_left_overs

DIALECT_LOG = 'flowmon.store.dialect'


def _left_behind(exc: BaseException) -> None:
    """A future of the running loop finished with ``exc`` that nobody retrieves, collected at once."""
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    del future
    gc.collect()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == 'asyncio' and r.levelno >= logging.ERROR]


def _quieted(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == DIALECT_LOG and 'asyncpg#1211' in r.getMessage()]


async def test_only_asyncpgs_left_over_is_quieted_and_others_still_reach_the_handler_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    seen: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        quiet_asyncpg_left_overs(loop)
        quiet_asyncpg_left_overs(loop)  # twice: still one filter in front of the handler the loop had
        _left_behind(ConnectionError('unexpected connection_lost() call'))
        assert seen == [] and len(_quieted(caplog)) == 1
        _left_behind(ConnectionError('connection refused'))
        _left_behind(OSError('unexpected connection_lost() call'))
        assert [(c['message'], str(c['exception'])) for c in seen] == [
            (NEVER_RETRIEVED, 'connection refused'),
            (NEVER_RETRIEVED, 'unexpected connection_lost() call'),
        ]
        assert len(_quieted(caplog)) == 1
    finally:
        loop.set_exception_handler(before)


async def test_without_a_handler_of_its_own_the_loop_still_logs_other_left_overs_as_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    loop.set_exception_handler(None)
    try:
        quiet_asyncpg_left_overs(loop)
        _left_behind(ConnectionError('unexpected connection_lost() call'))
        assert _errors(caplog) == []
        _left_behind(ConnectionError('reset by peer'))
        assert len(_errors(caplog)) == 1 and NEVER_RETRIEVED in _errors(caplog)[0]
    finally:
        loop.set_exception_handler(before)


async def test_reads_cancelled_on_postgresql_leave_no_error_in_the_log(
    postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Reads cancelled a moment after they start, as a page's are, until asyncpg has left its error behind at least
    once (here about one cancel in ten does): nothing reaches asyncio's ERROR log, and the database still answers."""
    caplog.set_level(logging.DEBUG, logger=DIALECT_LOG)
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    try:
        async with started(Database(postgresql_url)) as db:

            async def read() -> None:
                async with db.engine.connect() as conn:
                    await conn.execute(text('SELECT pg_sleep(0.002)'))

            for attempt in range(2000):
                task = loop.create_task(read())
                await asyncio.sleep((attempt % 20) * 0.0005)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):  # (or the read was quicker than the cancel)
                    await task
                await asyncio.sleep(0.005)
                if attempt % 20 == 19:
                    gc.collect()
                    if _quieted(caplog):
                        break
            gc.collect()
            assert _quieted(caplog), "no cancel left asyncpg's error behind: the test checked nothing"
            assert _errors(caplog) == []
            async with db.engine.connect() as conn:
                assert (await conn.execute(text('SELECT 1'))).scalar() == 1
    finally:
        loop.set_exception_handler(before)
