"""Conversions between engine values and database columns."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.payload import compact_encoder

try:  # orjson (a NiceGUI dependency) decodes 3-5x faster; replaying 100,000 events decodes them all
    import orjson
except ImportError:  # pragma: no cover - the stdlib decoder gives the same values
    orjson = None  # type: ignore[assignment]

# orjson turns integers beyond 64 bits into floats; text that might hold one goes to the stdlib decoder.
# (JSON numbers are ASCII digits; [0-9] scans faster than \d, which also matches other scripts' digits.)
_LONG_DIGIT_RUN = re.compile(r'[0-9]{19}')
_EVENT_TYPES = {str(event_type): event_type for event_type in EventType}
# A float in exponent notation as orjson writes it (dumps_plain); text that merely has 'e-' (one-two) is no float.
_EXPONENT = re.compile(r'[0-9]e[-+]')


# ``json.dumps(value, separators=(',', ':'), default=str)``, with the C encoder built once (see compact_encoder).
_DUMPS = compact_encoder(str)


def dumps(value: Any) -> str:
    """Compact JSON; values JSON cannot hold are written as ``str(value)``."""
    return _DUMPS(value)


def dumps_plain(value: Any) -> str:
    """:func:`dumps` of a JSON-compatible value (what an event's data is), several times faster: the recorder encodes
    the data of every event that does not come with its JSON.

    orjson encodes it, and wherever orjson's text could differ from :func:`dumps`'s the value goes to :func:`dumps`
    instead: anything but dicts with str keys, lists, tuples, str, int, float, bool and None (subclasses of those,
    dates, dataclasses, sets, integers beyond 64 bits: orjson refuses them here), text with a float (orjson spells
    some otherwise: ``1e-7`` for ``1e-07``, ``0.00001`` for ``1e-05``), with ``null`` (orjson's NaN and infinities)
    or with a character :func:`dumps` escapes and orjson does not (DEL, non-ASCII). The one value outside JSON's
    types orjson takes is an ``Enum`` member that is neither str nor int, written as its value (``str(member)`` by
    :func:`dumps`); the engine never puts one in an event (its payloads are JSON-checked).
    """
    if orjson is not None:
        try:
            encoded = orjson.dumps(value, default=_refuse, option=_PLAIN_ONLY)
        except TypeError:  # (orjson.JSONEncodeError is one)
            pass
        else:
            text = encoded.decode()  # (str's isascii is a flag, and its substring tests are quicker than bytes')
            if (
                text.isascii()
                and '\x7f' not in text
                and 'null' not in text
                and (('e-' not in text and 'e+' not in text) or _EXPONENT.search(text) is None)
                and '0.0000' not in text
            ):
                return text
    return _DUMPS(value)


def _refuse(value: Any) -> Any:
    raise TypeError(f'{type(value).__name__} is left to the stdlib encoder')


# Subclasses of str, int, dict and list, dates and dataclasses go to ``default`` (which refuses them) rather than
# being written orjson's way.
_PLAIN_ONLY = (
    0
    if orjson is None
    else orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def loads_fast(text: str) -> Any:
    """``json.loads(text)``, faster: the same values for everything :func:`dumps` writes."""
    if orjson is None or _LONG_DIGIT_RUN.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, Infinity, lone surrogates: valid for json.loads, not for orjson
        return json.loads(text)


def to_db_time(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLModel's ``UTCDateTime`` columns refuse naive values and store UTC portably)."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def from_db_time_fast(value: datetime | str) -> datetime:
    """:func:`from_db_time` for a non-null column, fast for SQLite's offset-less UTC text."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + '+00:00')  # one C call; .replace(tzinfo=) costs 6x more
        except ValueError:
            pass
    result = from_db_time(value)
    assert result is not None
    return result


def from_db_time(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def stored_event(
    execution_id: str,
    seq: int,
    type_: str,
    node_id: str | None,
    ts: datetime | str,
    data: str,
    *,
    keep_text: bool = False,
) -> Event:
    """The event of a row of ``events`` (its columns in this order), decoded on the fast paths replay needs.
    ``keep_text``: the event keeps its data's stored JSON text too (``Event.data_json``), for a reader that holds it
    live and counts its size (another process's run, read into the live projection); replay does not need it."""
    return Event(
        execution_id=execution_id,
        seq=seq,
        type=_EVENT_TYPES.get(type_) or EventType(type_),
        ts=from_db_time_fast(ts),
        node_id=node_id,
        data=loads_fast(data),
        data_json=data if keep_text else None,
    )
