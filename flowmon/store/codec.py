"""Conversions between engine values and database columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(',', ':'), default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def to_db_time(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLModel's ``UTCDateTime`` columns refuse naive values and store UTC portably)."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def from_db_time(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
