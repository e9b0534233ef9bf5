"""How numbers, durations and times read on screen (one place, so every page says them the same way)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nicegui import app

TIMEZONE_KEY = 'timezone'
DASH = '—'


def duration(ms: float | None) -> str:
    """``340 ms``, ``4.2 s``, ``3m 05s``, ``2h 04m``; a dash when unknown."""
    if ms is None:
        return DASH
    if ms < 1:
        return '<1 ms'
    if ms < 1000:
        return f'{ms:.0f} ms'
    seconds = ms / 1000
    if seconds < 60:
        return f'{seconds:.1f} s'
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f'{minutes}m {seconds:02d}s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours}h {minutes:02d}m'


def durations_apart(a_ms: float, b_ms: float) -> tuple[str, str]:
    """Two durations that are compared, as :func:`duration` words them, unless they would read alike ("<1 ms" of both,
    "1.2 s" of 1.24 s and 1.21 s): then in one unit with as many decimals as it takes to tell them apart (up to three;
    below 10 ms, two significant digits at least): ``('0.42 ms', '0.31 ms')``, ``('1.24 s', '1.21 s')``."""
    a, b = duration(a_ms), duration(b_ms)
    if a != b or max(a_ms, b_ms) >= 60_000:
        return a, b
    smallest = min(a_ms, b_ms)
    if smallest >= 1000:
        scale, unit, digits = 1000.0, 's', 1
    else:  # two significant digits of the smaller at least: '0 ms' would say it took no time
        scale, unit, digits = 1.0, 'ms', 0 if smallest >= 10 else 1 if smallest >= 1 else 2
    while digits < 3 and f'{a_ms / scale:.{digits}f}' == f'{b_ms / scale:.{digits}f}':
        digits += 1
    return f'{a_ms / scale:.{digits}f} {unit}', f'{b_ms / scale:.{digits}f} {unit}'


def count(value: int) -> str:
    return f'{value:,}'


def plural(value: int, noun: str, nouns: str | None = None) -> str:
    """``1 node``, ``2 nodes``, ``1 delivery``, ``3 deliveries`` (``nouns`` defaults to ``noun`` + s; a trailing y
    becomes ies)."""
    if value == 1:
        return f'1 {noun}'
    many = nouns or (noun[:-1] + 'ies' if noun.endswith('y') else noun + 's')
    return f'{count(value)} {many}'


def percent(value: float | None) -> str:
    return DASH if value is None else f'{value:.1f} %'


def rate(per_minute: float) -> str:
    return f'{per_minute:.1f}' if per_minute < 100 else f'{per_minute:,.0f}'


def short_id(execution_id: str) -> str:
    """The last 8 characters: execution ids start with their creation time, so the random tail tells them apart."""
    return execution_id[-8:]


def viewer_timezone() -> tzinfo:
    """The browser's time zone when it has told us (see :func:`remember_timezone`), else UTC."""
    try:
        name = app.storage.user.get(TIMEZONE_KEY)
    except (RuntimeError, AssertionError):
        return UTC
    if not isinstance(name, str) or not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def remember_timezone(name: object) -> None:
    if isinstance(name, str) and 0 < len(name) <= 64:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return
        app.storage.user[TIMEZONE_KEY] = name


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` in ``zone``, or in UTC when the zone would take it past the calendar's ends (an imported run dated
    9999-12-31 east of Greenwich, or 0001-01-01 west of it)."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC)


def timestamp(moment: datetime | None, *, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """``14:03:07`` today, ``Mar 02 14:03`` this year, ``2024-03-02 14:03`` before, in the viewer's zone (in UTC,
    said so, where the zone would take it past the calendar's ends)."""
    if moment is None:
        return DASH
    zone = tz or viewer_timezone()
    local = in_zone(moment, zone)
    today = (now or datetime.now(UTC)).astimezone(zone)
    if local.date() == today.date():
        return local.strftime('%H:%M:%S')
    if local.year == today.year:
        return local.strftime('%b %d %H:%M')
    shown = f'{local.date().isoformat()} {local:%H:%M}'  # (strftime writes year 1 as "1")
    return f'{shown} UTC' if local.tzinfo is UTC and zone is not UTC else shown


def full_timestamp(moment: datetime | None, *, tz: tzinfo | None = None) -> str:
    if moment is None:
        return DASH
    local = in_zone(moment, tz or viewer_timezone())
    return f'{local.date().isoformat()} {local:%H:%M:%S %Z}'
