"""Recovery: executions a crash left ``queued`` or ``running`` end ``interrupted``: at start-up, or (processes sharing a
database) when another process takes over those of a process that died."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from flowmon.engine.core.events import Event, EventType

from .history import History
from .recorder import EventRecorder

log = logging.getLogger(__name__)

REASON = 'flowmon stopped while this execution was active'


async def interrupt_unfinished(
    history: History, recorder: EventRecorder, now: datetime, *, closed: Callable[[str], None] | None = None
) -> list[str]:
    """Close every unfinished execution with ``node.cancelled`` and ``execution.interrupted`` events (start-up of the
    only process on the database); ``closed`` is called with the workflow id of each one closed."""
    unfinished = await history.unfinished_execution_ids()
    interrupted = await interrupt_executions(history, recorder, unfinished, now, closed=closed)
    if interrupted:
        log.warning('marked %d unfinished execution(s) interrupted: %s', len(interrupted), ', '.join(interrupted))
    return interrupted


async def interrupt_executions(
    history: History,
    recorder: EventRecorder,
    execution_ids: Iterable[str],
    now: datetime,
    *,
    reason: str = REASON,
    closed: Callable[[str], None] | None = None,
) -> list[str]:
    """Close the given executions as :func:`interrupt_unfinished` does; returns those it closed, and calls ``closed``
    with the workflow id of each (the metrics count them: their events are written, not published on the bus).

    One that has ended meanwhile is left alone, and so is one that another process closed first (processes sharing
    a database may both take up a dead one's executions: the events' keys let only one of them write).
    """
    interrupted = []
    for execution_id in execution_ids:
        state = await history.load_state(execution_id)
        if state is None:
            log.warning('execution %s has no events; left as it is', execution_id)
            continue
        if state.is_terminal:
            continue
        seq = state.last_seq
        closing: list[Event] = []
        for node in state.nodes.values():
            if node.status in ('running', 'retrying') or (node.status == 'pending' and state.status == 'running'):
                seq += 1
                closing.append(
                    Event(
                        execution_id=execution_id,
                        seq=seq,
                        type=EventType.NODE_CANCELLED,
                        ts=now,
                        node_id=node.id,
                        data={'reason': reason},
                    )
                )
        closing.append(
            Event(
                execution_id=execution_id,
                seq=seq + 1,
                type=EventType.EXECUTION_INTERRUPTED,
                ts=now,
                data={'reason': reason},
            )
        )
        try:
            await recorder.write(closing, seed={execution_id: state})
        except IntegrityError:
            log.info('execution %s was closed by another process first', execution_id)
            continue
        interrupted.append(execution_id)
        if closed is not None:
            closed(state.workflow_id or '')
    return interrupted
