"""Opening executions for replay: load the events, build the :class:`ReplayIndex`, keep a few recent ones.

A finished execution's history never changes, so its index can be shared by every page and API call
that replays it. The cache is bounded both by entries and by the events they hold (a 100,000-event index
takes on the order of 100 MB); executions still running are indexed afresh on every open and never kept.
Building an index is CPU work: it runs in a worker thread so the event loop keeps serving other clients. Each build
holds its execution's events whole, so a few executions are read and built at a time (:data:`MAX_BUILDS`); opens of
others wait their turn, and opens of one execution share its build.

A history opens only from its first event (``seq`` 1): an execution whose deletion has begun (its events go lowest
``seq`` first) is not found, and a deleted execution is never cached again (:meth:`ReplayLoader.forget`), nor an
index that was being built when the store was asked about deletions that went unheard (:meth:`ReplayLoader.asking`).
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict, deque

from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.snapshot import snapshot_hash, workflow_snapshot
from flowmon.store.history import History

from .snapshots import SnapshotCache

MAX_CACHED_INDEXES = 8
MAX_CACHED_EVENTS = 300_000
MAX_REMEMBERED_DELETIONS = 10_000
MAX_BUILDS = 2  # executions read and indexed at once (each holds its events whole while it is built)


class ReplayLoader:
    """Replay indexes by execution id, the recently used finished ones cached (LRU)."""

    def __init__(
        self,
        history: History,
        *,
        snapshots: SnapshotCache | None = None,
        max_indexes: int = MAX_CACHED_INDEXES,
        max_events: int = MAX_CACHED_EVENTS,
        max_builds: int = MAX_BUILDS,
    ) -> None:
        self._history = history
        self._snapshots = snapshots or SnapshotCache(history)
        self._max_indexes = max_indexes
        self._max_events = max_events
        self._cache: OrderedDict[str, ReplayIndex] = OrderedDict()
        self._building: dict[str, asyncio.Task[ReplayIndex | None]] = {}
        self._turns = asyncio.Semaphore(max_builds)  # (asyncio's primitives bind a loop on first wait, not here)
        self._deleted: set[str] = set()
        self._deletions: deque[str] = deque()  # the order of ``_deleted``, to forget the oldest first
        self._asked = 0  # how many times the store was asked about deletions that went unheard (:meth:`asking`)

    async def open(self, execution_id: str) -> ReplayIndex | None:
        """The replay index of ``execution_id``, or None when it has no events (unknown execution). Opens of one
        execution share its build, which goes on when one of them is given up (a page closed while it waited)."""
        cached = self._cache.get(execution_id)
        if cached is not None:
            self._cache.move_to_end(execution_id)
            return cached
        building = self._building.get(execution_id)
        if building is None:
            building = asyncio.get_running_loop().create_task(self._built(execution_id, self._asked))
            self._building[execution_id] = building
            building.add_done_callback(functools.partial(self._done_building, execution_id))
        return await asyncio.shield(building)

    async def _built(self, execution_id: str, asked: int) -> ReplayIndex | None:
        index = await self._build(execution_id)
        if index is not None and index.final is not None and index.final.is_terminal and asked == self._asked:
            self._keep(execution_id, index)  # (built across a question about deletions: not known to be kept)
        return index

    def _done_building(self, execution_id: str, building: asyncio.Task[ReplayIndex | None]) -> None:
        if self._building.get(execution_id) is building:
            del self._building[execution_id]
        if not building.cancelled():
            building.exception()  # retrieved: no "never retrieved" warning when every opener was given up

    def forget(self, execution_id: str) -> None:
        """The execution was deleted: drop its index, and never cache one of it again (an open that began before
        the deletion may still finish building it)."""
        self._cache.pop(execution_id, None)
        if execution_id not in self._deleted:
            self._deleted.add(execution_id)
            self._deletions.append(execution_id)
            if len(self._deletions) > MAX_REMEMBERED_DELETIONS:
                self._deleted.discard(self._deletions.popleft())

    def asking(self) -> None:
        """The store is being asked which of the cached executions were deleted unheard (news from another process
        lost): an index being built now may be of one of them, and is not cached (the next open builds it again)."""
        self._asked += 1

    @property
    def cached(self) -> list[str]:
        """Cached execution ids, least recently used first."""
        return list(self._cache)

    async def _build(self, execution_id: str) -> ReplayIndex | None:
        async with self._turns:
            events = await self._history.events(execution_id)
            if not events or events[0].seq != 1:  # unknown, or being deleted
                return None
            workflow = workflow_snapshot(events)
            digest = snapshot_hash(events) if workflow is None else None
            if digest is not None:
                workflow = await self._snapshots.resolve(digest)
            return await asyncio.to_thread(ReplayIndex, events, workflow=workflow)

    def _keep(self, execution_id: str, index: ReplayIndex) -> None:
        if index.n > self._max_events or execution_id in self._deleted:
            return
        self._cache[execution_id] = index
        total = sum(cached.n for cached in self._cache.values())
        while len(self._cache) > self._max_indexes or total > self._max_events:
            _, dropped = self._cache.popitem(last=False)
            total -= dropped.n
