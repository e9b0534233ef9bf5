"""The saved views table on SQLite and PostgreSQL: create, replace, list by name, delete; times come back in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from flowmon.store import Database
from flowmon.store.saved_views import Saved, SavedViewStore

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(db: Database) -> SavedViewStore:
    """The saved views on a started database of each dialect."""
    return SavedViewStore(db)


async def test_views_are_created_replaced_listed_and_deleted(store: SavedViewStore) -> None:
    assert await store.put('zeta', {'status': 'failed'}, T0) is Saved.CREATED
    assert await store.put('alpha <b>', {'q': 'A-1001', 'since': '7d'}, T0) is Saved.CREATED
    later = T0.astimezone(timezone(timedelta(hours=2))) + timedelta(minutes=5)
    assert await store.put('zeta', {'q': 'declined'}, later) is Saved.REPLACED
    assert len(await store.all()) == 2

    views = await store.all()
    assert [view.name for view in views] == ['alpha <b>', 'zeta']
    zeta = await store.get('zeta')
    assert zeta is not None
    assert zeta.filter == {'q': 'declined'}
    assert (zeta.created_at, zeta.updated_at) == (T0, T0 + timedelta(minutes=5))
    assert zeta.updated_at.tzinfo is not None and zeta.to_json()['updated_at'] == '2026-03-01T09:35:00+00:00'

    assert await store.delete('zeta') is True
    assert await store.delete('zeta') is False
    assert await store.get('zeta') is None and len(await store.all()) == 1
