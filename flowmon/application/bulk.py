"""Cancel, rerun or delete many executions at once: the ones named, or every one a filter matches.

Each execution goes through the same use case as a single one (:class:`~flowmon.application.executions.Executions`),
all of them together: cancel and rerun read their rows at once (rerun reads each workflow once), delete goes in the
pruner's shared paced steps. Each gets an outcome of its own: ``done``; ``skipped`` when the action does not apply
to it (the use case refused with a conflict: cancelling one that has ended, rerunning or cancelling an imported one,
deleting one that still runs); ``failed`` for any other refusal (an unknown id, a workflow that no longer exists,
flowmon stopping) or an unexpected error.

A request is bounded: at most :data:`MAX_BULK` ids, and a filter that matches more is refused whole (nothing is
done), so a request does a bounded amount of work and a click never touches more than was shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flowmon.engine.core.inputs import within
from flowmon.store.history import MAX_PAGE

from .errors import AppError, Conflict, Invalid
from .executions import UNEXPECTED, Executions
from .history import ExecutionFilters, ExecutionHistory

log = logging.getLogger(__name__)

MAX_BULK = MAX_PAGE  # executions one request may name, or its filter may match: one page of the history (500)
BulkFilter = ExecutionFilters  # which executions a filter names: the filters of GET /api/executions


class BulkAction(StrEnum):
    CANCEL = 'cancel'
    RERUN = 'rerun'
    DELETE = 'delete'


class Outcome(StrEnum):
    DONE = 'done'
    SKIPPED = 'skipped'
    FAILED = 'failed'


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemOutcome:
    """What became of one execution; ``new_id`` is the rerun's execution."""

    id: str
    outcome: Outcome
    detail: str | None = None
    new_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {'id': self.id, 'outcome': str(self.outcome)}
        if self.detail is not None:
            item['detail'] = self.detail
        if self.new_id is not None:
            item['new_id'] = self.new_id
        return item


@dataclass(frozen=True, kw_only=True, slots=True)
class BulkResult:
    action: BulkAction
    items: list[ItemOutcome] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    @property
    def new_ids(self) -> list[str]:
        return [item.new_id for item in self.items if item.new_id is not None]

    def to_json(self) -> dict[str, Any]:
        """``{"done", "skipped", "failed"}`` counts, ``"ids"`` (the new executions) for a rerun, and every item."""
        shown: dict[str, Any] = {outcome.value: self.count(outcome) for outcome in Outcome}
        if self.action is BulkAction.RERUN:
            shown['ids'] = self.new_ids
        shown['items'] = [item.to_json() for item in self.items]
        return shown

    def summary(self) -> str:
        """One line for a person: ``Rerun: 18 done, 2 skipped, 0 failed``."""
        counts = ', '.join(f'{self.count(outcome)} {outcome.value}' for outcome in Outcome)
        return f'{self.action.value.capitalize()}: {counts}'

    def reasons(self) -> list[str]:
        """Why executions were skipped or failed, each reason once with how many it held back, most first:
        ``6 skipped (was imported: imported executions are read-only)``, ``1 failed (not found)``."""
        held: dict[tuple[Outcome, str], int] = {}
        for item in self.items:
            if item.outcome is not Outcome.DONE:
                key = (item.outcome, _reason(item))
                held[key] = held.get(key, 0) + 1
        ordered = sorted(held.items(), key=lambda entry: (entry[0][0] is Outcome.SKIPPED, -entry[1]))
        return [f'{count} {outcome.value} ({reason})' for (outcome, reason), count in ordered]


