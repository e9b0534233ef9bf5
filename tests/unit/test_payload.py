"""The payload budget: depth of JSON text before parsing, measuring values (shared structure, cycles, 64-bit
integers), exact sizes against ``FLOWMON_MAX_PAYLOAD_BYTES`` and the messages that name the limit."""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from typing import Any

import pytest

from flowmon.engine.core.payload import (
    MAX_NESTING,
    DuplicateKey,
    PayloadBudget,
    encode_compact,
    float_reader,
    json_text_depth,
    loads_unique,
    read_float,
)
from flowmon.engine.core.payload_values import (
    LONE_SURROGATE,
    NUL_CHARACTER,
    PayloadInvalid,
    PayloadMeter,
    PayloadTooDeep,
    PayloadTooLarge,
    bounded_text,
    human_size,
    nesting_depth,
    path_text,
    unstorable_at,
)


def nested(levels: int, leaf: Any = 'leaf') -> Any:
    value = leaf
    for index in range(levels):
        value = [value] if index % 2 else {'k': value}
    return value


@pytest.mark.parametrize(
    ('text', 'depth'),
    [
        ('1', 0),
        ('"[[[{{{"', 0),
        ('[]', 1),
        ('{"a": [1, {"b": []}], "c": "]]]"}', 4),
        (r'["\"[[[", "\\", [[]]]', 3),
        (r'{"a": "\\\"[[[[\\"}', 1),
        ('[' * 100_000, 100_000),
    ],
)
def test_json_text_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert json_text_depth(text) == depth
    assert json_text_depth(text.encode()) == depth
    if depth < 1000:
        assert nesting_depth(json.loads(text)) == depth


def test_json_text_depth_stops_early_and_reads_other_encodings() -> None:
    assert json_text_depth('[' * 1_000_000, stop_above=64) > 64
    utf16 = json.dumps({'a': [['x]]']]}).encode('utf-16')
    assert json_text_depth(utf16) == 3
    assert json_text_depth(b'\xff\xfe[\x00\xfd') >= 0  # undecodable: no exception, the parser refuses it later


def test_the_scan_agrees_with_the_parser_on_random_documents() -> None:
    rng = random.Random(7)
    alphabet = ['[', ']', '{', '}', '"', '\\', 'a', ',', ':', '1']

    def value(depth: int) -> Any:
        kind = rng.random()
        if depth > 6 or kind < 0.3:
            return ''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if kind < 0.65:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {''.join(rng.choice(alphabet) for _ in range(3)): value(depth + 1) for _ in range(rng.randint(0, 3))}

    for _ in range(300):
        document = value(0)
        assert json_text_depth(json.dumps(document)) == nesting_depth(document)


def test_the_meter_gives_exact_depth_and_a_lower_bound_of_the_encoded_size() -> None:
    samples: list[Any] = [
        None,
        True,
        'é',
        -(2**63),
        2**64 - 1,
        1.5e300,
        [],
        {},
        {'a': [1, 2, {'b': None}], 'c': 'text', 'd': False},
        nested(MAX_NESTING),
        [[[]], {'x': ()}],
    ]
    for sample in samples:
        size, depth = PayloadMeter(1 << 20, MAX_NESTING).measure(sample, 'value')
        assert depth == nesting_depth(sample)
        assert size <= len(encode_compact(sample)), sample


def test_shared_structure_is_measured_once_and_counted_as_often_as_it_is_written() -> None:
    value: Any = {'input': {'order': 'A-1'}}
    for _ in range(40):  # 2**40 copies once encoded
        value = [value, value]
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match=r'output is at least .* over FLOWMON_MAX_PAYLOAD_BYTES \(1 MiB\)'):
            PayloadMeter(1 << 20, MAX_NESTING).measure(value, 'output')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # nothing was expanded


