"""Which execution, workflow or webhook delivery the running code works for, so log lines can say so.

One context variable, bound where an execution runs (the engine's execution task) and where a delivery attempt
runs. asyncio copies the context into every task started from there, so a library's log line deep inside (httpx's
request line, a node's own logging) carries the ids too. The log formatter (:mod:`flowmon.infra.logs`) reads it.
Code that logs about an execution or delivery from outside such a task passes :func:`about` as ``extra=``.

This module imports nothing of flowmon's, so the engine may use it without depending on how logs are written.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

FIELDS = ('execution_id', 'workflow_id', 'delivery_id')


@dataclass(frozen=True, slots=True)
class LogContext:
    execution_id: str | None = None
    workflow_id: str | None = None
    delivery_id: str | None = None

    def fields(self) -> dict[str, str]:
        """The ids that are set, by field name."""
        return {name: value for name in FIELDS if (value := getattr(self, name)) is not None}


NO_CONTEXT = LogContext()
_current: ContextVar[LogContext] = ContextVar('flowmon_log_context', default=NO_CONTEXT)


def bind(
    *, execution_id: str | None = None, workflow_id: str | None = None, delivery_id: str | None = None
) -> Token[LogContext]:
    """Make these ids the current task's context (replacing all three; the tasks it starts inherit them).

    Bind at the top of a task that does the work; the returned token undoes it (:func:`unbind`) where the
    same task goes on with other work.
    """
    return _current.set(LogContext(execution_id, workflow_id, delivery_id))


def unbind(token: Token[LogContext]) -> None:
    _current.reset(token)


def current() -> LogContext:
    return _current.get()


def about(
    *, execution_id: str | None = None, workflow_id: str | None = None, delivery_id: str | None = None
) -> dict[str, str]:
    """``extra=`` for a log line about these ids (the ones given as None are left out)."""
    return LogContext(execution_id, workflow_id, delivery_id).fields()
