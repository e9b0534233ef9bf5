"""Saved views in several processes on one database: the limit on their number holds for all of them together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from flowmon.store import Database
from flowmon.store.saved_views import Saved, SavedViewStore

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LIMIT = 5


async def test_processes_saving_views_together_stop_at_the_limit(
    database: Database, open_database: Callable[[], Database]
) -> None:
    other = open_database()
    await other.start()
    here, there = SavedViewStore(database), SavedViewStore(other)
    await here.put('kept', {'status': 'failed'}, T0, limit=LIMIT)

    # each process counts 1 view and saves 4 more, all at once: without one turn at a time both counts pass
    outcomes = await asyncio.gather(
        *(
            store.put(f'{side}-{n}', {}, T0, limit=LIMIT)
            for n in range(4)
            for side, store in (('a', here), ('b', there))
        )
    )
    assert outcomes.count(Saved.CREATED) == LIMIT - 1, outcomes
    assert outcomes.count(Saved.FULL) == 8 - (LIMIT - 1)
    assert len(await there.all()) == LIMIT

    # full: replacing one needs no room, a new one is refused and nothing is written
    assert await there.put('kept', {'q': 'A-1001'}, T0, limit=LIMIT) is Saved.REPLACED
    assert await here.put('one more', {}, T0, limit=LIMIT) is Saved.FULL
    assert [view.filter for view in await here.all() if view.name == 'kept'] == [{'q': 'A-1001'}]
    assert len(await here.all()) == LIMIT