def test_depth_cycles_and_big_integers_are_refused_naming_the_value() -> None:
    meter = PayloadMeter(1 << 20, MAX_NESTING)
    with pytest.raises(PayloadTooDeep, match='output is nested more than 64 levels deep'):
        meter.measure(nested(MAX_NESTING + 1), 'output')
    cycle: list[Any] = []
    cycle.append({'again': cycle})
    with pytest.raises(PayloadInvalid, match='reference cycle'):
        meter.measure(cycle, 'output')
    for number in (2**64, -(2**63) - 1):
        with pytest.raises(PayloadInvalid, match='outside the 64-bit range'):
            meter.measure({'n': [number]}, 'the execution input')


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ({'x': float('nan')}, 'the body at x: '),  # a flat object: the quick check passes it on to the meter
        ({'a': {'items': [1, {'price': float('inf')}]}}, 'the body at a.items[1].price: '),
        ([0.5, [float('-inf')]], 'the body at [1][0]: '),
        ({'a b': float('nan'), 'ok': 1.0}, 'the body at ["a b"]: '),
        (float('nan'), 'the body: '),
    ],
)
def test_nan_and_infinity_are_refused_naming_where_they_are(value: Any, message: str) -> None:
    """Python's json reads and writes them; JSON has none (the API's encoder answered null for them)."""
    with pytest.raises(PayloadInvalid, match=r'^' + re.escape(message) + 'NaN and Infinity are not JSON numbers$'):
        PayloadBudget().check(value, 'the body')
    shared = [{'x': 1.5}, float('nan')]
    with pytest.raises(PayloadInvalid, match=r'at \[0\]\[1\]: NaN'):  # the first place, in document order
        PayloadMeter(1 << 20, MAX_NESTING).measure([shared, shared], 'the body')
    assert PayloadBudget().check({'x': 1.5, 'y': -0.0, 'z': 1e308}, 'the body') == '{"x":1.5,"y":-0.0,"z":1e+308}'


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('{"n": 1e999}', 'the body at n: 1e999 is out of range: JSON numbers must be finite'),
        ('{"a": [2, -1E+400]}', 'the body at a[1]: -1E+400 is out of range: JSON numbers must be finite'),
        ('[[1.5], [0.5, 9e9999]]', 'the body at [1][1]: 9e9999 is out of range: JSON numbers must be finite'),
        ('1e999', 'the body: 1e999 is out of range: JSON numbers must be finite'),
        ('{"n": Infinity}', 'the body at n: NaN and Infinity are not JSON numbers'),  # typed as such: no range
    ],
)
def test_a_number_too_large_for_a_float_is_refused_as_typed(text: str, message: str) -> None:
    """Python's parser reads 1e999 as an infinity: the refusal said 'NaN and Infinity are not JSON numbers', which
    names neither what was typed nor what is wrong with it."""
    budget = PayloadBudget()
    with pytest.raises(PayloadInvalid, match=r'^' + re.escape(message) + '$'):
        budget.check(budget.loads(text, 'the body'), 'the body')
    with pytest.raises(PayloadInvalid, match=r'^' + re.escape(message) + '$'):
        budget.check(loads_unique(text, 'the body'), 'the body')
    assert budget.loads('{"n": 1e308, "m": -2.5e-400}', 'the body') == {'n': 1e308, 'm': -0.0}


@pytest.mark.parametrize(
    ('text', 'mine'),
    [
        ('[0.5, 2.5e-400, 1e99, 123456789.25]', False),  # finite, all of them: the parser's own reading
        ('"1 in e99 tries"', False),
        ('[1e100, 1e308]', True),  # might be out of range (they are not: read_float reads them as floats)
        ('[1E+0400]', True),
        ('[' + '9' * 310 + '.5]', True),  # 310 digits before the point
        (b'{"n": 9e999}', True),
        (bytearray(b'[1.5]'), False),
    ],
)
def test_only_text_that_may_hold_a_number_too_large_is_read_number_by_number(
    text: str | bytes | bytearray, mine: bool
) -> None:
    """Any ``parse_float`` takes the parser off its fast path for every number with a fraction: it is given only
    where a number may be out of range, and the reading is the same either way."""
    assert float_reader(text) is (read_float if mine else None)
    assert json.loads(text, parse_float=float_reader(text)) == json.loads(text)


def test_check_compares_the_exact_compact_encoding_with_the_limit() -> None:
    budget = PayloadBudget(max_bytes=2048)
    fits = {'blob': 'x' * (2048 - len('{"blob":""}'))}
    assert len(budget.check(fits, 'output')) == 2048
    over = {'blob': 'x' * 2048}
    with pytest.raises(PayloadTooLarge, match=r'^output is 2,059 bytes, over FLOWMON_MAX_PAYLOAD_BYTES \(2 KiB\)$'):
        budget.check(over, 'output')
    escaped = {'blob': 'é' * 400}  # 2 bytes of UTF-8 each, 6 once escaped: the encoding is what counts
    with pytest.raises(PayloadTooLarge):
        budget.check(escaped, 'output')
    with pytest.raises(PayloadInvalid, match='cannot be encoded as JSON'):
        budget.check({'when': object()}, 'output')
    assert json.loads(budget.check({'when': object()}, 'output', lenient=True))['when'].startswith('<object')


def test_loads_checks_size_and_depth_before_parsing() -> None:
    budget = PayloadBudget(max_bytes=4096)
    assert budget.loads(b'{"a": [1]}', 'the body') == {'a': [1]}
    with pytest.raises(PayloadTooLarge, match=r'the body is 4,097 bytes, over FLOWMON_MAX_PAYLOAD_BYTES \(4 KiB\)'):
        budget.loads(b' ' * 4097, 'the body')
    with pytest.raises(PayloadTooDeep, match='the body is nested more than 64 levels deep'):
        budget.loads('[' * 4000, 'the body')
    assert budget.loads('[' * 100 + ']' * 100, 'doc', max_depth=512)  # documents may carry envelopes
    with pytest.raises(ValueError):
        budget.loads('{"a": ', 'the body')


def test_sizes_and_texts_read_well_in_messages() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 1 << 20, 1363149, 5 << 30)] == [
        '0 bytes',
        '1023 bytes',
        '1 KiB',
        '1.5 KiB',
        '1 MiB',
        '1.3 MiB',
        '5 GiB',
    ]
    assert bounded_text('abc', 3) == 'abc'
    assert bounded_text('abcdef', 4) == 'abc…'


