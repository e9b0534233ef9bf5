"""The async database: engine creation, dialect set-up and schema creation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from flowmon.webhooks import tables as _webhook_tables  # noqa: F401  (registers the webhook tables too)

from . import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


class Database:
    """Owns the SQLAlchemy async engine. ``start`` creates the schema; ``stop`` disposes the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)

    async def stop(self) -> None:
        await self.engine.dispose()


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != 'sqlite':
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ':memory:':
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={'timeout': 30})

    @event.listens_for(engine.sync_engine, 'connect')
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Dialect set-up: the only SQLite-specific SQL in flowmon.
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()

    return engine
