"""Frozen execution events: the single record of what happened in an execution.

Every event carries the execution id, a per-execution ``seq`` (1, 2, 3, ... with no gaps), a UTC
timestamp, its type and, where it applies, the node id. ``marshal``/``unmarshal`` round-trip an event
through plain JSON-compatible dicts unchanged, which is how the store keeps them and the API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .inputs import located
from .payload_values import MAX_INT32


class EventType(StrEnum):
    """The event types an execution can record, as the words users see in the event log."""

    EXECUTION_QUEUED = 'execution.queued'
    EXECUTION_STARTED = 'execution.started'
    NODE_STARTED = 'node.started'
    NODE_RETRYING = 'node.retrying'
    NODE_COMPLETED = 'node.completed'
    NODE_FAILED = 'node.failed'
    NODE_SKIPPED = 'node.skipped'
    NODE_CANCELLED = 'node.cancelled'
    DATA_FLOW = 'data.flow'
    EXECUTION_PROGRESS = 'execution.progress'
    EXECUTION_COMPLETED = 'execution.completed'
    EXECUTION_FAILED = 'execution.failed'
    EXECUTION_CANCELLED = 'execution.cancelled'
    EXECUTION_INTERRUPTED = 'execution.interrupted'


TERMINAL_EXECUTION_EVENTS = frozenset(
    {
        EventType.EXECUTION_COMPLETED,
        EventType.EXECUTION_FAILED,
        EventType.EXECUTION_CANCELLED,
        EventType.EXECUTION_INTERRUPTED,
    }
)

# An execution's priority (``execution.queued``'s ``priority``): higher runs first
MIN_PRIORITY, MAX_PRIORITY = -100, 100
MAX_SEQ = MAX_INT32  # an event's seq, at most (the stores keep it in a 32-bit column)


class EventFormatError(ValueError):
    """A marshalled event that cannot be turned back into an :class:`Event`."""


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class Event:
    """One immutable fact about an execution.

    ``data_json``, when the producer has it, is ``data`` as compact JSON (``separators=(',', ':')``, ASCII):
    the engine encodes a node's output once, to size it, and builds its events' JSON around that text, so
    whoever stores the event writes that text instead of encoding the payload again. It is a cache of
    ``data``, not part of the fact: equality, hashing and :meth:`marshal` ignore it. Events read back from the
    store carry it only where a reader asks for it (another process's events taken into the live projection keep
    the text they were stored as; replay's do not).
    """

    execution_id: str
    seq: int
    type: EventType
    ts: datetime
    node_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    # (init=False for dataclasses.replace: a copy with other data must not keep this text, so no copy keeps it)
    data_json: str | None = field(default=None, init=False, compare=False, repr=False)

    def __init__(
        self,
        *,
        execution_id: str,
        seq: int,
        type: EventType,
        ts: datetime,
        node_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        data_json: str | None = None,
    ) -> None:
        # The dataclass's generated __init__ of a frozen class sets each field through object.__setattr__
        # (2 µs an event; the engine makes five per node): the slots' own setters do the same in a third.
        _set_execution_id(self, execution_id)
        _set_seq(self, seq)
        _set_type(self, type)
        _set_ts(self, ts)
        _set_node_id(self, node_id)
        _set_data(self, {} if data is None else data)
        _set_data_json(self, data_json)

    def marshal(self) -> dict[str, Any]:
        """Plain JSON-compatible form (the API and export shape)."""
        return {
            'execution_id': self.execution_id,
            'seq': self.seq,
            'ts': self.ts.isoformat(),
            'type': str(self.type),
            'node_id': self.node_id,
            'data': dict(self.data),
        }

    @classmethod
    def unmarshal(cls, raw: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`marshal`; raises :class:`EventFormatError` naming the bad field, in its message and
        marked as its place (:func:`~flowmon.engine.core.inputs.location`: ``('seq',)``)."""
        try:
            event_type = EventType(raw['type'])
        except KeyError as exc:
            raise located(EventFormatError(f'event is missing the field {exc.args[0]!r}'), exc.args[0]) from None
        except ValueError:
            raise located(EventFormatError(f'unknown event type {raw.get("type")!r}'), 'type') from None
        try:
            seq = raw['seq']
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise located(EventFormatError(f'event seq must be a positive integer, got {seq!r}'), 'seq')
            ts = raw['ts']
            when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
            data = raw.get('data') or {}
            if not isinstance(data, Mapping):
                raise located(EventFormatError(f'event {seq} data must be an object'), 'data')
            node_id = raw.get('node_id')
            return cls(
                execution_id=str(raw['execution_id']),
                seq=seq,
                type=event_type,
                ts=when if when.tzinfo else when.replace(tzinfo=UTC),
                node_id=None if node_id is None else str(node_id),
                data=dict(data),
            )
        except KeyError as exc:
            raise located(EventFormatError(f'event is missing the field {exc.args[0]!r}'), exc.args[0]) from None
        except ValueError as exc:
            if isinstance(exc, EventFormatError):
                raise
            raise located(EventFormatError(f'event timestamp is not ISO 8601: {raw.get("ts")!r}'), 'ts') from None


# The slot setters of Event (what a frozen dataclass's __init__ reaches through object.__setattr__).
_set_execution_id = Event.__dict__['execution_id'].__set__
_set_seq = Event.__dict__['seq'].__set__
_set_type = Event.__dict__['type'].__set__
_set_ts = Event.__dict__['ts'].__set__
_set_node_id = Event.__dict__['node_id'].__set__
_set_data = Event.__dict__['data'].__set__
_set_data_json = Event.__dict__['data_json'].__set__


def new_event(
    execution_id: str,
    seq: int,
    type: EventType,
    ts: datetime,
    node_id: str | None,
    data: Mapping[str, Any],
    data_json: str | None,
) -> Event:
    """``Event(...)`` for the engine's emitter (every field given, positionally): a third cheaper again."""
    event = _new_object(Event)
    _set_execution_id(event, execution_id)
    _set_seq(event, seq)
    _set_type(event, type)
    _set_ts(event, ts)
    _set_node_id(event, node_id)
    _set_data(event, data)
    _set_data_json(event, data_json)
    return event


_new_object = object.__new__


def utcnow() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)