def test_an_object_naming_a_key_twice_is_refused_with_its_place() -> None:
    for text, key, path in [
        ('{"a": 1, "a": 2}', 'a', ()),
        ('[0, {"x": [{}, {"k": 1, "j": 2, "k": 3}]}]', 'k', (1, 'x', 1)),
        ('{"odd key": {"n": {}, "n": []}}', 'n', ('odd key',)),
    ]:
        with pytest.raises(DuplicateKey) as refused:
            loads_unique(text, 'the body')
        assert (refused.value.key, refused.value.path) == (key, path)
        assert f'the body names the key "{key}" twice in one object' in str(refused.value)
    with pytest.raises(DuplicateKey, match=r'\(in \[1\]\.x\[1\]\)'):
        loads_unique('[0, {"x": [{}, {"k": 1, "k": 1}]}]', 'it')
    assert loads_unique('{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}', 'it') == json.loads(
        '{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}'
    )
    budget = PayloadBudget()
    with pytest.raises(DuplicateKey, match='the input names the key "x" twice'):
        budget.loads('{"x": 1, "x": 2}', 'the input')
    assert budget.loads('{"x": 1, "x": 2}', 'a response', unique_keys=False) == {'x': 2}


def wide_and_deep(leaf: Any, levels: int = MAX_NESTING, width: int = 40) -> tuple[Any, tuple[str | int, ...]]:
    """``leaf`` at the bottom of ``levels`` objects and lists in turn, each ``width`` wide with the way down last
    (the siblings in an object share one list), and the path to ``leaf``."""
    value, path = leaf, []
    for level in range(levels):
        if level % 2:
            value, step = [*(f'item {index}' for index in range(width)), value], width
        else:
            sibling: Any = [f'v{level}', {'s': 'text'}] if level >= 2 else 'text'  # no deeper than the way down
            value = {**{f'k{index}': sibling for index in range(width)}, 'down': value}
            step = 'down'
        path.append(step)
    return value, tuple(reversed(path))


def test_where_a_value_is_found_in_a_wide_value_nested_to_the_limit() -> None:
    value, path = wide_and_deep('bad\x00')
    assert nesting_depth(value) == MAX_NESTING
    assert unstorable_at(value) == (path, NUL_CHARACTER)
    assert unstorable_at(wide_and_deep('good')[0]) is None
    holder, holder_path = wide_and_deep({'k': 1}, MAX_NESTING - 1)  # the object at the bottom is the last level
    with pytest.raises(DuplicateKey) as refused:
        PayloadBudget().loads(json.dumps(holder).replace('{"k": 1}', '{"k": 1, "k": 2}'), 'the body')
    assert refused.value.path == holder_path
    with pytest.raises(PayloadInvalid, match=re.escape(f'at {path_text(path)}: a NUL character')):
        PayloadBudget().check(value, 'the body')


def test_a_place_in_a_list_in_an_object_in_a_list_is_named_by_index_key_index() -> None:
    assert unstorable_at(['ok', {'a': 'ok', 'b': [1, 'no\x00']}, 'x\x00']) == ((1, 'b', 1), NUL_CHARACTER)
    assert unstorable_at([{'a': ['x', {'k\ud800': 1}]}]) == ((0, 'a', 1, 'k\ud800'), LONE_SURROGATE)
    with pytest.raises(DuplicateKey) as refused:
        loads_unique('[[], {"a": [0, {}, {"n": 1, "n": 2}]}]', 'the body')
    assert refused.value.path == (1, 'a', 2)
    assert 'in [1].a[2]' in str(refused.value)


@pytest.mark.parametrize(
    ('value', 'where'),
    [
        ({'a': 'x\x00'}, 'at a: '),
        ({'items': [1, {'k\x00': 2}]}, 'at items[1]["k\\u0000"]: '),
        ({'a': '\\\x00'}, 'at a: '),  # a backslash, then the character
    ],
)
def test_a_nul_character_anywhere_is_refused_saying_where(value: Any, where: str) -> None:
    with pytest.raises(PayloadInvalid, match=re.escape(f'{where}a NUL character (\\u0000) cannot be stored')):
        encode_compact(value)


def test_the_text_of_a_nul_escape_is_no_nul_character() -> None:
    assert encode_compact({'a': '\\u0000', 'b': '\\\\u0000'}) == '{"a":"\\\\u0000","b":"\\\\\\\\u0000"}'
    assert bounded_text('bad\x00byte', 4000) == 'bad\\x00byte'


def test_a_lone_surrogate_is_refused_and_a_character_beyond_the_bmp_is_not() -> None:
    with pytest.raises(PayloadInvalid, match=re.escape('at a[0]: a lone surrogate (\\ud800-\\udfff')):
        encode_compact({'a': ['x\ud800']})
    with pytest.raises(PayloadInvalid, match='lone surrogate'):
        encode_compact(['\ud83d\ude00'])  # two halves as two code points: no UTF-8 for either
    assert encode_compact({'smile': '\U0001f600'}) == '{"smile":"\\ud83d\\ude00"}'
    assert bounded_text('half \ud800 of a pair', 4000) == 'half \\ud800 of a pair'
