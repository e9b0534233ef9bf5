"""Running workflows: start, cancel, rerun and delete executions.

Every start records how it came about (``trigger``, see :mod:`flowmon.engine.core.provenance`): the API and the
pages say so when they start a run, schedules and inbound hooks through :meth:`Executions.submit`, and a rerun is
always a rerun.

An imported execution is history from elsewhere and its definition came from a file: it is never run again
and never cancelled (:class:`~flowmon.application.errors.Conflict`), whether or not a workflow with its id
exists here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.provenance import rerun_trigger
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES
from flowmon.engine.model import WorkflowError
from flowmon.engine.runtime.scheduler import Engine, QueueFull, RerunError
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.retention import PruneCounts, Pruner

from .errors import PAYLOAD_REFUSALS, AppError, Conflict, Invalid, NotFound, Unavailable, translated
from .history import ExecutionHistory

READ_ONLY = 'imported executions are read-only'
log = logging.getLogger(__name__)


class Executions:
    """What the Run, Cancel and Rerun buttons and routes do."""

    def __init__(
        self,
        *,
        catalog: WorkflowCatalog,
        engine: Engine,
        history: ExecutionHistory,
        pruner: Pruner,
        remote_cancel: Callable[[str], Awaitable[bool]] | None = None,
        written: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``remote_cancel``: ask another process sharing the database to cancel an execution it runs (False when
        no such execution is active). ``written``: processes share the database; waits until what this process
        has recorded so far is written (the recorder's flush), so that a start or a rerun answers with an id that
        every process can open (a script behind a load balancer starts on one and reads on another)."""
        self._catalog, self._engine, self._history, self._pruner = catalog, engine, history, pruner
        self._remote_cancel, self._written = remote_cancel, written  # both None for the only process on a database

    @property
    def budget(self) -> PayloadBudget:
        """What an execution input may be (nesting, 64-bit integers, ``FLOWMON_MAX_PAYLOAD_BYTES``): pages check
        typed inputs against it before anything is submitted."""
        return self._engine.budget

    async def submit(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        trigger: Mapping[str, Any],
        priority: int = 0,
        execution_id: str | None = None,
    ) -> str:
        """Queue a run of ``workflow_id`` started by ``trigger`` and return its id, raising the engine's own errors:
        NotFound, WorkflowError, PayloadError (over budget) or RuntimeError (stopping; QueueFull: too many queued).
        Triggers and schedules use this and say what went wrong in their own terms (with ``execution_id``: the id they
        recorded beforehand); everyone else calls :meth:`start`."""
        workflow = await self._catalog.get(workflow_id)
        if workflow is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        started = self._engine.submit(workflow, input, priority=priority, trigger=trigger, execution_id=execution_id)
        return await self._shared(started)

    async def start(self, workflow_id: str, input: Any = None, *, trigger: Mapping[str, Any], priority: int = 0) -> str:
        """Queue a run started by ``trigger`` (the API's or a page's); raises NotFound, Invalid (the stored workflow
        no longer validates), RefusedPayload or OversizedPayload (the input), or Unavailable (flowmon is stopping, or
        too many executions are queued already)."""
        with translated(PAYLOAD_REFUSALS), translated({RuntimeError: Unavailable}):
            with translated({WorkflowError: Invalid}, prefix='stored workflow is no longer valid: '):
                return await self.submit(workflow_id, input, priority=priority, trigger=trigger)

    async def cancel(self, execution_id: str) -> None:
        """Stop a queued or running execution, here or (processes sharing the database) in the process that runs
        it; raises NotFound, or Conflict when it has ended or was imported."""
        if self._engine.cancel(execution_id):
            return
        # read first (it writes what this process has pending): an execution of this process that has just ended
        # still looks active in the database until the recorder's next commit
        state = await self._history.state(execution_id)
        if state.status not in TERMINAL_EXECUTION_STATUSES and self._remote_cancel is not None:
            if await self._remote_cancel(execution_id):
                return
        await self._refuse_imported(execution_id)
        raise Conflict(f'execution {execution_id!r} is already {state.status}')

    async def rerun(self, execution_id: str, *, from_node: str | None = None, input: Any = None) -> str:
        """Run a finished execution again (from ``from_node`` on, reusing the outputs of the nodes before it),
        with the workflow's current definition, or the one it ran with if the workflow was deleted since.

        Raises NotFound, Conflict (still running, or imported), Invalid (an unknown ``from_node``, a definition
        that no longer validates) or a payload refusal for ``input``."""
        previous = await self._history.state(execution_id)
        await self._refuse_imported(execution_id)
        if not previous.is_terminal:
            raise Conflict(f'execution {execution_id!r} is still {previous.status}; cancel it or wait')
        with (
            translated(PAYLOAD_REFUSALS),
            translated({RerunError: Invalid, WorkflowError: Invalid, QueueFull: Unavailable}),
        ):
            workflow = await self._catalog.get(previous.workflow_id or '')
            if workflow is None:
                snapshot = await self._history.snapshot(execution_id)
                if snapshot is None:
                    raise NotFound(f'workflow {previous.workflow_id!r} of execution {execution_id!r} no longer exists')
                workflow = self._catalog.validate(snapshot)
            started = self._engine.rerun(
                previous, workflow, from_node=from_node, input=input, trigger=rerun_trigger(execution_id)
            )
        return await self._shared(started)

    async def _shared(self, execution_id: str) -> str:
        """``execution_id``, once every process can read it (at once when this process is the only one: its live
        view answers for its runs)."""
        if self._written is not None:
            try:
                await self._written()
            except Exception:  # the run is queued all the same: the recorder keeps its events and tries again
                log.warning('execution %s: not written yet (the recorder tries again)', execution_id, exc_info=True)
        return execution_id

    async def delete(self, execution_id: str) -> PruneCounts:
        """Delete a finished execution with its events and node runs (the workflow snapshot it ran goes with the
        next pruning, once nothing refers to it). Raises NotFound, or Conflict while it is queued or running.

        From the first step on, nothing shows it any more: the live projection and the replay cache drop it, and
        its history can no longer be opened; the call returns once every row is gone."""
        refused, deleted = await self.delete_many([execution_id])
        if execution_id in refused:
            raise refused[execution_id]
        return deleted

    async def delete_many(self, execution_ids: Sequence[str]) -> tuple[dict[str, AppError], PruneCounts]:
        """Delete the finished ones of ``execution_ids`` as :meth:`delete` deletes one, in shared paced steps (500
        small executions take well under a second, not one step and pause each). Returns the error :meth:`delete`
        would have raised for each of the others (NotFound, Conflict), by id, and what was deleted."""
        finished, refused = await self.deletable(execution_ids)
        missing, counts = await self.delete_finished(finished)
        return {**refused, **missing}, counts

    async def deletable(self, execution_ids: Sequence[str]) -> tuple[list[str], dict[str, AppError]]:
        """Which of ``execution_ids`` :meth:`delete` would delete now (the finished ones, once each, in the order
        given), and the error it would raise for each of the others (NotFound, Conflict), by id."""
        records = await self._history.records(execution_ids)  # (the read writes pending events first)
        refused: dict[str, AppError] = {}
        finished: list[str] = []
        for execution_id in dict.fromkeys(execution_ids):
            record = records.get(execution_id)
            if record is None:
                refused[execution_id] = NotFound(f'execution {execution_id!r} not found')
            elif self._engine.is_active(execution_id) or record.status not in TERMINAL_EXECUTION_STATUSES:
                status = 'queued' if record.status == 'queued' else 'running'
                refused[execution_id] = Conflict(
                    f'execution {execution_id!r} is still {status}; cancel it or wait until it ends'
                )
            else:
                finished.append(execution_id)
        return finished, refused

    async def delete_finished(self, finished: Sequence[str]) -> tuple[dict[str, AppError], PruneCounts]:
        """Delete executions :meth:`deletable` found finished, together; NotFound for each that went meanwhile
        (another request, or retention), and what was deleted."""
        if not finished:
            return {}, PruneCounts()
        await self._history.settle()
        deleted, counts = await self._pruner.delete_executions(finished, on_deleted=self._forget)
        gone = set(deleted)
        missing: dict[str, AppError] = {}
        for execution_id in finished:
            self._history.forget(execution_id)  # again: an open that began before the deletion may have cached it
            if execution_id not in gone:
                missing[execution_id] = NotFound(f'execution {execution_id!r} not found')
        return missing, counts

    def _forget(self, execution_ids: Sequence[str]) -> None:
        for execution_id in execution_ids:
            self._history.forget(execution_id)

    async def _refuse_imported(self, execution_id: str) -> None:
        if await self._history.is_imported(execution_id):
            raise Conflict(f'execution {execution_id!r} was imported: {READ_ONLY}')
