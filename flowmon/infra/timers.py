"""The one APScheduler (3.11 ``AsyncIOScheduler``) of the process, behind a small adapter.

It holds only wake-ups that can be rebuilt from the database (retry times, the sweeper, cron schedules), in
memory. Defaults are set where 3.11 reads them (``job_defaults``): UTC, ``misfire_grace_time=None`` so a late
date job still runs instead of being dropped, ``coalesce``, and one instance per job. Jobs must be ``async def``
(plain functions would run in a thread pool). ``start`` needs the running event loop (NiceGUI's on_startup).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

Job = Callable[..., Awaitable[Any]]
_CHATTY_LOGGERS = ('apscheduler.scheduler', 'apscheduler.executors.default')


class Timers:
    """Arm, disarm and inspect wake-ups; :meth:`start` and :meth:`shutdown` belong to the service lifecycle."""

    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={'misfire_grace_time': None, 'coalesce': True, 'max_instances': 1}
        )
        self._tracked: tuple[str, ...] = ()  # job id prefixes whose fire times are kept (see fire_time)
        self._fire_times: dict[str, datetime] = {}
        self.scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)

    def track_fire_times(self, prefix: str) -> None:
        """Keep the scheduled time of each run of the jobs whose id starts with ``prefix`` (see :meth:`fire_time`)."""
        self._tracked = (*self._tracked, prefix)

    def fire_time(self, job_id: str) -> datetime | None:
        """The time the current run of ``job_id`` was scheduled for (not when it started: runs start late under
        load); for the jobs of :meth:`track_fire_times`, read from within the run. APScheduler announces each
        submission before the job's coroutine starts; with coalescing it is the latest of the missed times."""
        return self._fire_times.get(job_id)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        if self._tracked and event.job_id.startswith(self._tracked) and event.scheduled_run_times:
            self._fire_times[event.job_id] = event.scheduled_run_times[-1]

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        for name in _CHATTY_LOGGERS:  # one INFO line per job run would drown the log at hundreds of retries/s
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.WARNING)
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def arm(self, job_id: str, when: datetime, func: Job, *args: Any) -> None:
        """Run ``func(*args)`` at ``when`` (at once if that is past), replacing an earlier wake-up of ``job_id``."""
        self.scheduler.add_job(func, 'date', run_date=when, id=job_id, args=args, replace_existing=True)

    def every(self, job_id: str, seconds: float, func: Job, *args: Any) -> None:
        self.scheduler.add_job(func, 'interval', seconds=seconds, id=job_id, args=args, replace_existing=True)

    def add(
        self, job_id: str, trigger: BaseTrigger, func: Job, *args: Any, paused: bool = False, misfire_grace_s: int = 60
    ) -> None:
        """A recurring job on ``trigger`` (e.g. a ``CronTrigger``), coalesced, with a misfire grace."""
        options: dict[str, Any] = {'next_run_time': None} if paused else {}
        self.scheduler.add_job(
            func,
            trigger,
            id=job_id,
            args=args,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=misfire_grace_s,
            **options,
        )

    def disarm(self, job_id: str) -> None:
        """Remove the job (nothing happens when there is none)."""
        self._fire_times.pop(job_id, None)
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    def armed(self, job_id: str) -> bool:
        return self.scheduler.get_job(job_id) is not None

    def next_run_time(self, job_id: str) -> datetime | None:
        job = self.scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def pause(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.pause_job(job_id)

    def resume(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.resume_job(job_id)

    def job_ids(self, prefix: str = '') -> list[str]:
        return [job.id for job in self.scheduler.get_jobs() if job.id.startswith(prefix)]

    def kinds(self) -> dict[str, JobKind]:
        """The jobs by kind (a job id's part before the first ``:``, e.g. ``cron``, ``delivery``): how many, and
        when the next of them runs (None when all of that kind are paused). Ids past the kind are left out."""
        kinds: dict[str, JobKind] = {}
        for job in self.scheduler.get_jobs():
            kind = job.id.split(':', 1)[0]
            known = kinds.get(kind)
            when = job.next_run_time
            if known is None:
                kinds[kind] = JobKind(count=1, next_run_at=when)
            else:
                soonest = min((t for t in (known.next_run_at, when) if t is not None), default=None)
                kinds[kind] = JobKind(count=known.count + 1, next_run_at=soonest)
        return kinds


@dataclass(frozen=True, slots=True)
class JobKind:
    count: int
    next_run_at: datetime | None
