"""The databases a portable store test runs on: SQLite always, PostgreSQL too with ``FLOWMON_TEST_POSTGRES=1`` (a
fresh database on the throwaway server of the ``postgres_server`` fixture, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

DIALECTS = ['sqlite', *(['postgresql'] if os.environ.get('FLOWMON_TEST_POSTGRES') == '1' else [])]


@asynccontextmanager
async def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    """``sqlite_url`` for the ``sqlite`` parameter, else the URL of a fresh PostgreSQL database."""
    if request.param == 'sqlite':
        yield sqlite_url
        return
    import asyncpg

    server = request.getfixturevalue('postgres_server')
    name = f't_{uuid.uuid4().hex[:12]}'
    admin = await asyncpg.connect(f'postgresql://postgres@{server}/postgres')
    await admin.execute(f'CREATE DATABASE {name}')
    try:
        yield f'postgresql+asyncpg://postgres@{server}/{name}'
    finally:
        await admin.execute(f'DROP DATABASE {name} WITH (FORCE)')
        await admin.close()
