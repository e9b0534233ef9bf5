"""Saved views: named filters of the execution list, kept in ``saved_views`` (the filter as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, func, select

from . import dialect
from .codec import dumps, from_db_time, loads, to_db_time
from .database import Database
from .tables import SavedViewRow

_views = SavedViewRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredView:
    """A named filter of the execution list: ``/executions`` query parameters."""

    name: str
    filter: dict[str, str]
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            'name': self.name,
            'filter': dict(self.filter),
            'created_at': self.created_at.isoformat(),
            'updated_at': self.updated_at.isoformat(),
        }


class Saved(Enum):
    """What :meth:`SavedViewStore.put` did."""

    CREATED = 'created'
    REPLACED = 'replaced'
    FULL = 'full'  # nothing: there were as many views as the limit allows


class SavedViewStore:
    """Rows of ``saved_views``; the application layer checks names and filters before they get here."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[StoredView]:
        """Every view, by name."""
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(select(_views).order_by(_views.c.name))).all()
        return [_view(row) for row in rows]

    async def get(self, name: str) -> StoredView | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(_views).where(_views.c.name == name))).first()
        return _view(row) if row is not None else None

    async def put(self, name: str, view_filter: dict[str, str], now: datetime, *, limit: int | None = None) -> Saved:
        """Create or replace the view ``name``. A new view is not created when there are ``limit`` views already
        (:attr:`Saved.FULL`): the count and the insert are one step for every process that shares the database."""
        values = {'filter': dumps(view_filter), 'updated_at': to_db_time(now)}
        async with self._db.engine.begin() as conn:
            if limit is not None:
                await dialect.take_turn(conn, dialect.SAVED_VIEWS_LOCK_KEY)
            result = await conn.execute(_views.update().where(_views.c.name == name).values(**values))
            if result.rowcount:
                return Saved.REPLACED
            if limit is not None:
                count = (await conn.execute(select(func.count()).select_from(_views))).scalar_one()
                if count >= limit:
                    return Saved.FULL
            await conn.execute(_views.insert().values(name=name, created_at=to_db_time(now), **values))
            return Saved.CREATED

    async def delete(self, name: str) -> bool:
        async with self._db.engine.begin() as conn:
            return bool((await conn.execute(delete(_views).where(_views.c.name == name))).rowcount)


def _view(row: Any) -> StoredView:
    columns = row._mapping
    return StoredView(
        name=columns['name'],
        filter={str(key): str(value) for key, value in dict(loads(columns['filter'])).items()},
        created_at=from_db_time(columns['created_at']),  # type: ignore[arg-type]
        updated_at=from_db_time(columns['updated_at']),  # type: ignore[arg-type]
    )
