"""The publisher of one execution's events: :class:`Emitter` stamps each event with the next ``seq`` (1, 2, 3, ...
without gaps) and a timestamp, and puts it on the bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowmon.engine.core.events import EventType, new_event
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.clock import Clock, SystemClock, event_stamps

_utc_now = event_stamps()  # one for the process: timestamps order the events of every execution


class Emitter:
    """Stamps and publishes one execution's events with gap-free ``seq`` numbers."""

    def __init__(self, execution_id: str, bus: EventBus, clock: Clock) -> None:
        self.execution_id = execution_id
        self._publish = bus.publish  # bound once: emit runs for every event of every execution
        # the system clock's events take the process's strictly increasing stamps, called straight for every event
        self._now = _utc_now if type(clock) is SystemClock else clock.now
        self._seq = 0

    def emit(
        self,
        event_type: EventType,
        node_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        data_json: str | None = None,
    ) -> None:
        """Publish the next event; ``data_json``, when given, is ``data`` as compact JSON (see :class:`Event`)."""
        self._seq += 1
        self._publish(
            new_event(
                self.execution_id, self._seq, event_type, self._now(), node_id, {} if data is None else data, data_json
            )
        )
