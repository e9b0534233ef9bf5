"""The store contract: the same tests on SQLite and on PostgreSQL (``database_url``, tests/conftest.py).

Every test here gets an empty database of each dialect (a SQLite file, or a fresh database on the throwaway
PostgreSQL server) and checks what flowmon's store promises, whichever database holds it. ``db`` (tests/conftest.py)
is that database started, ``open_database`` opens more connections to it; ``store_samples`` builds workflows and
histories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from flowmon.store import Database


@pytest.fixture
def database(db: Database) -> Database:
    """Here the database of tests/conftest.py's fixtures (``history``, ``recorder``) is ``db``, the started database
    of the dialect under test."""
    return db


@pytest.fixture
async def open_database(database_url: str) -> AsyncIterator[Callable[[], Database]]:
    """More connections to the same database, as another process would have (each with its own pool)."""
    opened: list[Database] = []

    def make() -> Database:
        opened.append(Database(database_url))
        return opened[-1]

    yield make
    for database in opened:
        await database.stop()
