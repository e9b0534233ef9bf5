"""Several flowmon processes on one PostgreSQL database: the change feed of cached tables.

:class:`ChangeFeed`: caches of other tables (named secrets, webhook endpoints, workflows, paused schedules) are
refreshed when another process changed them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .database import Database
from .dialect import notify_payload, notify_statement

log = logging.getLogger('flowmon.store.cluster')  # the name these messages have always been logged under

CHANGES_CHANNEL = 'flowmon_changes'  # {"p": writer, "t": topic, "k": key}: a cached table changed
# changes of one topic waiting to be announced, or refreshes waiting to run, at the most by key (then the topic)
MAX_PENDING = 1000
# a refresh that failed is asked for again (of its whole topic) after 1 s, then 2, 4, ... 60 s while it keeps failing
RETRY_FIRST_S = 1.0
RETRY_LAST_S = 60.0

Refresh = Callable[[str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Change:
    topic: str
    key: str | None


class _Waiting:
    """Changes waiting (to be sent, or to be applied), each once; at most :data:`MAX_PENDING` of a topic by key,
    then the topic as a whole."""

    def __init__(self) -> None:
        self._changes: set[Change] = set()
        self._by_topic: Counter[str] = Counter()

    def add(self, change: Change) -> Change | None:
        """The change to queue (the whole topic past the bound), or None when it waits already."""
        if change.key is not None and self._by_topic[change.topic] >= MAX_PENDING:
            change = Change(change.topic, None)
        if change in self._changes:
            return None
        self._changes.add(change)
        self._by_topic[change.topic] += 1
        return change

    def discard(self, change: Change) -> None:
        if change in self._changes:
            self._changes.remove(change)
            self._by_topic[change.topic] -= 1


class ChangeFeed:
    """Tells the other processes that a table they cache changed, and refreshes this process's caches when one of
    them says so. Topics are registered with :meth:`on`; a refresh with a ``None`` key means "everything" (after the
    listener (re)connects: notifications sent meanwhile are lost). :meth:`run` sends and applies them in order; a
    refresh that fails is asked for again later (:data:`RETRY_FIRST_S`)."""

    def __init__(self, db: Database, *, me: Callable[[], str]) -> None:
        self._db = db
        self._me = me
        self._notify = notify_statement()
        self._refresh: dict[str, Refresh] = {}
        self._inbox: asyncio.Queue[Change] = asyncio.Queue()
        self._outbox: asyncio.Queue[Change] = asyncio.Queue()
        self._queued = _Waiting()  # in the outbox: the same change again needs no second notification
        self._waiting = _Waiting()  # in the inbox: the same refresh again is done by the one waiting
        self._every: dict[str, float] = {}  # topics announced at most once per so many seconds
        self._sent: dict[str, float] = {}  # when each of those was last announced (monotonic)
        self._failures: dict[str, int] = {}  # topics whose refreshes failed lately: how many times in a row
        self._retries: dict[str, asyncio.TimerHandle] = {}  # the refresh of a topic asked for again after it failed

    def on(self, topic: str, refresh: Refresh, *, every_s: float = 0.0) -> None:
        """Refresh with ``refresh`` when another process changed ``topic``; a change of it made here is announced at
        most once per ``every_s`` seconds (a topic that changes often: the changes meanwhile go in one)."""
        self._refresh[topic] = refresh
        if every_s:
            self._every[topic] = every_s

    def announce(self, topic: str, key: str | None = None) -> None:
        """``topic`` (``key`` of it) changed here, committed: the other processes are told (by :meth:`run`; once for
        the changes announced until it is sent). Past :data:`MAX_PENDING` changes waiting (the database slow to
        take them), a change is announced as one of the whole topic."""
        change = self._queued.add(Change(topic, key))
        if change is not None:
            self._outbox.put_nowait(change)

    async def publish(self, topic: str, key: str | None = None) -> None:
        """Tell the other processes now that ``topic`` (``key`` of it) changed here."""
        me = self._me()
        payload = notify_payload({'p': me, 't': topic, 'k': key}, {'p': me, 't': topic, 'k': None})
        async with self._db.engine.begin() as conn:
            await conn.execute(self._notify, {'b_channel': CHANGES_CHANNEL, 'b_payload': payload})

    def received(self, payload: str | None) -> None:
        """The listener's handler: queue the refresh a notification asks for (``None``: refresh everything)."""
        if payload is None:
            for topic in self._refresh:
                self._take(Change(topic, None))
            return
        try:
            change = json.loads(payload)
        except ValueError:
            return
        if not isinstance(change, dict) or change.get('p') == self._me() or change.get('t') not in self._refresh:
            return
        key = change.get('k')
        self._take(Change(str(change['t']), key if isinstance(key, str) else None))

    def _take(self, change: Change) -> None:
        taken = self._waiting.add(change)  # (refreshes far behind: the whole topic is read again instead)
        if taken is not None:
            self._inbox.put_nowait(taken)

    async def run(self) -> None:
        """Send what :meth:`announce` queued and apply the refreshes others asked for, until cancelled."""
        try:
            await asyncio.gather(self._send(), self._apply())
        finally:
            for retry in self._retries.values():
                retry.cancel()
            self._retries.clear()

    async def _send(self) -> None:
        while True:
            change = await self._outbox.get()
            every = self._every.get(change.topic)
            if every is not None:  # (still queued meanwhile: what changes meanwhile goes with it)
                await asyncio.sleep(max(0.0, self._sent.get(change.topic, -every) + every - time.monotonic()))
                self._sent[change.topic] = time.monotonic()
            self._queued.discard(change)  # a change from now on is announced again
            try:
                await self.publish(change.topic, change.key)
            except Exception:
                log.exception('could not tell the other processes that %s changed', change.topic)

    async def settled(self) -> None:
        """Wait until every refresh asked for so far has been applied (the listener asks for a refresh of everything
        each time it connects, the first time included)."""
        await self._inbox.join()

    async def _apply(self) -> None:
        while True:
            change = await self._inbox.get()
            self._waiting.discard(change)  # a change from now on is refreshed again
            try:
                await self._refresh[change.topic](change.key)
            except Exception:
                self._failed(change.topic)
            else:
                if change.key is None:  # (the whole topic read again: a key's refresh may succeed while it fails)
                    self._failures.pop(change.topic, None)
            finally:
                self._inbox.task_done()

    def _failed(self, topic: str) -> None:
        """A refresh of ``topic`` failed (the database unreachable a moment, say): the whole topic is refreshed again
        later, the wait doubling from :data:`RETRY_FIRST_S` to :data:`RETRY_LAST_S` while it keeps failing (one
        retry waits per topic, whatever failed meanwhile)."""
        failures = self._failures[topic] = self._failures.get(topic, 0) + 1
        if topic in self._retries:
            log.exception('could not refresh %s after another process changed it; a retry waits already', topic)
            return
        delay = min(RETRY_FIRST_S * 2 ** min(failures - 1, 30), RETRY_LAST_S)  # (failing for days: no overflow)
        log.exception('could not refresh %s after another process changed it; trying again in %g s', topic, delay)
        self._retries[topic] = asyncio.get_running_loop().call_later(delay, self._retry, topic)

    def _retry(self, topic: str) -> None:
        del self._retries[topic]
        self._take(Change(topic, None))


__all__ = ['CHANGES_CHANNEL', 'ChangeFeed']
