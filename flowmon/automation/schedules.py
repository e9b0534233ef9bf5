"""Cron schedules from workflow definitions (``"schedule": {"cron": "...", "timezone": "UTC"}``).

Each scheduled workflow is one APScheduler cron job (``cron:<workflow_id>``) on the shared :class:`Timers`, with
coalescing (a backlog of missed runs fires once) and a misfire grace (a run more than ``misfire_grace_s`` late is
skipped). Jobs follow the catalog: saving a workflow re-arms its schedule, deleting it removes the job. Pausing is
kept in the database, so a paused schedule stays paused across restarts.

A tick that falls while flowmon is not running (a deploy, a reboot) starts its run at the next start-up, once
however many were missed, if it fell within the last ``catch_up_s`` seconds (``FLOWMON_SCHEDULE_CATCH_UP_SECONDS``)
and nothing says it was not wanted: the workflow's definition (its cron line with it) and its pause state (and
trigger secret) have not changed since, and no run of it started by its schedule came after the tick
(:meth:`ScheduleService.catch_up`). A definition stored again unchanged (a file loaded at start-up) is no change.

When processes share a PostgreSQL database each of them fires every schedule, and a tick starts an execution only in
the process that claims it first (a row per workflow and scheduled time, :class:`TickClaims`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from flowmon.automation.triggers import StartExecution, upsert_automation
from flowmon.engine.core import log_context
from flowmon.engine.core.events import utcnow
from flowmon.engine.core.provenance import schedule_trigger
from flowmon.engine.cron import crontab_trigger, never_fires
from flowmon.engine.model import Workflow
from flowmon.engine.runtime.scheduler import QueueFull, new_execution_id
from flowmon.infra.timers import Timers
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.cluster import TickClaims
from flowmon.store.codec import to_db_time
from flowmon.store.database import Database
from flowmon.store.tables import ExecutionRow, WorkflowRow
from flowmon.store.webhook_tables import automation

log = logging.getLogger(__name__)

MISFIRE_GRACE_S = 60
CATCH_UP_S = 3600  # a tick missed while flowmon was not running starts at start-up if it fell this recently
MAX_TICKS_SEARCHED = 100_000  # ticks stepped through to find the latest one of the catch-up window

_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_workflows = WorkflowRow.__table__  # type: ignore[attr-defined]


class ScheduleNotFound(LookupError):
    """The workflow does not exist or has no schedule."""


def job_id(workflow_id: str) -> str:
    return f'cron:{workflow_id}'


class ScheduleService:
    def __init__(
        self,
        db: Database,
        catalog: WorkflowCatalog,
        timers: Timers,
        start_execution: StartExecution,
        *,
        clock: Callable[[], datetime] = utcnow,
        misfire_grace_s: int = MISFIRE_GRACE_S,
        catch_up_s: int = CATCH_UP_S,
        claims: TickClaims | None = None,
    ) -> None:
        """``claims``: processes share the database and each fires every schedule; a tick starts an execution only
        in the process that claims it first."""
        self._db, self._catalog, self._timers = db, catalog, timers
        self._start, self._clock = start_execution, clock
        self.misfire_grace_s = misfire_grace_s
        self.catch_up_s = catch_up_s
        self._claims = claims
        timers.track_fire_times('cron:')
        self._paused: set[str] = set()
        # a refresh (read what is stored, then follow it) and a pause or resume made here (store it, then hold it)
        # one at a time: a refresh that read before a pause here and followed after it undid the pause here
        self._pausing = asyncio.Lock()
        self._specs: dict[str, tuple[str, str]] = {}  # workflow id -> (cron, timezone) armed
        # called with the workflow id after a pause or resume made here (other processes then follow it)
        self.announce: Callable[[str], None] = lambda _workflow_id: None

    async def start(self) -> None:
        """Arm every stored workflow's schedule and follow catalog changes from now on."""
        self._paused = await self._stored_paused()
        for stored in await self._catalog.all():
            try:
                workflow = await self._catalog.get(stored.id)
            except ValueError as exc:
                log.error(
                    'workflow %s has an invalid stored definition; no schedule: %s', stored.id, exc,
                    extra=log_context.about(workflow_id=stored.id),
                )  # fmt: skip
                continue
            self.sync(stored.id, workflow)
        self._catalog.listeners.append(self.sync)
        await self.catch_up()

    async def catch_up(self) -> list[str]:
        """Start, once each, the schedules whose latest tick of the last :attr:`catch_up_s` seconds was missed while
        flowmon was not running (see the module docstring); returns their workflow ids."""
        if self.catch_up_s <= 0:
            return []
        now = self._clock()
        started = []
        for workflow_id, (cron, timezone) in sorted(self._specs.items()):
            if workflow_id in self._paused:
                continue
            try:
                tick = latest_tick(
                    crontab_trigger(cron, ZoneInfo(timezone)), now - timedelta(seconds=self.catch_up_s), now
                )
                if tick is None or not await self._missed(workflow_id, tick):
                    continue
            except Exception:
                log.exception('schedule of workflow %s: could not tell whether a run was missed', workflow_id)
                continue
            log.warning(
                'schedule of workflow %s: the run due at %s was missed while flowmon was not running; starting it now',
                workflow_id, tick.isoformat(), extra=log_context.about(workflow_id=workflow_id),
            )  # fmt: skip
            await self._fire(workflow_id, fire_time=tick)
            started.append(workflow_id)
        return started

    async def _missed(self, workflow_id: str, tick: datetime) -> bool:
        """Whether ``tick`` of ``workflow_id``'s schedule was missed: the workflow was stored as it is now before it
        (so its cron line was in force), its automation row (pause, trigger secret) has not changed since, and no run
        of it started by its schedule came after it."""
        at = to_db_time(tick)
        ran = exists().where(
            _executions.c.workflow_id == workflow_id,
            _executions.c.trigger_type == 'schedule',
            _executions.c.created_at >= at,
        )
        changed = exists().where(automation.c.workflow_id == workflow_id, automation.c.updated_at > at)
        query = select(_workflows.c.id).where(
            _workflows.c.id == workflow_id, _workflows.c.updated_at <= at, ~ran, ~changed
        )
        async with self._db.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def stop(self) -> None:
        if self.sync in self._catalog.listeners:
            self._catalog.listeners.remove(self.sync)
        for workflow_id in list(self._specs):
            self._timers.disarm(job_id(workflow_id))
        self._specs.clear()

    def sync(self, workflow_id: str, workflow: Workflow | None) -> None:
        """Arm, re-arm or remove ``workflow_id``'s cron job to match its (new) definition."""
        schedule = workflow.spec.schedule if workflow is not None else None
        if workflow is None:  # deleted, with its pause (the store deleted it too): a new one under its id is active
            self._paused.discard(workflow_id)
        if schedule is not None and never_fires(schedule.cron):  # (refused on saving; one stored before stays idle)
            log.warning('workflow %s: its cron line %r never fires; no schedule', workflow_id, schedule.cron)
            schedule = None
        if schedule is None:
            if self._specs.pop(workflow_id, None) is not None:
                self._timers.disarm(job_id(workflow_id))
            return
        spec = (schedule.cron, schedule.timezone)
        if self._specs.get(workflow_id) == spec and self._timers.armed(job_id(workflow_id)):
            return
        trigger = crontab_trigger(schedule.cron, ZoneInfo(schedule.timezone))
        self._timers.add(
            job_id(workflow_id),
            trigger,
            self._fire,
            workflow_id,
            paused=workflow_id in self._paused,
            misfire_grace_s=self.misfire_grace_s,
        )
        self._specs[workflow_id] = spec

    async def info(self, workflow_id: str) -> dict[str, Any]:
        """``{cron, timezone, paused, next_run_at}``; raises :class:`ScheduleNotFound`."""
        cron, timezone = self._require(workflow_id)
        next_run = self._timers.next_run_time(job_id(workflow_id))
        return {
            'workflow_id': workflow_id,
            'cron': cron,
            'timezone': timezone,
            'paused': workflow_id in self._paused,
            'next_run_at': next_run.isoformat() if next_run is not None else None,
        }

    def next_run_at(self, workflow_id: str) -> datetime | None:
        """When the schedule fires next (None when paused or unscheduled): cheap, for pages."""
        return self._timers.next_run_time(job_id(workflow_id)) if workflow_id in self._specs else None

    def is_paused(self, workflow_id: str) -> bool:
        """Whether the schedule is paused, as this process knows (a pause elsewhere arrives by its notice): cheap."""
        return workflow_id in self._paused

    async def pause(self, workflow_id: str) -> dict[str, Any]:
        return await self._set_paused(workflow_id, True)

    async def resume(self, workflow_id: str) -> dict[str, Any]:
        return await self._set_paused(workflow_id, False)

    async def _set_paused(self, workflow_id: str, paused: bool) -> dict[str, Any]:
        # within the workflows' turn: a pause stored after the workflow's deletion (which deletes its pause) would
        # be inherited by a new workflow of its id, while this answered 404
        async with self._catalog.unchanged(), self._pausing:
            self._require(workflow_id)
            await self._store_paused(workflow_id, paused)
            (self._timers.pause if paused else self._timers.resume)(job_id(workflow_id))
        return await self.info(workflow_id)

    async def _fire(self, workflow_id: str, *, fire_time: datetime | None = None) -> None:
        """Start the run of ``workflow_id``'s tick (the one its job fires now, or ``fire_time``)."""
        about = log_context.about(workflow_id=workflow_id)
        try:
            now = self._clock()
            input = {'trigger': 'schedule', 'fired_at': now.isoformat()}
            cron, timezone = self._specs.get(workflow_id) or ('', 'UTC')
            trigger = schedule_trigger(cron, timezone)
            if self._claims is None:
                execution_id = await self._start(workflow_id, input, trigger=trigger)
            else:
                # keyed by the time the tick was scheduled for: the same in every process, however late each fires
                fire_time = fire_time or self._timers.fire_time(job_id(workflow_id)) or now
                execution_id = new_execution_id()
                if not await self._claims.claim(workflow_id, fire_time, execution_id, now):
                    log.debug('the run of %s at %s was started by another process', workflow_id, fire_time)
                    return
                execution_id = await self._start(workflow_id, input, trigger=trigger, execution_id=execution_id)
        except LookupError:
            log.warning('scheduled workflow %s no longer exists; schedule removed', workflow_id, extra=about)
            self.sync(workflow_id, None)
            return
        except QueueFull as exc:
            log.warning('scheduled run of workflow %s skipped: %s', workflow_id, exc, extra=about)
            return
        except Exception:
            log.exception('scheduled run of workflow %s could not start', workflow_id, extra=about)
            return
        log.info(
            'scheduled run of workflow %s started: %s',
            workflow_id,
            execution_id,
            extra={**about, 'execution_id': execution_id},
        )

    async def refresh_paused(self, workflow_id: str | None) -> None:
        """Another process paused or resumed ``workflow_id``'s schedule (None: any): follow what is stored."""
        async with self._pausing:
            paused = await self._stored_paused()
            # only the schedules asked about: another's change (read here too) is followed by its own refresh, which
            # must still find it to do
            keys = [workflow_id] if workflow_id is not None else set(self._specs) | self._paused | paused
            for key in keys:
                if key in paused and key not in self._paused:
                    self._paused.add(key)
                    self._timers.pause(job_id(key))
                elif key not in paused and key in self._paused:
                    self._paused.discard(key)
                    self._timers.resume(job_id(key))

    async def _stored_paused(self) -> set[str]:
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(select(automation.c.workflow_id).where(automation.c.schedule_paused))).all()
        return {row[0] for row in rows}

    def _require(self, workflow_id: str) -> tuple[str, str]:
        spec = self._specs.get(workflow_id)
        if spec is None:
            raise ScheduleNotFound(f'workflow {workflow_id!r} has no schedule')
        return spec

    async def _store_paused(self, workflow_id: str, paused: bool) -> None:
        async with self._db.engine.begin() as conn:
            await upsert_automation(conn, workflow_id, self._clock(), schedule_paused=paused)
        if paused:
            self._paused.add(workflow_id)
        else:
            self._paused.discard(workflow_id)
        self.announce(workflow_id)


def latest_tick(trigger: Any, since: datetime, now: datetime) -> datetime | None:
    """The latest time in ``(since, now]`` that ``trigger`` fires at, or None."""
    latest, at = None, trigger.get_next_fire_time(None, since + timedelta(seconds=1))
    for _ in range(MAX_TICKS_SEARCHED):
        if at is None or at > now:
            break
        latest, at = at, trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return latest