class BulkActions:
    """What ``POST /api/executions/bulk`` and the list's bulk buttons do."""

    def __init__(self, *, executions: Executions, history: ExecutionHistory) -> None:
        self._executions = executions
        self._history = history

    async def apply(
        self, action: BulkAction | str, *, ids: Sequence[str] | None = None, where: BulkFilter | None = None
    ) -> BulkResult:
        """Apply ``action`` to the executions named by ``ids``, or to those ``where`` matches (exactly one of the
        two). Raises Invalid for an unknown action, too many ids, or a filter that is invalid or matches more than
        :data:`MAX_BULK` executions; everything else is an outcome per execution."""
        kind = _action(action)
        if (ids is None) == (where is None):
            raise Invalid('give either "ids" or "filter", not both and not neither', at='ids')
        chosen = list(dict.fromkeys(ids)) if ids is not None else await self.matching(where or BulkFilter())
        if len(chosen) > MAX_BULK:
            raise Invalid(f'{len(chosen)} ids: at most {MAX_BULK} executions per request', at='ids')
        if kind is BulkAction.DELETE:  # together, in shared paced steps: one at a time would take seconds
            return BulkResult(action=kind, items=await self._delete(chosen))
        if kind is BulkAction.RERUN:  # their rows read together: one at a time would take seconds
            return BulkResult(action=kind, items=await self._rerun(chosen))
        return BulkResult(action=kind, items=await self._cancel(chosen))

    async def matching(self, where: BulkFilter) -> list[str]:
        """The ids of the executions ``where`` matches, newest first; raises Invalid (saying how many it matches)
        when that is more than :data:`MAX_BULK`, or for an invalid filter."""
        try:
            records, total = await self._history.page(**where, limit=MAX_BULK)
        except Invalid as exc:  # about a value of the filter
            within(exc, 'filter')
            raise
        if total > MAX_BULK:
            raise Invalid(
                f'the filter matches {total} executions; at most {MAX_BULK} per request: narrow it', at='filter'
            )
        return [record.id for record in records]

    async def _delete(self, chosen: Sequence[str]) -> list[ItemOutcome]:
        executions = self._executions
        unexpected = AppError(UNEXPECTED)
        try:
            finished, refused = await executions.deletable(chosen)
        except Exception:
            log.exception('bulk delete of %d executions failed before deleting any', len(chosen))
            return [_refusal(execution_id, unexpected) for execution_id in chosen]
        try:
            missing, _ = await executions.delete_finished(finished)
            refused.update(missing)
        except Exception:  # those deleted before the failure stay deleted: say which they are
            log.exception('bulk delete of %d executions failed', len(finished))
            try:
                left = set(await self._history.records(finished))
            except Exception:  # the database is gone: nothing is known to have been deleted
                left = set(finished)
            refused.update((execution_id, unexpected) for execution_id in finished if execution_id in left)
        return [_refusal(execution_id, refused.get(execution_id)) for execution_id in chosen]

    async def _rerun(self, chosen: Sequence[str]) -> list[ItemOutcome]:
        try:
            started = await self._executions.rerun_many(chosen)
        except Exception:  # reading their rows failed: none was started
            log.exception('bulk rerun of %d executions failed before starting any', len(chosen))
            return [_refusal(execution_id, AppError(UNEXPECTED)) for execution_id in chosen]
        return [
            ItemOutcome(id=execution_id, outcome=Outcome.DONE, new_id=outcome)
            if isinstance(outcome, str)
            else _refusal(execution_id, outcome)
            for execution_id, outcome in started.items()
        ]

    async def _cancel(self, chosen: Sequence[str]) -> list[ItemOutcome]:
        refused = await self._executions.cancel_many(chosen)
        return [_refusal(execution_id, error) for execution_id, error in refused.items()]


def _reason(item: ItemOutcome) -> str:
    """An outcome's detail without the execution it names: what executions held back for the same reason share."""
    detail = item.detail or 'no reason given'
    prefix = f'execution {item.id!r} '
    return detail.removeprefix(prefix) if detail.startswith(prefix) else detail.replace(repr(item.id), 'it')


def _refusal(execution_id: str, error: AppError | None) -> ItemOutcome:
    """The outcome of an action the use case refused with ``error`` (done when None): a Conflict skips (the action
    does not apply to the execution as it is), anything else fails."""
    if error is None:
        return ItemOutcome(id=execution_id, outcome=Outcome.DONE)
    outcome = Outcome.SKIPPED if isinstance(error, Conflict) else Outcome.FAILED
    return ItemOutcome(id=execution_id, outcome=outcome, detail=str(error))


def _action(action: BulkAction | str) -> BulkAction:
    try:
        return BulkAction(action)
    except ValueError:
        raise Invalid(
            f'action must be one of {", ".join(a.value for a in BulkAction)}, got {action!r}', at='action'
        ) from None


__all__ = ['MAX_BULK', 'BulkAction', 'BulkActions', 'BulkFilter', 'BulkResult', 'ItemOutcome', 'Outcome']
