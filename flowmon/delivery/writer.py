"""Group commits for the delivery ledger: many small write operations, one transaction.

SQLite has one writer, and every statement and transaction costs round trips to the database thread. The writer
runs queued operations back to back in one transaction on a connection it keeps: while one batch commits, the
next accumulates, so under load many claims and outcomes share a commit; when idle an operation gets its own
transaction at once. Bulk operations of the same kind in a batch are handed to their handler together (one
``executemany`` for all of them). Each caller's future resolves only after the commit that holds its operation,
so "committed before anything depends on it" holds per operation. If a batch fails, its operations are retried
one transaction each, so one bad operation fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.infra.tasks import cancel_and_wait
from flowmon.store.database import Database

T = TypeVar('T')
Operation = Callable[[AsyncConnection], Awaitable[Any]]
BulkHandler = Callable[[AsyncConnection, Sequence[Any]], Awaitable[Sequence[Any]]]
MAX_BATCH = 500
LINGER_STEPS = 2


@dataclass(slots=True)
class _Item:
    operation: Operation | None
    handler: BulkHandler | None
    payload: Any
    future: asyncio.Future[Any]


class BatchWriter:
    """Runs write operations in shared transactions; :meth:`stop` ends its task and returns its connection."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self.transactions = 0
        self.operations = 0

    async def run(self, operation: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``operation`` in the next transaction; returns its result once that transaction has committed."""
        return await self._submit(_Item(operation, None, None, self._future()))

    async def run_bulk(self, handler: BulkHandler, payload: Any) -> Any:
        """Queue ``payload`` for ``handler``, which gets every payload queued for it in the same batch."""
        return await self._submit(_Item(None, handler, payload, self._future()))

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _submit(self, item: _Item) -> Any:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._work(), name='webhook ledger writer')
        self._queue.append(item)
        self._wake.set()
        return await item.future

    async def _work(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            for _ in range(LINGER_STEPS):  # let tasks that are ready right now add their changes to this batch
                await asyncio.sleep(0)
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            try:
                results = await self._commit(batch)
            except asyncio.CancelledError:
                for item in batch:
                    item.future.cancel()
                raise
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0].future, error=exc)
                    continue
                for item in batch:  # find the bad one: every operation alone
                    try:
                        (result,) = await self._commit([item])
                    except Exception as alone:
                        _settle(item.future, error=alone)
                    else:
                        _settle(item.future, result)
                continue
            for item, result in zip(batch, results, strict=True):
                _settle(item.future, result)

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        conn = await self._connection()
        results: dict[int, Any] = {}
        try:
            async with conn.begin():
                handled: set[int] = set()
                for index, item in enumerate(batch):
                    if item.operation is not None:
                        results[index] = await item.operation(conn)
                    elif id(item.handler) not in handled:
                        assert item.handler is not None
                        handled.add(id(item.handler))
                        group = [i for i, other in enumerate(batch) if other.handler is item.handler]
                        outputs = await item.handler(conn, [batch[i].payload for i in group])
                        results.update(zip(group, outputs, strict=True))
        except BaseException:
            await self._drop_connection()
            raise
        self.transactions += 1
        self.operations += len(batch)
        return [results[index] for index in range(len(batch))]

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._db.engine.connect()
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


def _settle(future: asyncio.Future[Any], result: Any = None, *, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
