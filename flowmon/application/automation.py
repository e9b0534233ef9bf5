"""How workflows start on their own: signed inbound triggers and cron schedules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowmon.automation.schedules import ScheduleNotFound, ScheduleService
from flowmon.automation.triggers import (
    ReadBody,
    Received,
    TriggerConflict,
    TriggerNotFound,
    TriggerPayloadInvalid,
    TriggerPayloadTooLarge,
    TriggerService,
    TriggerUnauthorized,
)
from flowmon.engine.runtime.scheduler import QueueFull

from .errors import Conflict, Invalid, NotFound, OversizedPayload, RefusedPayload, Unauthorized, Unavailable, refusing
from .rotation import rotation_grace


@refusing(
    {
        TriggerNotFound: NotFound,
        TriggerConflict: Conflict,
        ScheduleNotFound: NotFound,
        TriggerUnauthorized: Unauthorized,
        TriggerPayloadTooLarge: OversizedPayload,
        TriggerPayloadInvalid: RefusedPayload,
        QueueFull: Unavailable,
        ValueError: Invalid,
    }
)
class Automation:
    """Receive a trigger; show, reveal and rotate a workflow's trigger secret; show, pause and resume its schedule.
    Unknown workflows and workflows without a trigger or a schedule are NotFound."""

    def __init__(self, *, triggers: TriggerService, schedules: ScheduleService) -> None:
        self._triggers = triggers
        self._schedules = schedules

    @property
    def max_body_bytes(self) -> int:
        """The largest trigger body accepted (``FLOWMON_MAX_PAYLOAD_BYTES``): read no more than this."""
        return self._triggers.budget.max_bytes

    async def receive(self, workflow_id: str, headers: Mapping[str, str], body: bytes | ReadBody) -> Received:
        """Verify the signature and start the workflow (or recognise a replayed message); ``body`` is read (when it
        is how to read it) only once the address has a usable trigger and the headers check out; raises NotFound,
        Unauthorized, OversizedPayload, RefusedPayload, Conflict (a webhook-id used before with another body) or
        Unavailable (too many executions queued: the message's id is
        not kept, so the sender's retry starts it)."""
        return await self._triggers.receive(workflow_id, headers, body)

    async def trigger(self, workflow_id: str) -> dict[str, Any]:
        """Whether the workflow accepts triggers, its path, and whether a secret exists yet."""
        return await self._triggers.info(workflow_id)

    async def reveal_trigger_secret(self, workflow_id: str) -> dict[str, Any]:
        """``{secret, previous_secret, previous_secret_expires_at}``: the trigger secret and, during a rotation's grace
        period, the previous one and when it stops working (else both null); NotFound for a workflow that has none (it
        never accepted triggers). Reading issues nothing: the secret is issued as the workflow is stored accepting
        triggers."""
        return await self._triggers.reveal_secret(workflow_id)

    async def rotate_trigger_secret(self, workflow_id: str, grace_seconds: int | None = None) -> dict[str, Any]:
        """A new trigger secret; the current one keeps verifying calls for ``grace_seconds`` (None: 24 h; 0: it stops
        at once, after a leak). Answers as :meth:`reveal_trigger_secret` does; two rotations at once make one; raises
        Invalid out of 0-86400."""
        grace = rotation_grace(grace_seconds)
        return await self._triggers.rotate_secret(workflow_id, grace=grace)

    async def schedule(self, workflow_id: str) -> dict[str, Any]:
        """``{cron, timezone, paused, next_run_at}``."""
        return await self._schedules.info(workflow_id)

    def next_run_at(self, workflow_id: str) -> datetime | None:
        """When the schedule fires next (None when paused or unscheduled): cheap, for pages."""
        return self._schedules.next_run_at(workflow_id)

    def schedule_paused(self, workflow_id: str) -> bool:
        """Whether the schedule is paused (here, through the API, or in another process): cheap, for pages."""
        return self._schedules.is_paused(workflow_id)

    async def set_paused(self, workflow_id: str, paused: bool) -> dict[str, Any]:
        """Pause or resume the schedule; returns it as :meth:`schedule` does."""
        change = self._schedules.pause if paused else self._schedules.resume
        return await change(workflow_id)
