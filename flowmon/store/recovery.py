"""Start-up recovery: executions a crash left ``queued`` or ``running`` end ``interrupted``."""

from __future__ import annotations

import logging
from datetime import datetime

from flowmon.engine.core.events import Event, EventType

from .history import History
from .recorder import EventRecorder

log = logging.getLogger(__name__)

REASON = 'flowmon stopped while this execution was active'


async def interrupt_unfinished(history: History, recorder: EventRecorder, now: datetime) -> list[str]:
    """Close every unfinished execution with ``node.cancelled`` and ``execution.interrupted`` events."""
    interrupted = []
    for execution_id in await history.unfinished_execution_ids():
        state = await history.load_state(execution_id)
        if state is None:
            log.warning('execution %s has no events; left as it is', execution_id)
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
                        data={'reason': REASON},
                    )
                )
        closing.append(
            Event(
                execution_id=execution_id,
                seq=seq + 1,
                type=EventType.EXECUTION_INTERRUPTED,
                ts=now,
                data={'reason': REASON},
            )
        )
        await recorder.write(closing, seed={execution_id: state})
        interrupted.append(execution_id)
    if interrupted:
        log.warning('marked %d unfinished execution(s) interrupted: %s', len(interrupted), ', '.join(interrupted))
    return interrupted
