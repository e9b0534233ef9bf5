"""The change feed between processes: a change announced again before it was sent goes once, a topic that changes
often is announced at most once per its interval, and a refresh asked for again before it ran runs once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from flowmon.store import change_feed
from flowmon.store.change_feed import MAX_PENDING, ChangeFeed


class Feed(ChangeFeed):
    """Publishes into a list instead of the database."""

    def __init__(self) -> None:
        super().__init__(None, me=lambda: 'here')  # type: ignore[arg-type]
        self.published: list[tuple[str, str | None, float]] = []

    async def publish(self, topic: str, key: str | None = None) -> None:
        self.published.append((topic, key, time.monotonic()))


async def until(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


async def test_changes_announced_again_before_they_are_sent_go_once() -> None:
    feed = Feed()
    refreshed: list[str | None] = []

    async def refresh(key: str | None) -> None:
        refreshed.append(key)

    feed.on('deliveries', refresh, every_s=0.2)
    feed.on('secrets', refresh)
    task = asyncio.create_task(feed.run())
    try:
        for _ in range(100):  # a burst of changes here
            feed.announce('deliveries')
            feed.announce('secrets')
        await until(lambda: len(feed.published) == 2)
        assert sorted(topic for topic, _, _ in feed.published) == ['deliveries', 'secrets']
        first = next(at for topic, _, at in feed.published if topic == 'deliveries')
        feed.announce('deliveries')  # changed again after it was sent: announced again, but not before its interval
        await until(lambda: len(feed.published) == 3)
        topic, _, again = feed.published[-1]
        assert topic == 'deliveries' and again - first >= 0.2

        payload = json.dumps({'p': 'elsewhere', 't': 'secrets', 'k': None})
        for _ in range(100):  # a burst of the same change from another process
            feed.received(payload)
        await feed.settled()
        assert refreshed == [None]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_changes_waiting_are_bounded_whole_topics_stand_for_the_rest() -> None:
    """The database takes no notification for a while (or refreshes fall behind) while thousands of keys change:
    what waits stays bounded, and past the bound the whole topic is announced (refreshed), so nothing is missed."""
    feed = Feed()
    refreshed: list[str | None] = []

    async def refresh(key: str | None) -> None:
        refreshed.append(key)

    feed.on('node-runs', refresh)
    feed.on('workflow', refresh)
    for n in range(5 * MAX_PENDING):  # before the feed runs: nothing is sent yet
        feed.announce('node-runs', f'workflow-{n}')
        feed.received(json.dumps({'p': 'elsewhere', 't': 'node-runs', 'k': f'workflow-{n}'}))
    feed.announce('workflow', 'saved')  # another topic meanwhile keeps its key
    feed.received(json.dumps({'p': 'elsewhere', 't': 'workflow', 'k': 'saved'}))
    by_key = [*(f'workflow-{n}' for n in range(MAX_PENDING)), None, 'saved']
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: len(feed.published) == MAX_PENDING + 2)
        await feed.settled()
        assert [key for _, key, _ in feed.published] == by_key
        assert refreshed == by_key
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refresh_that_failed_is_asked_for_again_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database unreachable a moment: a failed refresh (of a key, or of everything after a reconnect) is asked for
    again later, of its whole topic (what else failed meanwhile goes with it), waiting longer each time, until it
    succeeds; another topic is not held back."""
    monkeypatch.setattr(change_feed, 'RETRY_FIRST_S', 0.02)
    monkeypatch.setattr(change_feed, 'RETRY_LAST_S', 0.1)
    feed = Feed()
    calls: list[str | None] = []
    other: list[str | None] = []

    down = asyncio.Event()

    succeeded: list[str | None] = []

    async def refresh(key: str | None) -> None:
        calls.append(key)
        if len(calls) <= 4 or down.is_set():
            raise OSError('the database is unreachable')
        succeeded.append(key)

    async def refresh_other(key: str | None) -> None:
        other.append(key)

    feed.on('execution-deleted', refresh)
    feed.on('secrets', refresh_other)
    task = asyncio.create_task(feed.run())
    try:
        feed.received(json.dumps({'p': 'elsewhere', 't': 'execution-deleted', 'k': 'run-1'}))
        feed.received(json.dumps({'p': 'elsewhere', 't': 'execution-deleted', 'k': 'run-2'}))
        feed.received(json.dumps({'p': 'elsewhere', 't': 'secrets', 'k': None}))
        await until(lambda: len(calls) == 5)
        assert calls == ['run-1', 'run-2', None, None, None]  # one retry of the whole topic at a time
        assert other == [None]
        said = [record.getMessage().partition('; ')[2] for record in caplog.records]
        assert said == [  # the wait doubles, up to the last
            'trying again in 0.02 s',
            'a retry waits already',
            'trying again in 0.08 s',
            'trying again in 0.1 s',
        ]
        # failing for days on end (refreshes of keys meanwhile counted): the wait stays the last one, and the feed
        # runs on (a count of failures past a float's range stopped it)
        down.set()
        for batch in range(2):
            for n in range(MAX_PENDING):
                feed.received(json.dumps({'p': 'elsewhere', 't': 'execution-deleted', 'k': f'run-{batch}-{n}'}))
            await feed.settled()
        seen = len(caplog.records)

        def retried() -> list[str]:
            return [record.getMessage() for record in caplog.records[seen:] if 'trying again' in record.getMessage()]

        await until(retried)  # (the whole topic asked for again after 2,000 failures in a row, failing too)
        assert retried()[0].endswith('trying again in 0.1 s')
        down.clear()
        await until(lambda: succeeded and succeeded[-1] is None and len(succeeded) == 2)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
