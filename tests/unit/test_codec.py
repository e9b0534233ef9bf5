"""The store's JSON and time codecs: the fast paths give exactly what the plain ones give."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from flowmon.store.codec import dumps, from_db_time, from_db_time_fast, loads_fast


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
