"""The ``since`` and ``until`` of execution lists, as every route, saved view and page takes them.

One parser for the list's URL, saved views, ``GET /api/executions``, ``POST /api/executions/bulk`` and the delivery
lists, resolved when the request is handled:

- ``since``: a relative window (``15m``, ``1h``, ``24h``, ``7d``, ``30d``: up to 4 digits then ``m``, ``h`` or
  ``d``, or ``today``: since midnight UTC), a day ``YYYY-MM-DD`` (from its start) or an ISO 8601 date-time;
- ``until``: a day ``YYYY-MM-DD`` (through its end) or an ISO 8601 date-time (before it).

A date-time without a zone is UTC; Unix seconds, which the API took before, are still taken.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from flowmon.store.metrics import utc_midnight

from .errors import Invalid

Bound = Literal['since', 'until']

# Relative windows, in the order the filter bar offers them (any other count of minutes, hours or days is taken too).
RELATIVE_WINDOWS: dict[str, tuple[str, timedelta | None]] = {
    '15m': ('Last 15 minutes', timedelta(minutes=15)),
    '1h': ('Last hour', timedelta(hours=1)),
    'today': ('Today (UTC)', None),
    '24h': ('Last 24 hours', timedelta(hours=24)),
    '7d': ('Last 7 days', timedelta(days=7)),
    '30d': ('Last 30 days', timedelta(days=30)),
}
_RELATIVE = re.compile(r'^(\d{1,4})([mhd])$')
_UNITS = {'m': 'minutes', 'h': 'hours', 'd': 'days'}
_DAY = re.compile(r'^\d{4}-\d{2}-\d{2}$')
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)

ACCEPTED: dict[Bound, str] = {
    'since': (
        'a relative window (15m, 1h, 24h, 7d, 30d: a number then m, h or d; or today), '
        'a day YYYY-MM-DD or an ISO 8601 date-time such as 2024-03-02T14:00:00Z'
    ),
    'until': 'a day YYYY-MM-DD or an ISO 8601 date-time such as 2024-03-02T14:00:00Z',
}


def is_relative(text: str) -> bool:
    """Whether ``text`` is a relative window (``today``, ``15m``, ``7d``, ...)."""
    return text == 'today' or _RELATIVE.fullmatch(text) is not None


def parse_day(text: str) -> date | None:
    """``text`` as a calendar day ``YYYY-MM-DD``, or None."""
    if not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def time_bound(value: object, now: datetime, *, bound: Bound, label: str | None = None) -> datetime | None:
    """``value`` as a UTC time, relative forms resolved at ``now``; None for a day ``until`` that has no end (the
    calendar's last). Raises Invalid naming ``label`` (default: ``bound``; ``''`` when the caller names it) and
    the accepted forms."""
    name = bound if label is None else label
    if isinstance(value, str):
        text = value.strip()
        if bound == 'since' and is_relative(text):
            return _relative(text, now)
        day = parse_day(text)
        if day is not None:
            return _day_bound(day, bound)
    else:
        text = repr(value)
    # (a relative form where none is taken, until=7d, is not read as some other form)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or is_relative(text):
        raise Invalid(_refusal(name, bound, text), at=bound)
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError:
        raise Invalid(_refusal(name, bound, text), at=bound) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise Invalid(
            f'{name} is outside the range of representable times once converted to UTC'.lstrip(), at=bound
        ) from None


def _relative(text: str, now: datetime) -> datetime:
    if text == 'today':
        return utc_midnight(now)
    match = _RELATIVE.fullmatch(text)
    assert match is not None
    return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _day_bound(day: date, bound: Bound) -> datetime | None:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if bound == 'since':
        return start
    return start + timedelta(days=1) if day < date.max else None  # (until the calendar's last day is no bound)


def _refusal(name: str, bound: Bound, text: str) -> str:
    return f'{name} must be {ACCEPTED[bound]}; got {text[:40]!r}'.lstrip()


def describe_relative(text: str) -> str:
    """A relative window as the list says it: ``Last 15 minutes``, ``Today (UTC)``, ``Last 5m``."""
    known = RELATIVE_WINDOWS.get(text)
    return known[0] if known else f'Last {text}'


__all__ = ['ACCEPTED', 'RELATIVE_WINDOWS', 'Bound', 'describe_relative', 'is_relative', 'parse_day', 'time_bound']
