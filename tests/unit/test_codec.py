"""The store's JSON and time codecs: the fast paths give exactly what the plain ones give."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict, namedtuple
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowmon.store import dialect as dialect_module
from flowmon.store.codec import dumps, dumps_plain, from_db_time, from_db_time_fast, loads_fast
from flowmon.store.dialect import sqlite_time

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_dumps_plain_writes_what_dumps_writes(value: Any) -> None:
    assert dumps_plain(value) == dumps(value)


@given(st.floats())
def test_dumps_plain_writes_floats_as_dumps_does(value: float) -> None:
    assert dumps_plain([value, {'x': value}]) == dumps([value, {'x': value}])


class _Color(enum.IntEnum):
    RED = 1


class _Word(enum.StrEnum):
    HELLO = 'hello'


class _Text(str):
    pass


@dataclass
class _Point:
    x: int


_Pair = namedtuple('_Pair', 'a b')


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    'value',
    [
        {'when': datetime(2025, 6, 1, 9, 0, 0, 250, tzinfo=UTC), 'day': date(2025, 6, 1)},
        {'point': _Point(1), 'set': {1}, 'bytes': b'x', 'uuid': UUID(int=7)},
        {'subclasses': [_Text('t'), _Color.RED, _Word.HELLO, OrderedDict(a=1), _Pair(1, 2), (1, 2)]},
        {'floats': [1e-7, 1e-5, 0.00001234, 1e16, 1.5e300, -0.0, 0.1, math.nan, math.inf, -math.inf]},
        {'escapes': '\x00\x1f\x7f\u2028"\\/\b\f\n\r\t', 'non-ascii': 'naïve ✓', 'surrogate': '\ud800'},
        {'ints': [2**63, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1], 'null': None, 'true': True},
        {1: 'int key', 2.5: 'float key', None: 'null key', False: 'bool key'},
        {'deep': _nested(300)},  # beyond orjson's depth limit
        {'1e-5 in text': 'one-two', 'e+': 'e+', 'zeros': '0.00001'},
    ],
)
def test_dumps_plain_leaves_to_dumps_what_orjson_would_write_otherwise(value: Any) -> None:
    assert dumps_plain(value) == dumps(value)


def test_dumps_plain_raises_what_dumps_raises() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        dumps_plain(cycle)
    with pytest.raises(TypeError):
        dumps_plain({_Point(1): 1})


@pytest.mark.parametrize(
    'value',
    [
        {'a': 1, 'b': [1.5, None, True, 'x']},
        {'big': 123456789012345678901234567890, 'neg': -98765432109876543210},
        {'edge': 2**63, 'u64': 2**64 - 1, 'past': 2**64},
        {'digits in a string': '12345678901234567890'},
        {'text': 'naïve ✓ \u2028', 'nested': {'deep': [[{'x': -0.0}]]}},
        [],
        'just a string',
    ],
)
def test_loads_fast_returns_what_json_loads_returns(value: object) -> None:
    text = dumps(value)
    assert loads_fast(text) == json.loads(text)
    assert type(loads_fast(text)) is type(json.loads(text))
    if isinstance(value, dict) and 'big' in value:
        assert loads_fast(text)['big'] == 123456789012345678901234567890  # not a float


def test_loads_fast_accepts_what_only_the_stdlib_decoder_reads() -> None:
    decoded = loads_fast(dumps({'nan': math.nan, 'inf': math.inf, 'surrogate': '\ud800'}))
    assert math.isnan(decoded['nan']) and decoded['inf'] == math.inf and decoded['surrogate'] == '\ud800'
    with pytest.raises(ValueError):
        loads_fast('{"a": ')


def test_from_db_time_fast_matches_from_db_time() -> None:
    for text in ('2025-06-01 08:00:00.005000', '2025-06-01 08:00:00', '2025-06-01T08:00:00+02:00'):
        assert from_db_time_fast(text) == from_db_time(text)
        assert from_db_time_fast(text).tzinfo is not None
    aware = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    naive = datetime(2025, 1, 1, 12)
    assert from_db_time_fast(aware) == aware
    assert from_db_time_fast(naive) == naive.replace(tzinfo=UTC)


_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | st.just(UTC) | st.timezones()
)


@given(st.lists(st.tuples(_TIMES, st.integers(min_value=0, max_value=2_000_000)), min_size=1, max_size=8))
def test_sqlite_time_writes_the_utc_text_of_every_time_in_any_order(times: list[tuple[datetime, int]]) -> None:
    """Times in the same second one after another (the fast path), in other seconds and zones, naive (UTC)."""
    for value, later in times:
        for moment in (value, value + timedelta(microseconds=later)):
            utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            assert sqlite_time(moment) == utc.isoformat(' ', 'microseconds')[:26]


def test_sqlite_time_at_the_end_of_time() -> None:
    last = datetime.max.replace(tzinfo=UTC)
    assert sqlite_time(last) == '9999-12-31 23:59:59.999999'
    assert sqlite_time(last - timedelta(microseconds=1)) == '9999-12-31 23:59:59.999998'


def test_sqlite_time_in_the_second_of_the_last_time_made_looks_nothing_up() -> None:
    first = datetime(2025, 6, 1, 9, 0, 0, 250, tzinfo=UTC)
    assert sqlite_time(first) == '2025-06-01 09:00:00.000250'
    dialect_module._SECONDS.clear()
    assert sqlite_time(first + timedelta(microseconds=999_000)) == '2025-06-01 09:00:00.999250'
    assert not dialect_module._SECONDS  # the second's text came from the last time made
    assert sqlite_time(first + timedelta(seconds=1)) == '2025-06-01 09:00:01.000250'
    assert sqlite_time(first - timedelta(microseconds=251)) == '2025-06-01 08:59:59.999999'
