"""Running workflows: start, cancel and rerun executions.

An imported execution is history from elsewhere and its definition came from a file: it is never run again
and never cancelled (:class:`~flowmon.application.errors.Conflict`), whether or not a workflow with its id
exists here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flowmon.engine.model import WorkflowError
from flowmon.engine.runtime.scheduler import Engine, RerunError
from flowmon.store.catalog import WorkflowCatalog

from .errors import PAYLOAD_REFUSALS, Conflict, Invalid, NotFound, Unavailable, translated
from .history import ExecutionHistory

READ_ONLY = 'imported executions are read-only'


class Executions:
    """What the Run, Cancel and Rerun buttons and routes do."""

    def __init__(
        self,
        *,
        catalog: WorkflowCatalog,
        engine: Engine,
        history: ExecutionHistory,
        remote_cancel: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """``remote_cancel``: ask another process sharing the database to cancel an execution it runs (False when
        no such execution is active)."""
        self._catalog = catalog
        self._engine = engine
        self._history = history
        self._remote_cancel = remote_cancel

    async def submit(
        self, workflow_id: str, input: Any = None, *, priority: int = 0, execution_id: str | None = None
    ) -> str:
        """Queue a run of ``workflow_id`` and return its id, raising the engine's own errors: NotFound,
        WorkflowError, PayloadError (over budget) or RuntimeError (stopping). Triggers and schedules use this
        and say what went wrong in their own terms (with ``execution_id``: the id they recorded beforehand);
        everyone else calls :meth:`start`."""
        workflow = await self._catalog.get(workflow_id)
        if workflow is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        return self._engine.submit(workflow, input, priority=priority, execution_id=execution_id)

    async def start(self, workflow_id: str, input: Any = None, *, priority: int = 0) -> str:
        """Queue a run; raises NotFound, Invalid (the stored workflow no longer validates), RefusedPayload or
        OversizedPayload (the input), or Unavailable (flowmon is stopping)."""
        with translated(PAYLOAD_REFUSALS), translated({RuntimeError: Unavailable}):
            with translated({WorkflowError: Invalid}, prefix='stored workflow is no longer valid: '):
                return await self.submit(workflow_id, input, priority=priority)

    async def cancel(self, execution_id: str) -> None:
        """Stop a queued or running execution, here or (processes sharing the database) in the process that runs
        it; raises NotFound, or Conflict when it has ended or was imported."""
        if self._engine.cancel(execution_id):
            return
        if self._remote_cancel is not None and await self._remote_cancel(execution_id):
            return
        state = await self._history.state(execution_id)
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
        with translated(PAYLOAD_REFUSALS), translated({RerunError: Invalid, WorkflowError: Invalid}):
            workflow = await self._catalog.get(previous.workflow_id or '')
            if workflow is None:
                snapshot = await self._history.snapshot(execution_id)
                if snapshot is None:
                    raise NotFound(f'workflow {previous.workflow_id!r} of execution {execution_id!r} no longer exists')
                workflow = self._catalog.validate(snapshot)
            return self._engine.rerun(previous, workflow, from_node=from_node, input=input)

    async def _refuse_imported(self, execution_id: str) -> None:
        if await self._history.is_imported(execution_id):
            raise Conflict(f'execution {execution_id!r} was imported: {READ_ONLY}')
