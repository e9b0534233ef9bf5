"""Conversions between engine values and database columns."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

try:  # orjson (a NiceGUI dependency) decodes 3-5x faster; replaying 100,000 events decodes them all
    import orjson
except ImportError:  # pragma: no cover - the stdlib decoder gives the same values
    orjson = None  # type: ignore[assignment]

# orjson turns integers beyond 64 bits into floats; text that might hold one goes to the stdlib decoder.
# (JSON numbers are ASCII digits; [0-9] scans faster than \d, which also matches other scripts' digits.)
_LONG_DIGIT_RUN = re.compile(r'[0-9]{19}')


# What ``json.dumps(value, separators=(',', ':'), default=str)`` builds on every call, built once: the recorder
# encodes every event's data, and constructing the encoder cost as much as encoding a small payload.
_ENCODER = json.JSONEncoder(separators=(',', ':'), default=str)
# ``JSONEncoder.encode`` still builds the C scanner per call; this one is built once (the same arguments, so the
# same text). Its circular-reference markers are shared, so one caller at a time uses it: the lock is only
# tried, and a caller finding it taken (another thread) uses ``_ENCODER`` instead.
_MARKERS: dict[int, Any] = {}
_C_ENCODE = (
    c_make_encoder(_MARKERS, str, encode_basestring_ascii, None, ':', ',', False, False, True)
    if c_make_encoder is not None
    else None
)
_C_ENCODE_LOCK = threading.Lock()


def dumps(value: Any) -> str:
    """Compact JSON; values JSON cannot hold are written as ``str(value)``."""
    if _C_ENCODE is None or not _C_ENCODE_LOCK.acquire(blocking=False):
        return _ENCODER.encode(value)
    try:
        return ''.join(_C_ENCODE(value, 0))
    except BaseException:
        _MARKERS.clear()  # an encode that failed midway leaves its containers marked
        raise
    finally:
        _C_ENCODE_LOCK.release()


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
