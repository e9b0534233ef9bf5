"""Query parameter types shared by the API routes, bounded so that no value can reach a 500.

Integers beyond 64 bits overflow SQLite and the JSON encoder; a time zone offset near year 1 or 9999 overflows
the conversion to UTC. These types refuse both with a 422 that names the parameter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import AfterValidator

MAX_INT64 = 2**63 - 1


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (a value without a zone is taken as UTC); a clear error when it is out of range."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError('is outside the range of representable times once converted to UTC') from None


UtcTime = Annotated[datetime, AfterValidator(to_utc)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64, description='items to skip')]
Sequence = Annotated[int, Query(ge=0, le=MAX_INT64, description='return events after this sequence number')]


@dataclass(frozen=True, slots=True)
class Window:
    """What every list route takes: a creation-time window ``[since, until)`` and a page (``limit``, ``offset``)."""

    since: datetime | None
    until: datetime | None
    limit: int
    offset: int

    def query(self) -> dict[str, Any]:
        return asdict(self)


def _window(
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Window:
    return Window(since=since, until=until, limit=limit, offset=offset)


Listing = Annotated[Window, Depends(_window)]
