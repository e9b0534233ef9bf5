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
from flowmon.engine.model import Workflow, WorkflowError
from flowmon.engine.runtime.scheduler import Engine, QueueFull, RerunError
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.history import ExecutionRecord
from flowmon.store.retention import PruneCounts, Pruner

from .errors import PAYLOAD_REFUSALS, AppError, Conflict, Invalid, NotFound, Unavailable, translated
from .history import ExecutionHistory

READ_ONLY = 'imported executions are read-only'
UNEXPECTED = 'unexpected error (see the server log)'
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
        with translated(PAYLOAD_REFUSALS, at='input'), translated({RuntimeError: Unavailable}):
            with translated({WorkflowError: Invalid}, prefix='stored workflow is no longer valid: '):
                return await self.submit(workflow_id, input, priority=priority, trigger=trigger)

    async def cancel(self, execution_id: str) -> None:
        """Stop a queued or running execution, here or (processes sharing the database) in the process that runs
        it; raises NotFound, or Conflict when it has ended or was imported."""
        if not self._engine.cancel(execution_id):
            await self._cancel_stored(execution_id, (await self._history.records([execution_id])).get(execution_id))

    async def cancel_many(self, execution_ids: Sequence[str]) -> dict[str, AppError | None]:
        """Cancel each of ``execution_ids`` as :meth:`cancel` cancels one, in the order given, each once; the rows of
        those this process does not run are read together. Returns None (cancelled), or the error :meth:`cancel`
        would have raised, by id (an unexpected one is logged and said to be one)."""
        outcomes: dict[str, AppError | None] = dict.fromkeys(execution_ids)
        elsewhere = [execution_id for execution_id in outcomes if not self._engine.cancel(execution_id)]
        try:
            records = await self._history.records(elsewhere) if elsewhere else {}
        except Exception:  # those this process runs are cancelled all the same
            log.exception('cancel of %d executions failed reading them', len(elsewhere))
            return {**outcomes, **{execution_id: AppError(UNEXPECTED) for execution_id in elsewhere}}
        for execution_id in elsewhere:
            try:
                await self._cancel_stored(execution_id, records.get(execution_id))
            except AppError as exc:
                outcomes[execution_id] = exc
            except Exception:  # the others still get theirs
                log.exception('cancel of execution %s failed', execution_id)
                outcomes[execution_id] = AppError(UNEXPECTED)
        return outcomes

    async def _cancel_stored(self, execution_id: str, record: ExecutionRecord | None) -> None:
        """Cancel ``execution_id``, which this process does not run, from its row as read after this process's
        pending events were written (an execution of this process that has just ended still looks active in the
        database until the recorder's next commit): in the process that runs it, or raise NotFound or Conflict."""
        if record is None:
            raise NotFound(f'execution {execution_id!r} not found')
        if record.status not in TERMINAL_EXECUTION_STATUSES and self._remote_cancel is not None:
            if await self._remote_cancel(execution_id):
                return
        if record.imported_from is not None:
            raise _read_only(execution_id)
        raise Conflict(f'execution {execution_id!r} is already {record.status}')

    async def rerun(self, execution_id: str, *, from_node: str | None = None, input: Any = None) -> str:
        """Run a finished execution again (from ``from_node`` on, reusing the outputs of the nodes before it),
        with the workflow's current definition, or the one it ran with if the workflow was deleted since.

        Raises NotFound, Conflict (still running, or imported), Invalid (an unknown ``from_node``, a definition
        that no longer validates) or a payload refusal for ``input``."""
        previous = await self._history.state(execution_id)
        if not previous.is_terminal:
            raise _still_running(execution_id, previous.status)
        await self._refuse_gone_or_imported(execution_id)
        with (
            translated(PAYLOAD_REFUSALS, at='input'),
            translated({RerunError: Invalid, WorkflowError: Invalid, QueueFull: Unavailable}),
        ):
            workflow = await self._catalog.get(previous.workflow_id or '')
            if workflow is None:
                workflow = await self._ran_with(execution_id, previous.workflow_id)
            started = self._engine.rerun(
                previous, workflow, from_node=from_node, input=input, trigger=rerun_trigger(execution_id)
            )
        return await self._shared(started)

    async def rerun_many(self, execution_ids: Sequence[str]) -> dict[str, str | AppError]:
        """Rerun each of ``execution_ids`` as :meth:`rerun` reruns one without ``from_node`` or ``input`` (every node
        again, with the input it ran with), in the order given, each once. Their rows and inputs are read together
        and each workflow once, instead of folding every execution's events (500 reruns took about 3 s one at a
        time). Returns the new execution's id, or the error :meth:`rerun` would have raised, by id."""
        chosen = list(dict.fromkeys(execution_ids))
        records = await self._history.records(chosen)
        inputs = await self._history.inputs([execution_id for execution_id in chosen if execution_id in records])
        workflows: dict[str, Workflow | AppError | None] = {}
        outcomes: dict[str, str | AppError] = {}
        for execution_id in chosen:
            try:
                record = records.get(execution_id)
                if record is None:
                    raise NotFound(f'execution {execution_id!r} not found')
                if record.imported_from is not None:
                    raise _read_only(execution_id)
                if record.status not in TERMINAL_EXECUTION_STATUSES:
                    raise _still_running(execution_id, record.status)
                if record.workflow_id not in workflows:
                    workflows[record.workflow_id] = await self._current(record.workflow_id)
                workflow = workflows[record.workflow_id]
                if isinstance(workflow, AppError):  # (a refusal of its own for each: one raised twice keeps growing)
                    raise type(workflow)(str(workflow))
                with translated(PAYLOAD_REFUSALS), translated({WorkflowError: Invalid, QueueFull: Unavailable}):
                    if workflow is None:
                        workflow = await self._ran_with(execution_id, record.workflow_id)
                    # what Engine.rerun submits without from_node: nothing reused, the input it ran with
                    trigger = rerun_trigger(execution_id)
                    started = self._engine.submit(
                        workflow, inputs.get(execution_id), retry_of=execution_id, trigger=trigger
                    )
            except AppError as exc:
                outcomes[execution_id] = exc
            except Exception:  # the others still get theirs: those started before it have started
                log.exception('rerun of execution %s failed', execution_id)
                outcomes[execution_id] = AppError(UNEXPECTED)
            else:
                outcomes[execution_id] = started
        if any(isinstance(outcome, str) for outcome in outcomes.values()):
            await self._written_everywhere()
        return outcomes

    async def _current(self, workflow_id: str) -> Workflow | AppError | None:
        """The workflow as stored now (None once deleted), or the Invalid a rerun of it raises (it no longer
        validates)."""
        try:
            with translated({WorkflowError: Invalid}):
                return await self._catalog.get(workflow_id)
        except AppError as exc:
            return exc

    async def _ran_with(self, execution_id: str, workflow_id: str | None) -> Workflow:
        """The definition ``execution_id`` ran with, for a rerun once its workflow is deleted; raises NotFound when
        it recorded none."""
        snapshot = await self._history.snapshot(execution_id)
        if snapshot is None:
            raise NotFound(f'workflow {workflow_id!r} of execution {execution_id!r} no longer exists')
        return self._catalog.validate(snapshot)

    async def _shared(self, execution_id: str) -> str:
        """``execution_id``, once every process can read it (at once when this process is the only one: its live
        view answers for its runs)."""
        await self._written_everywhere()
        return execution_id

    async def _written_everywhere(self) -> None:
        """Wait until every process can read what this one has started so far (nothing to wait for when it is the
        only process)."""
        if self._written is not None:
            try:
                await self._written()
            except Exception:  # the runs are queued all the same: the recorder keeps their events and tries again
                log.warning('executions started: not written yet (the recorder tries again)', exc_info=True)

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

    async def _refuse_gone_or_imported(self, execution_id: str) -> None:
        """A rerun's check of the stored row: NotFound once the execution is deleted (the copy this process holds of
        an ended one outlives another process's deletion until its news comes), read-only when imported."""
        record = await self._history.record(execution_id)
        if record is None:
            raise NotFound(f'execution {execution_id!r} not found')
        if record.imported_from is not None:
            raise _read_only(execution_id)


def _read_only(execution_id: str) -> Conflict:
    return Conflict(f'execution {execution_id!r} was imported: {READ_ONLY}')


def _still_running(execution_id: str, status: str) -> Conflict:
    """What a rerun of an execution that has not ended answers."""
    return Conflict(f'execution {execution_id!r} is still {status}; cancel it or wait')
