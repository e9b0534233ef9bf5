"""Query parameter types shared by the API routes, bounded so that no value can reach a 500.

Integers beyond 64 bits overflow SQLite and the JSON encoder; a time zone offset near year 1 or 9999 overflows
the conversion to UTC. These types refuse both with a 422 that names the parameter. ``since`` and ``until`` take
the forms :mod:`flowmon.application.time_bounds` parses for every list (relative windows, days, date-times).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from flowmon.application.errors import Invalid
from flowmon.application.rotation import MAX_GRACE_SECONDS
from flowmon.application.time_bounds import ACCEPTED, Bound, time_bound
from flowmon.engine.core.events import utcnow

MAX_INT64 = 2**63 - 1


def _time_bound(bound: Bound) -> PlainValidator:
    def parse(value: object) -> datetime | None:
        if value is None:
            return None
        try:
            return time_bound(value, utcnow(), bound=bound, label='')  # resolved as the request is handled
        except Invalid as exc:
            raise PydanticCustomError('time_bound', str(exc)) from None

    return PlainValidator(parse, json_schema_input_type=str)


Since = Annotated[datetime, _time_bound('since')]
"""``since`` of every list and filter: a relative window, a day or a date-time (see
:mod:`flowmon.application.time_bounds`); the loc of a refusal names the parameter."""
Until = Annotated[datetime, _time_bound('until')]
"""``until`` of every list and filter: a day (through its end) or a date-time."""
Offset = Annotated[int, Query(ge=0, le=MAX_INT64, description='items to skip')]
Sequence = Annotated[int, Query(ge=0, le=MAX_INT64, description='return events after this sequence number')]
GraceSeconds = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_GRACE_SECONDS,
        description='how long the old secret keeps working alongside the new one, in seconds: 0 stops it at once '
        f'(after a leak), at most {MAX_GRACE_SECONDS} (24 h, the default)',
    ),
]
"""``grace_seconds`` of a secret rotation (trigger and endpoint secrets alike)."""


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
    since: Annotated[Since | None, Query(description=f'created at or after it: {ACCEPTED["since"]}')] = None,
    until: Annotated[Until | None, Query(description=f'created before it: {ACCEPTED["until"]}')] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Window:
    return Window(since=since, until=until, limit=limit, offset=offset)


Listing = Annotated[Window, Depends(_window)]
