"""``started(service)``: a service started for the length of an ``async with`` block and stopped after it, whatever
happens inside. A service is anything with awaitable ``start()`` and ``stop()``: a :class:`flowmon.store.Database`, a
worker pool...

Importable from every test directory (tests/ is on the path through tests/conftest.py) and from the benchmarks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar


class Service(Protocol):
    async def start(self) -> Any: ...

    async def stop(self) -> Any: ...


S = TypeVar('S', bound=Service)


@asynccontextmanager
async def started(service: S) -> AsyncIterator[S]:
    """``async with started(Database(url)) as db:`` ``db`` is started inside the block and stopped after it."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
