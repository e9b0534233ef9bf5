"""Deleting history in small steps: finished executions past the retention horizon (or one on request), webhook
deliveries in a final state, workflow snapshots nothing refers to, and giving the freed space back to the file
system.

Every step is a short write transaction of its own, followed by a pause at least as long as the step took, so the
other writers (the recorder's flushes, the delivery ledger, a saved workflow) get the database between steps:
with steps of about :data:`STEP_TARGET_S` a writer waits for one step at the most, well under 50 ms, and readers
(pages, API reads) never wait on a writer at all in WAL mode. How many rows a step deletes is decided by
:class:`Pacer`: it starts small, grows while steps stay quick and shrinks at once when one was slow (rows with
large payloads: every page of an event's data is freed one by one).

An execution goes event rows first, lowest ``seq`` first, and its ``executions`` row with its node runs and its
searchable text (``execution_search``, with its index entries) in the step that deletes its last events. Once its
first event is gone it can no longer be opened (a history must start at ``seq`` 1; see
:class:`flowmon.application.replays.ReplayLoader`); until its row goes it is still listed (and found by search). A
crash halfway leaves the row and the rest of the events, and the next pruning finishes the job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, Select, and_, delete, or_, select

from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES

from .codec import to_db_time
from .database import Database
from .tables import EventRow, ExecutionRow, ExecutionSearchRow, NodeRunRow, WorkflowSnapshotRow
from .webhook_tables import attempts, deliveries, inbound

_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]
_snapshots = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]
_search = ExecutionSearchRow.__table__  # type: ignore[attr-defined]

# A step's target duration, and its size limits. Measured on a database of 600 finished executions of 200 events
# (120,000 events of 1 KiB, 167 MB) on the 2-core machine the tests run on (``python -m bench retention``): with the
# machine quiet, a small write committed every 10 ms meanwhile waited 16 ms at the most; with other work on it (load
# 2.5-4), steps of at most 1,000 event rows took 4.5 ms (median) and 16 ms (p95), steps giving back at most 1,024
# pages about 8 ms (median), and the writes waited 2.5-5 ms (median) and 30-40 ms at the most. Larger steps gained
# little: the pause after each step is as long as the step.
STEP_TARGET_S = 0.015
MAX_STEP_ROWS = 1000  # event, node-run, delivery and attempt rows deleted in one step at the most
FIRST_STEP_ROWS = 200
MIN_PAUSE_S = 0.005  # the pause after a step: at least this, and at least as long as the step took
MAX_GIVE_BACK_PAGES = 1024  # pages one incremental vacuum step gives back at the most (4 MiB of 4 KiB pages)
FIRST_GIVE_BACK_PAGES = 128
SHRINK_TRIES = 100  # checkpoints tried after giving pages back, until one lets the file shrink ...
SHRINK_RETRY_S = 0.02  # ... this far apart: up to 2 s
CANDIDATES = 200  # executions (or deliveries) looked up at a time

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Deleted = Callable[[Sequence[str]], None]  # told the ids of executions as they become unreadable


@dataclass(frozen=True, kw_only=True, slots=True)
class RetentionPolicy:
    """What is kept: finished executions (and settled deliveries) younger than ``days`` (0: no age limit), and at
    most the ``max_executions`` newest finished executions (0: no limit)."""

    days: int
    max_executions: int

    def horizon(self, now: datetime) -> datetime | None:
        """What finished before this goes (None: no age limit)."""
        if self.days <= 0:
            return None
        try:
            return now - timedelta(days=self.days)
        except OverflowError:  # further back than the calendar goes: nothing is that old
            return None

    @property
    def keeps_everything(self) -> bool:
        return self.days <= 0 and self.max_executions <= 0


@dataclass(kw_only=True, slots=True)
class PruneCounts:
    """Rows deleted, steps taken, pages given back."""

    executions: int = 0
    events: int = 0
    node_runs: int = 0
    deliveries: int = 0
    attempts: int = 0
    snapshots: int = 0
    pages_given_back: int = 0
    steps: int = 0
    longest_step_ms: float = 0.0

    def add(self, other: PruneCounts) -> None:
        for item in fields(self):
            name = item.name
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, max(mine, theirs) if name == 'longest_step_ms' else mine + theirs)

    def rows(self) -> dict[str, int]:
        """The rows deleted, by table."""
        return {
            'executions': self.executions,
            'events': self.events,
            'node_runs': self.node_runs,
            'webhook_deliveries': self.deliveries,
            'webhook_attempts': self.attempts,
            'workflow_snapshots': self.snapshots,
        }


@dataclass(slots=True)
class Pacer:
    """How much one step does: ``size`` grows by half while steps take under half the target, and shrinks in
    proportion when one takes longer; after each step, the pause that gives other writers their turn."""

    size: int
    maximum: int
    target_s: float = STEP_TARGET_S
    minimum: int = 1

    def took(self, seconds: float) -> float:
        """Adjust to a step that took ``seconds``; returns how long to pause before the next."""
        if seconds > self.target_s:
            self.size = max(self.minimum, int(self.size * self.target_s / seconds))
        elif seconds < self.target_s / 2:
            self.size = min(self.maximum, self.size + max(1, self.size // 2))
        return max(MIN_PAUSE_S, seconds)


@dataclass(slots=True)
class _Doomed:
    """An execution being deleted: its events up to ``deleted_seq`` are gone."""

    id: str
    last_seq: int
    nodes: int
    deleted_seq: int = 0

    @property
    def cost(self) -> int:
        """Rows its deletion still has to delete (its remaining events, node runs and the row)."""
        return max(0, self.last_seq - self.deleted_seq) + self.nodes + 1


@dataclass(slots=True)
class _Step:
    partial: _Doomed | None = None  # one execution losing some of its events
    upto: int = 0  # ... those up to this seq
    whole: list[_Doomed] = field(default_factory=list)  # executions losing everything left


class Pruner:
    """Deletes history in paced steps (see the module's docstring). ``sleep`` and ``clock`` are for tests."""

    def __init__(
        self,
        db: Database,
        *,
        delivery_final_statuses: Collection[str],
        max_step_rows: int = MAX_STEP_ROWS,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._db = db
        self._final_deliveries = sorted(delivery_final_statuses)
        self._max_rows = max_step_rows
        self._sleep = sleep
        self._clock = clock
        self._rows = Pacer(min(FIRST_STEP_ROWS, max_step_rows), max_step_rows)
        self.deleted_executions = 0  # since start: moves when the executions table lost rows (caches re-read)
        self._pages = Pacer(FIRST_GIVE_BACK_PAGES, MAX_GIVE_BACK_PAGES)

    # --- executions -----------------------------------------------------------------------------------

    async def delete_execution(self, execution_id: str, on_deleted: Deleted | None = None) -> PruneCounts | None:
        """Delete one finished execution with everything recorded of it; None when there is no such finished
        execution (unknown, already deleted, or not finished: running and queued ones are never deleted)."""
        deleted, counts = await self.delete_executions([execution_id], on_deleted)
        return counts if deleted else None

    async def delete_executions(
        self, execution_ids: Sequence[str], on_deleted: Deleted | None = None
    ) -> tuple[list[str], PruneCounts]:
        """Delete those of ``execution_ids`` that are finished, in shared paced steps (many small executions go in
        one step); returns their ids, in the order given, and what was deleted."""
        unique = list(dict.fromkeys(execution_ids))
        found: dict[str, _Doomed] = {}
        async with self._db.engine.connect() as conn:
            for start in range(0, len(unique), CANDIDATES):
                query = self._doomed_query().where(_executions.c.id.in_(unique[start : start + CANDIDATES]))
                for row in (await conn.execute(query)).all():
                    item = _doomed(row)
                    found[item.id] = item
        doomed = [found[execution_id] for execution_id in unique if execution_id in found]
        if not doomed:
            return [], PruneCounts()
        return [item.id for item in doomed], await self._delete(doomed, on_deleted)

    async def prune_executions(
        self, policy: RetentionPolicy, now: datetime, on_deleted: Deleted | None = None, *, stop: Stopped = None
    ) -> PruneCounts:
        """Delete every finished execution that ``policy`` no longer keeps, oldest first."""
        counts = PruneCounts()
        horizon = policy.horizon(now)
        while not _stopped(stop):
            async with self._db.engine.connect() as conn:
                conditions = []
                if horizon is not None:
                    conditions.append(_executions.c.finished_at < to_db_time(horizon))
                    conditions.append(
                        and_(_executions.c.finished_at.is_(None), _executions.c.created_at < to_db_time(horizon))
                    )
                if policy.max_executions > 0:
                    cutoff = (await conn.execute(self._nth_newest(policy.max_executions))).first()
                    if cutoff is not None:
                        created, newest_gone = cutoff
                        conditions.append(_executions.c.created_at < created)
                        conditions.append(and_(_executions.c.created_at == created, _executions.c.id <= newest_gone))
                if not conditions:
                    return counts
                query = (
                    self._doomed_query()
                    .where(or_(*conditions))
                    .order_by(_executions.c.created_at, _executions.c.id)
                    .limit(CANDIDATES)
                )
                rows = (await conn.execute(query)).all()
            if not rows:
                return counts
            counts.add(await self._delete([_doomed(row) for row in rows], on_deleted, stop=stop))
        return counts

    def _doomed_query(self) -> Select[str, int, int]:
        """(id, last_seq, nodes_total) of finished executions."""
        return select(_executions.c.id, _executions.c.last_seq, _executions.c.nodes_total).where(
            _executions.c.status.in_(sorted(TERMINAL_EXECUTION_STATUSES))
        )

    def _nth_newest(self, keep: int) -> Select[datetime, str]:
        """(created_at, id) of the newest finished execution that is not among the ``keep`` newest."""
        return (
            select(_executions.c.created_at, _executions.c.id)
            .where(_executions.c.status.in_(sorted(TERMINAL_EXECUTION_STATUSES)))
            .order_by(_executions.c.created_at.desc(), _executions.c.id.desc())
            .limit(1)
            .offset(keep)
        )

    async def _delete(self, doomed: list[_Doomed], on_deleted: Deleted | None, *, stop: Stopped = None) -> PruneCounts:
        counts = PruneCounts()
        queue = list(doomed)
        while queue and not _stopped(stop):
            step = _next_step(queue, self._rows.size)
            took = await self._timed(counts, self._delete_step(step, counts))
            unreadable = [item.id for item in step.whole if item.deleted_seq == 0]
            if step.partial is not None and step.partial.deleted_seq == 0:
                unreadable.append(step.partial.id)
            if step.partial is not None:
                step.partial.deleted_seq = step.upto
            if on_deleted is not None and unreadable:
                on_deleted(unreadable)
            queue = queue[len(step.whole) :]
            await self._sleep(self._rows.took(took))
        return counts

    async def _delete_step(self, step: _Step, counts: PruneCounts) -> None:
        gone = 0
        async with self._db.engine.begin() as conn:
            if step.partial is not None:
                result = await conn.execute(
                    delete(_events).where(_events.c.execution_id == step.partial.id, _events.c.seq <= step.upto)
                )
                counts.events += result.rowcount
                if step.partial.deleted_seq == 0:  # its first step, the one reported as its deletion (on_deleted): its
                    # node runs go with it, so that no statistics read between its steps counts them again
                    counts.node_runs += (
                        await conn.execute(delete(_node_runs).where(_node_runs.c.execution_id == step.partial.id))
                    ).rowcount
            ids = [item.id for item in step.whole]
            if ids:
                counts.events += (await conn.execute(delete(_events).where(_events.c.execution_id.in_(ids)))).rowcount
                counts.node_runs += (
                    await conn.execute(delete(_node_runs).where(_node_runs.c.execution_id.in_(ids)))
                ).rowcount
                terminal = _executions.c.status.in_(sorted(TERMINAL_EXECUTION_STATUSES))
                finished = select(_executions.c.id).where(_executions.c.id.in_(ids), terminal)
                await conn.execute(delete(_search).where(_search.c.execution_id.in_(finished)))  # (with its index)
                # the inbound webhook ids that started them: a sender's retry starts a new one, not a deleted id
                await conn.execute(delete(inbound).where(inbound.c.execution_id.in_(finished)))
                gone = (await conn.execute(delete(_executions).where(_executions.c.id.in_(ids), terminal))).rowcount
                counts.executions += gone
        self.deleted_executions += gone  # once committed

    # --- deliveries and snapshots ---------------------------------------------------------------------

    async def prune_deliveries(self, horizon: datetime, *, stop: Stopped = None) -> PruneCounts:
        """Delete deliveries in a final state that finished before ``horizon``, with their attempts."""
        counts = PruneCounts()
        before = to_db_time(horizon)
        settled = deliveries.c.status.in_(self._final_deliveries)
        old = or_(
            deliveries.c.finished_at < before,
            and_(deliveries.c.finished_at.is_(None), deliveries.c.created_at < before),
        )
        while not _stopped(stop):
            async with self._db.engine.connect() as conn:
                query = (
                    select(deliveries.c.id, deliveries.c.attempts)
                    .where(settled, old)
                    .order_by(deliveries.c.finished_at)
                    .limit(CANDIDATES)
                )
                rows = (await conn.execute(query)).all()
            if not rows:
                return counts
            while rows and not _stopped(stop):
                taken: list[str] = []
                cost = 0
                for delivery_id, tried in rows:
                    if taken and cost + 1 + tried > self._rows.size:
                        break
                    taken.append(delivery_id)
                    cost += 1 + tried
                rows = rows[len(taken) :]
                took = await self._timed(counts, self._delete_deliveries(taken, settled, counts))
                await self._sleep(self._rows.took(took))
        return counts

    async def _delete_deliveries(self, ids: list[str], settled: ColumnElement[bool], counts: PruneCounts) -> None:
        async with self._db.engine.begin() as conn:
            counts.attempts += (await conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(ids)))).rowcount
            counts.deliveries += (
                await conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids), settled))
            ).rowcount

    async def prune_snapshots(self, *, stop: Stopped = None) -> PruneCounts:
        """Delete the workflow snapshots that no execution names any more, a few at a time."""
        counts = PruneCounts()
        referenced = select(_executions.c.workflow_hash).where(_executions.c.workflow_hash.is_not(None))
        while not _stopped(stop):
            async with self._db.engine.connect() as conn:
                query = select(_snapshots.c.hash).where(_snapshots.c.hash.not_in(referenced)).limit(CANDIDATES)
                orphans = [row[0] for row in (await conn.execute(query)).all()]
            if not orphans:
                return counts
            for start in range(0, len(orphans), 10):  # a definition may be 2 MiB: ten at a time
                if _stopped(stop):
                    break
                hashes = orphans[start : start + 10]
                took = await self._timed(counts, self._delete_snapshots(hashes, referenced, counts))
                await self._sleep(self._rows.took(took))
        return counts

    async def _delete_snapshots(self, hashes: list[str], referenced: Select[str], counts: PruneCounts) -> None:
        async with self._db.engine.begin() as conn:  # still unreferenced now: a run may have started meanwhile
            condition = and_(_snapshots.c.hash.in_(hashes), _snapshots.c.hash.not_in(referenced))
            counts.snapshots += (await conn.execute(delete(_snapshots).where(condition))).rowcount

    # --- space ----------------------------------------------------------------------------------------

    async def give_back_space(self, *, stop: Stopped = None) -> PruneCounts:
        """Give the pages deletes freed back to the file system in paced steps, then checkpoint (SQLite: the file
        shrinks; elsewhere nothing to do)."""
        counts = PruneCounts()
        if not _stopped(stop):  # first the search index's leftovers of deleted executions, so their pages free too
            took = await self._timed(counts, self._db.tidy_search_index(self._pages.size))
            await self._sleep(self._pages.took(took))
        while not _stopped(stop) and await self._db.free_pages() > 0:
            before = counts.pages_given_back
            took = await self._timed(counts, self._give_back(self._pages.size, counts))
            if counts.pages_given_back == before:
                break
            await self._sleep(self._pages.took(took))
        if counts.steps:
            await self._shrink(stop)
        return counts

    async def _shrink(self, stop: Stopped) -> None:
        """Checkpoint until the file takes its new size: a passive checkpoint stops short of the end of the log while
        a reader holds an older snapshot (or a write lands meanwhile), and only one that gets to the end shrinks the
        file. A few tries, paced; each waits for nobody."""
        for _ in range(SHRINK_TRIES):
            if await self._db.checkpoint() or _stopped(stop):
                return
            await self._sleep(SHRINK_RETRY_S)

    async def _give_back(self, pages: int, counts: PruneCounts) -> None:
        counts.pages_given_back += await self._db.give_back(pages)

    async def _timed(self, counts: PruneCounts, step: Awaitable[None]) -> float:
        """Run one step (a transaction that adds what it deleted to ``counts``); returns how long it took."""
        started = self._clock()
        await step
        took = self._clock() - started
        counts.steps += 1
        counts.longest_step_ms = max(counts.longest_step_ms, round(took * 1000, 3))
        return took


Stopped = Callable[[], bool] | None


def _stopped(stop: Stopped) -> bool:
    return stop is not None and stop()


def _doomed(row: Row[str, int, int]) -> _Doomed:
    execution_id, last_seq, nodes = row
    return _Doomed(id=execution_id, last_seq=int(last_seq or 0), nodes=int(nodes or 0))


def _next_step(queue: list[_Doomed], budget: int) -> _Step:
    """The executions at the head of ``queue`` whose remaining rows fit ``budget``; if the first does not fit
    alone, that many of its events."""
    step = _Step()
    for item in queue:
        if item.cost > budget:
            if step.whole:
                break
            if item.deleted_seq + budget < item.last_seq:  # (the last step of one takes its node runs over budget)
                step.partial, step.upto = item, item.deleted_seq + budget
                return step
        step.whole.append(item)
        budget -= item.cost
    return step
