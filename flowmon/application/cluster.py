"""This process among others on one PostgreSQL database (see README, "Scaling out").

An execution runs in the process that started it, which records it as its ``owner``. Every other process:

* follows it live: the recorder's notification after each write wakes :class:`~flowmon.store.event_tail.EventTail`,
  which reads the new events into the projector (what pages and the API read), and a poll every
  :data:`POLL_S` catches what a lost notification would have said;
* can cancel it: the request is a row update and a notification, and the owner cancels on either (it also polls
  for requests every :data:`POLL_S`);
* takes over when its process dies: every process renews its lease every ``lease / 3`` seconds, on the database's
  clock; the first survivor to find a lease older than ``FLOWMON_LEASE_SECONDS`` deletes it, and executions without
  a live owner end ``interrupted`` (``node.cancelled`` events included) as at a restart; so do the webhook attempts
  the dead process had in flight (they are sent again, by whoever claims them).

A process that finds its own lease gone (it was paused longer than the lease, or cut off from the database) has
been taken for dead: its executions were closed elsewhere, so it lets go of them (the recorder drops their events,
the engine interrupts them here), then joins again under a new id. Caches of tables that other processes change
(named secrets, webhook endpoints, workflows and their schedules) are refreshed when they announce a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any

from flowmon.automation.schedules import ScheduleService
from flowmon.delivery.service import DeliveryService
from flowmon.engine.core.events import utcnow
from flowmon.engine.runtime.scheduler import Engine
from flowmon.infra.tasks import cancel_and_wait
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.change_feed import CHANGES_CHANNEL, ChangeFeed
from flowmon.store.cluster import (
    CANCEL_CHANNEL,
    EVENTS_CHANNEL,
    CancelRequests,
    Membership,
    TickClaims,
    WriteFence,
    orphaned_executions,
)
from flowmon.store.database import Database
from flowmon.store.dialect import Listener
from flowmon.store.event_tail import EventTail, parse_events_notice
from flowmon.store.history import History
from flowmon.store.recorder import EventRecorder
from flowmon.store.recovery import interrupt_executions
from flowmon.store.secrets import SecretStore

from .history import ExecutionHistory
from .saved_views import SavedViews
from .stats import NodeStatistics

log = logging.getLogger(__name__)

POLL_S = 0.25  # cancel requests and other processes' executions are polled this often (besides notifications)
# after the listener reconnected, executions of other processes created this long before it was last known connected
# are swept (a connection that died silently is noticed within the listener's probe, 5-10 s; and the hosts' clocks
# may differ from the database's)
SWEEP_SLACK_S = 60.0
DELIVERIES_EVERY_S = 0.25  # changes of deliveries are announced at most this often (pages pull every 250 ms)


class Cluster:
    """Built by the composition root when the database is PostgreSQL; see the module docstring."""

    def __init__(self, db: Database, *, lease_seconds: float, membership: Membership) -> None:
        self._db = db
        self.lease_seconds = lease_seconds
        self.membership = membership
        me = self.me
        self.fence = WriteFence(db, membership)
        self.cancels = CancelRequests(db)
        self.claims = TickClaims(db, me=me)
        self.feed = ChangeFeed(db, me=me)
        self.tail: EventTail | None = None
        self._engine: Engine | None = None
        self._recorder: EventRecorder | None = None
        self._history: History | None = None
        self._delivery: DeliveryService | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._beating: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._tail_wake = asyncio.Event()
        self._notices: dict[str, int] = {}
        # when the listener was last known connected (every notification up to about then was heard; monotonic), and
        # after it reconnected, the earliest such time to sweep from for executions that began and ended unheard
        self._heard_at = time.monotonic()
        self._sweep_from: float | None = None
        self._cancel_wake = asyncio.Event()
        self._fencing = False
        self.listener: Listener | None = None
        self.fence.fenced = lambda: self._spawn(self._fenced(), 'fencing')
        self.taken_over = 0  # executions of dead processes this process has closed
        # called with the workflow id of each execution it closes (the metrics count them)
        self.interrupted: Callable[[str], None] = lambda _workflow_id: None

    def me(self) -> str:
        return self.membership.id

    def attach(
        self,
        *,
        engine: Engine,
        recorder: EventRecorder,
        history: History,
        tail: EventTail,
        delivery: DeliveryService,
        catalog: WorkflowCatalog,
        secrets: SecretStore,
        schedules: ScheduleService,
    ) -> None:
        """Wire the parts this process shares with the others (the composition root calls this once)."""
        self._engine, self._recorder, self._history, self._delivery, self.tail = (
            engine,
            recorder,
            history,
            delivery,
            tail,
        )
        feed = self.feed
        secrets.announce = lambda: feed.announce('secrets')
        feed.on('secrets', lambda _key: secrets.load())
        delivery.endpoints.announce = lambda: feed.announce('endpoints')
        feed.on('endpoints', lambda _key: delivery.endpoints.refresh())
        catalog.announce = lambda workflow_id: feed.announce('workflow', workflow_id)
        feed.on('workflow', catalog.refresh)
        schedules.announce = lambda workflow_id: feed.announce('schedule', workflow_id)
        feed.on('schedule', schedules.refresh_paused)
        notifier = delivery.notifier  # deliveries change often: one notification for all until it is sent

        async def deliveries_changed(_key: str | None) -> None:
            notifier.changed_elsewhere()

        notifier.announce = lambda: feed.announce('deliveries')
        feed.on('deliveries', deliveries_changed, every_s=DELIVERIES_EVERY_S)

    def share_saved_views(self, views: SavedViews) -> None:
        """Views saved or deleted here make the other processes' sidebars read the list again, and theirs ours."""
        views.announce = lambda: self.feed.announce('saved-views')
        self.feed.on('saved-views', views.changed_elsewhere)

    def share_deletions(self, history: ExecutionHistory) -> None:
        """Executions deleted here (by a request or a pruning) are forgotten by the other processes, whose open pages
        of them then say so, and theirs here; when their news may have been lost, pages ask the database."""

        async def deleted(execution_id: str | None) -> None:
            if execution_id is None:
                await history.forget_unknown()
            else:
                history.forget(execution_id, here=False)

        history.announce_deleted = lambda execution_id: self.feed.announce('execution-deleted', execution_id)
        self.feed.on('execution-deleted', deleted)
        if self.tail is not None:
            self.tail.gone = lambda execution_id: history.forget(execution_id, here=False)

    def share_stats(self, stats: NodeStatistics) -> None:
        """Node runs written here make the other processes read their node statistics again, and theirs ours."""
        feed = self.feed

        def announce(workflow_ids: Collection[str]) -> None:
            for workflow_id in sorted(workflow_ids):
                feed.announce('node-runs', workflow_id)

        stats.announce = announce
        feed.on('node-runs', stats.refresh)

    # --- lifecycle ----------------------------------------------------------------------------------------------

    async def join(self) -> None:
        """Take a lease (at start-up, before recovery): from now on this process's executions are its own."""
        previous = await self.membership.join()
        if previous is not None:
            log.warning("this data directory's previous flowmon process (%s) did not stop cleanly", previous)
        self._beating = asyncio.get_running_loop().create_task(self._beat(), name='process lease')

    async def recover(self) -> list[str]:
        """End ``interrupted`` the executions that no live process owns (a dead one's, or a crashed previous run's)."""
        assert self._history is not None and self._recorder is not None, 'attach() first'
        orphans = await orphaned_executions(self._db)
        if not orphans:
            return []
        owners = sorted({owner or 'none recorded' for _, owner in orphans})
        reason = 'the flowmon process running this execution stopped (' + ', '.join(owners) + ')'
        closed = await interrupt_executions(
            self._history, self._recorder, [execution_id for execution_id, _ in orphans], utcnow(), reason=reason,
            closed=self.interrupted,
        )  # fmt: skip
        if closed:
            self.taken_over += len(closed)
            log.warning('marked %d execution(s) of stopped processes interrupted: %s', len(closed), ', '.join(closed))
        return closed

    def start(self) -> None:
        """Follow the other processes: notifications, the event tail, cancel requests and announced changes."""
        listener = Listener(
            self._db.url,
            {
                EVENTS_CHANNEL: self._events_notice,
                CANCEL_CHANNEL: self._cancel_notice,
                CHANGES_CHANNEL: self.feed.received,
            },
            application_name=f'{self._db.application_name} listener',
        )
        self.listener = listener
        loop = asyncio.get_running_loop()
        for work, name in (
            (listener.run(), 'database listener'),
            (self._follow(), 'event tail'),
            (self._watch_cancels(), 'cancel requests'),
            (self.feed.run(), 'change feed'),
        ):
            self._tasks.append(loop.create_task(work, name=name))

    async def stop(self) -> None:
        """Stop following the others (first in a stop: the lease stays until :meth:`leave`)."""
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        self._tasks.clear()

    async def leave(self) -> None:
        """Give up the lease (last in a stop, after the recorder has written everything)."""
        await cancel_and_wait(self._beating)
        self._beating = None
        await self.membership.leave()

    # --- the lease ----------------------------------------------------------------------------------------------

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.renew()
            except Exception:
                log.exception('could not renew the process lease; trying again')

    async def renew(self) -> None:
        """One turn of the lease (every third of it): renew this process's, or let go of its work if it was taken
        for dead; take over from processes whose lease ran out."""
        if not await self.membership.beat():
            await self._fenced()
            return
        dead = await self.membership.claim_dead()
        if dead:
            log.warning('flowmon process(es) %s stopped renewing their lease; taking over', ', '.join(dead))
        closed = await self.recover()
        if (dead or closed) and self._delivery is not None:
            await self._delivery.sweep()  # their webhook attempts in flight are sent again

    async def _fenced(self) -> None:
        """This process was taken for dead: let go of its work and join again under a new id."""
        if self._fencing:
            return
        self._fencing = True
        try:
            assert self._engine is not None and self._recorder is not None
            old = self.membership.id
            active = self._engine.active_ids()
            await self._recorder.disown(active)
            await self._engine.interrupt_all()
            await self.membership.rejoin()
            log.error(
                'this process (%s) was taken for dead by another (no lease renewal within %g s); its %d active '
                'execution(s) were closed there and are interrupted here; joined again as %s',
                old, self.lease_seconds, len(active), self.membership.id,
            )  # fmt: skip
        finally:
            self._fencing = False

    # --- other processes' executions ----------------------------------------------------------------------------

    def _events_notice(self, payload: str | None) -> None:
        if payload is not None:
            latest = parse_events_notice(payload, self.me())
            if latest is None:
                return
            self._to_read(latest)
        elif self.listener is not None and self.listener.connections > 1:  # reconnected: notifications were lost
            self._to_read({}, self._heard_at)
        self._tail_wake.set()

    def _to_read(self, latest: Mapping[str, int], sweep_from: float | None = None) -> None:
        """What the next turn of :meth:`_follow` reads: these executions up to these seq, and a sweep from then."""
        for execution_id, seq in latest.items():
            self._notices[execution_id] = max(seq, self._notices.get(execution_id, 0))
        if sweep_from is not None:
            self._sweep_from = sweep_from if self._sweep_from is None else min(sweep_from, self._sweep_from)

    async def _follow(self) -> None:
        assert self.tail is not None
        polled = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._tail_wake.wait()
            self._tail_wake.clear()
            if self.listener is not None and self.listener.connected.is_set():
                self._heard_at = time.monotonic()
            notices, self._notices = self._notices, {}
            sweep_from, self._sweep_from = self._sweep_from, None
            try:
                if notices:
                    await self.tail.notified(notices)
                if sweep_from is not None:
                    await self.tail.sweep(time.monotonic() - sweep_from + SWEEP_SLACK_S)
                if time.monotonic() - polled >= POLL_S:
                    polled = time.monotonic()
                    await self.tail.poll()
            except Exception:
                log.exception('could not read the events of other processes; trying again')
                self._to_read(notices, sweep_from)  # at the next turn
                await asyncio.sleep(POLL_S)

    # --- cancel requests ----------------------------------------------------------------------------------------

    def _cancel_notice(self, payload: str | None) -> None:
        if payload is not None and self._engine is not None and self._engine.is_active(payload):
            self._engine.cancel(payload)
        self._cancel_wake.set()

    async def _watch_cancels(self) -> None:
        assert self._engine is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._cancel_wake.wait()
            self._cancel_wake.clear()
            try:
                for execution_id in await self.cancels.pending(self.me()):
                    if self._engine.is_active(execution_id):
                        self._engine.cancel(execution_id)
            except Exception:
                log.exception('could not read cancel requests; trying again')
                await asyncio.sleep(POLL_S)

    async def request_cancel(self, execution_id: str) -> bool:
        """Ask the process running ``execution_id`` to cancel it (False: no such execution is active anywhere)."""
        return await self.cancels.request(execution_id)

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


__all__ = ['POLL_S', 'Cluster']
