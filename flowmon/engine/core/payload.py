"""One budget for the JSON payloads that travel through flowmon.

Execution inputs, node outputs, trigger bodies, imported events and webhook bodies from the API all get the same
two limits: at most :data:`MAX_NESTING` levels of lists and objects, and at most ``max_bytes`` of compact JSON
(``FLOWMON_MAX_PAYLOAD_BYTES``, 1 MiB by default). They are checked before any expensive work is done with the
payload: JSON text before it is parsed (:meth:`PayloadBudget.loads`), values before they are encoded or stored
(:meth:`PayloadBudget.check`). Every check is iterative, so no input can exhaust the stack, and values that
share structure (the same list referenced twice, as JMESPath's ``[@,@]`` builds) are measured once but counted
as often as their encoding would write them, so a value that doubles at every level is refused before anything
expands it.

The engine imports no settings: the composition root builds a :class:`PayloadBudget` and passes it in.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

# JSON nested deeper than this is refused: serialising an execution summary whose payload nests a few hundred
# levels fails (pydantic's and orjson's depth limits), so such a value would make the execution unreadable.
MAX_NESTING = 64
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
LIMIT_NAME = 'FLOWMON_MAX_PAYLOAD_BYTES'
# JSON text nested deeper than this is never handed to a parser (the stdlib's recursion ends near 1000 levels).
# Documents that hold payloads (an export, a request object) may nest a few levels more than the payloads they
# carry; each payload is then checked against MAX_NESTING on its own, with a message that names it.
MAX_PARSE_DEPTH = 512
# Error texts and tracebacks that events carry are cut to these lengths.
MAX_ERROR_CHARS = 4000
MAX_TRACEBACK_CHARS = 16000
# orjson (the API's response encoder) refuses integers outside this range: such a number would make every
# response that contains it a server error.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1

# A JSON string, once escaped backslashes and quotes are removed from the text: no backtracking is possible.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b'[]{}')
_STEP = [0] * 256
_STEP[ord('[')] = _STEP[ord('{')] = 1
_STEP[ord(']')] = _STEP[ord('}')] = -1
_CHUNK = 1 << 16


def compact_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """A function giving ``json.JSONEncoder(separators=(',', ':'), default=default).encode(value)``, faster.

    ``JSONEncoder.encode`` builds the C encoder on every call, which costs as much as encoding a small payload
    (the engine encodes every node output, the recorder every event it is not handed encoded). This one is
    built once; its circular-reference markers are shared, so one caller at a time uses it: the lock is only
    tried, and a caller finding it taken (another thread) takes the plain encoder instead. Same text.
    """
    plain = json.JSONEncoder(separators=(',', ':'), default=default)
    if c_make_encoder is None:  # pragma: no cover - CPython has the C encoder
        return plain.encode
    markers: dict[int, Any] = {}
    encode_c = c_make_encoder(markers, plain.default, encode_basestring_ascii, None, ':', ',', False, False, True)
    lock = threading.Lock()

    def encode(value: Any) -> str:
        if not lock.acquire(blocking=False):
            return plain.encode(value)
        try:
            return ''.join(encode_c(value, 0))
        except BaseException:
            markers.clear()  # an encode that failed midway leaves its containers marked
            raise
        finally:
            lock.release()

    return encode


_COMPACT = compact_encoder()
_COMPACT_LENIENT = compact_encoder(str)


class PayloadError(ValueError):
    """A payload over the budget or not representable as JSON; the message names the payload and the limit.

    ``path`` is where inside the payload the value refused is, when the message names one (keys and indices:
    ``('items', 1, 'price')``; empty for the payload itself), so a caller can say which input is at fault.
    """

    path: tuple[str | int, ...] | None = None

    def __init__(self, message: str, *, path: tuple[str | int, ...] | None = None) -> None:
        super().__init__(message)
        if path is not None:
            self.path = path


class PayloadTooLarge(PayloadError):
    """Over ``FLOWMON_MAX_PAYLOAD_BYTES`` (HTTP 413)."""


class PayloadTooDeep(PayloadError):
    """Nested more than the depth limit (HTTP 422, or 400 for text that is not parsed at all)."""


class PayloadInvalid(PayloadError):
    """A value JSON (or the API's encoder) cannot hold: a reference cycle, an integer beyond 64 bits, NaN or an
    infinity (Python's JSON reads and writes them; JSON has no such numbers, and the API would answer null)."""


NOT_JSON_NUMBERS = 'NaN and Infinity are not JSON numbers'
MAX_KEY_CHARS_SHOWN = 100
MAX_NUMBER_CHARS_SHOWN = 40


class OutOfRange(float):
    """A number of JSON text too large for a float (``1e999``, ``-1e400``), which Python's parser reads as an
    infinity: it keeps the text as typed (``text``), so the refusal of it can name the number the person wrote."""

    text: str


def read_float(text: str) -> float:
    """A JSON number with a fraction or an exponent, as the parser reads it (``parse_float``); one too large for a
    float is an :class:`OutOfRange` infinity that remembers ``text``."""
    value = float(text)
    if value in (math.inf, -math.inf):
        number = OutOfRange(value)
        number.text = text
        return number
    return value


# JSON text that may hold a number too large for a float: an exponent of 100 or more, or 300 digits in a row (found
# with every digit read as 0). Only such text is parsed with read_float: any ``parse_float`` takes the parser off its
# fast path for every number with a fraction (a document of floats parsed three times slower); the scan costs about
# 10 ms a megabyte.
_AS_ZEROS = bytes.maketrans(b'123456789E', b'000000000e')
_AS_ZEROS_TEXT = str.maketrans('123456789E', '000000000e')
_LONG_RUN = 300


def float_reader(text: bytes | bytearray | str) -> Callable[[str], float] | None:
    """The ``parse_float`` for ``text``: :func:`read_float` when a number in it may be too large for a float, else
    None (the parser's own)."""
    if isinstance(text, str):
        zeros = text.translate(_AS_ZEROS_TEXT)
        found = 'e000' in zeros or 'e+000' in zeros or '0' * _LONG_RUN in zeros
    else:
        shown = bytes(text).translate(_AS_ZEROS)
        found = b'e000' in shown or b'e+000' in shown or b'0' * _LONG_RUN in shown
    return read_float if found else None


def _not_finite_said(value: Any) -> str:
    """What follows the place in the refusal of a NaN or an infinity: the number as typed when it was read from
    text (``: 1e999 is out of range: JSON numbers must be finite``)."""
    if not isinstance(value, OutOfRange):
        return f': {NOT_JSON_NUMBERS}'
    return f': {bounded_text(value.text, MAX_NUMBER_CHARS_SHOWN)} is out of range: JSON numbers must be finite'


class DuplicateKey(PayloadInvalid):
    """JSON text with an object that names one key twice: a parser keeps the last value, so the first one (often a
    person's edit) would vanish unseen. ``key`` is the key, ``path`` where the object is (``('nodes', 2, 'config')``;
    empty for the document itself)."""

    path: tuple[str | int, ...]

    def __init__(self, message: str, key: str, path: tuple[str | int, ...]) -> None:
        super().__init__(message, path=path)
        self.key = key


def loads_unique(text: bytes | str, what: str) -> Any:
    """``json.loads(text)``, refusing an object anywhere in it that names a key twice.

    Raises :class:`DuplicateKey` naming ``what``, the key and where the object is, and ``ValueError`` for text that
    is not JSON. Each object's keys are checked as the parser makes it a dict (no second pass over the text); the
    place of a duplicate is found by one walk of the parsed value, only when there is one. The caller bounds the
    text's size and depth first.
    """
    found: list[tuple[dict[str, Any], str]] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) != len(pairs) and not found:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    found.append((value, key))
                    break
                seen.add(key)
        return value

    document = json.loads(text, object_pairs_hook=unique, parse_float=float_reader(text))
    if not found:
        return document
    duplicated, key = found[0]
    at = _find(document, lambda item: item is duplicated)
    path = at[0] if at is not None else ()
    shown = json.dumps(bounded_text(key, MAX_KEY_CHARS_SHOWN), ensure_ascii=False)
    where = f' (in {path_text(path)})' if path else ''
    raise DuplicateKey(f'{what} names the key {shown} twice in one object{where}; each key may appear once', key, path)


# No database column holds these (PostgreSQL's text and jsonb no NUL, jsonb not even as its \u0000 escape; UTF-8,
# which both databases store, no surrogate code point): a payload with one in a string or a key is refused, on every
# database alike, instead of failing where it is stored.
NUL_CHARACTER = 'a NUL character (\\u0000)'
LONE_SURROGATE = 'a lone surrogate (\\ud800-\\udfff, half of a UTF-16 pair: no character)'
_SURROGATE = re.compile('[\ud800-\udfff]')
_NUL_ESCAPE = re.compile(r'(?<!\\)(?:\\\\)*\\u0000')


class _Unrepresentable(PayloadInvalid):
    """A number JSON (or the API's encoder) cannot hold, met while measuring: NaN or an infinity, an integer beyond
    64 bits. ``said`` follows the place in the message; :meth:`PayloadMeter.measure` finds where the first number
    that ``found`` is is and names it."""

    def __init__(self, what: str, said: str, found: Callable[[Any], bool]) -> None:
        super().__init__(f'{what}{said}', path=())
        self.said = said
        self.found = found


def human_size(size: int) -> str:
    """``512 bytes``, ``1 MiB``, ``1.3 MiB``: sizes as people read them in messages."""
    if size < 1024:
        return f'{size} bytes'
    value = float(size)
    for unit in ('KiB', 'MiB', 'GiB'):
        value /= 1024
        if value < 1024 or unit == 'GiB':
            break
    return f'{value:.1f}'.rstrip('0').rstrip('.') + f' {unit}'


def _over(size: int, limit: int) -> str:
    """``size`` for a message saying it is over ``limit``: in bytes when the rounded sizes would look equal."""
    text = human_size(size)
    return f'{size:,} bytes' if text == human_size(limit) else text


def bounded_text(text: str, limit: int) -> str:
    """``text`` (an error message, a traceback) as it is stored: a NUL character in it written as the four
    characters ``\\x00`` and a lone surrogate as ``\\ud800`` (no database column holds them; a message is read, not
    parsed), cut to at most ``limit`` characters (an ellipsis marks the cut)."""
    if '\x00' in text:
        text = text.replace('\x00', '\\x00')
    if not text.isascii() and _SURROGATE.search(text):  # a lone surrogate, which UTF-8 has no bytes for: \\ud800
        text = text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return text if len(text) <= limit else text[: limit - 1] + '…'


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0); iterative, so any depth is safe."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def json_text_depth(text: bytes | str, stop_above: int | None = None) -> int:
    """How deeply lists and objects nest in JSON ``text``, found without parsing it.

    Brackets inside strings do not count. The scan is linear and runs in C-level loops; with ``stop_above`` it
    returns as soon as the depth passes that value (the result is then only known to be larger). For text that
    is not valid JSON the result is meaningful up to the first error, which is as far as a parser would get.
    """
    data = _utf8(text)
    if b'\\' in data:
        data = data.replace(b'\\\\', b'').replace(b'\\"', b'')
    structure = _STRING.sub(b'', data).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    step = _STEP.__getitem__
    for start in range(0, len(structure), _CHUNK):
        chunk = structure[start : start + _CHUNK]
        deepest = max(deepest, max(accumulate(map(step, chunk), initial=depth)))
        if stop_above is not None and deepest > stop_above:
            return deepest
        depth += chunk.count(b'[') + chunk.count(b'{') - chunk.count(b']') - chunk.count(b'}')
    return deepest


def _utf8(text: bytes | str) -> bytes:
    if isinstance(text, str):
        return text.encode('utf-8', 'surrogatepass')
    encoding = json.detect_encoding(text)  # what json.loads does with bytes
    if encoding == 'utf-8':
        return text
    try:
        return text.decode(encoding, 'surrogatepass').encode('utf-8', 'surrogatepass')
    except UnicodeError:  # a parser could not decode it either: scanning the raw bytes is as good as anything
        return text


def encode_compact(value: Any, *, lenient: bool = False) -> str:
    """Compact JSON (ASCII, non-ASCII characters escaped), the encoding whose length the budget limits.

    With ``lenient``, values JSON cannot hold (dates, sets, ...) are written as ``str(value)``. Raises
    :class:`PayloadInvalid` when the value cannot be encoded at all, or holds a NUL character in a string or a key
    (saying where).
    """
    try:
        encoded = (_COMPACT_LENIENT if lenient else _COMPACT)(value)
    except (TypeError, ValueError) as exc:
        raise PayloadInvalid(f'cannot be encoded as JSON: {exc}') from None
    # (walked only when the text has an escape of one: a NUL's, or a surrogate's, which non-BMP characters have too)
    if ('\\u0000' in encoded and _NUL_ESCAPE.search(encoded)) or '\\ud' in encoded:
        found = unstorable_at(value)
        if found is not None:
            path, what = found
            message = f'at {path_text(path)}: {what} cannot be stored' if path else f'holds {what}'
            raise PayloadInvalid(message, path=path)
    return encoded


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, exactly as :func:`encode_compact` writes it (ASCII, escaped)."""
    return encode_basestring_ascii(text)


def json_object(members: Iterable[tuple[str, str]]) -> str:
    """The compact JSON object of ``(key, encoded value)`` pairs: what :func:`encode_compact` writes for the dict
    of those keys and decoded values, built around texts already encoded instead of encoding the values again.
    The pairs are written in order; a key given twice is written twice (give a dict's items to avoid that)."""
    return '{' + ','.join([encode_basestring_ascii(key) + ':' + value for key, value in members]) + '}'


class PayloadMeter:
    """Measures values as compact JSON would hold them: their nesting depth and a lower bound of their size.

    A container seen before (the same object, reached again) is not walked again: its size is added once more,
    as its encoding would be, so measuring costs one visit per distinct object however often each is
    referenced. The meter remembers what it measured (and keeps it alive, so ids stay unique), which lets one
    meter follow a computation that builds values from values it has already measured.
    """

    def __init__(self, max_bytes: int, max_depth: int, *, stop_above: int | None = None) -> None:
        self.max_bytes = max_bytes  # the limit messages name
        self.max_depth = max_depth
        self.stop_above = max_bytes if stop_above is None else stop_above  # the size that is refused
        self._known: dict[int, tuple[Any, int, int]] = {}

    def measure(self, value: Any, what: str) -> tuple[int, int]:
        """``(size, depth)`` of ``value``; the size is at most the length of its compact JSON.

        Raises :class:`PayloadTooDeep`, :class:`PayloadTooLarge` (size known to be over ``stop_above``) or
        :class:`PayloadInvalid` (a reference cycle; an integer beyond 64 bits, NaN or an infinity, whose place is
        named in the message and is the error's ``path``) naming ``what``.
        """
        if not isinstance(value, dict | list | tuple):
            return _scalar_size(value, what), 0
        try:
            return self._measure(value, what)
        except _Unrepresentable as exc:
            at = _find(value, exc.found)
            path = at[0] if at is not None else ()
            where = f' at {path_text(path)}' if path else ''
            said = _not_finite_said(at[1]) if at is not None and exc.found is _not_finite else exc.said
            raise PayloadInvalid(f'{what}{where}{said}', path=path) from None

    def _measure(self, value: Any, what: str) -> tuple[int, int]:
        known = self._known
        seen = known.get(id(value))
        if seen is not None:
            return seen[1], seen[2]
        # A frame is [container, iterator over its (key, child) pairs or its children, size so far, deepest child].
        stack: list[list[Any]] = [_frame(value)]
        open_ids = {id(value)}
        while True:
            frame = stack[-1]
            size, deepest, nested = frame[2], frame[3], None
            if isinstance(frame[0], dict):
                for key, child in frame[1]:
                    size += (len(key) if type(key) is str else 1) + 4  # "key": and a comma
                    kind = type(child)
                    if kind is str:
                        size += len(child) + 2
                    elif kind is dict or kind is list or kind is tuple or isinstance(child, dict | list | tuple):
                        nested = child
                        break
                    else:
                        size += _scalar_size(child, what)
            else:
                for child in frame[1]:
                    kind = type(child)
                    if kind is str:
                        size += len(child) + 3
                    elif kind is dict or kind is list or kind is tuple or isinstance(child, dict | list | tuple):
                        size += 1
                        nested = child
                        break
                    else:
                        size += _scalar_size(child, what) + 1
            if nested is not None:
                seen = known.get(id(nested))
                if seen is not None:
                    frame[2], frame[3] = size + seen[1], max(deepest, seen[2])
                    continue
                frame[2] = size
                if id(nested) in open_ids:
                    raise PayloadInvalid(f'{what} refers to itself (a reference cycle)')
                if len(stack) >= self.max_depth:
                    raise PayloadTooDeep(f'{what} is nested more than {self.max_depth} levels deep')
                open_ids.add(id(nested))
                stack.append(_frame(nested))
                continue
            stack.pop()
            container = frame[0]
            open_ids.discard(id(container))
            size, depth = max(size, 2), deepest + 1
            if depth > self.max_depth:  # through a container measured before (the path was not walked again)
                raise PayloadTooDeep(f'{what} is nested more than {self.max_depth} levels deep')
            if size > self.stop_above:
                limit = human_size(self.max_bytes)
                raise PayloadTooLarge(f'{what} is at least {_over(size, self.max_bytes)}, over {LIMIT_NAME} ({limit})')
            known[id(container)] = (container, size, depth)
            if not stack:
                return size, depth
            parent = stack[-1]
            parent[2] += size
            parent[3] = max(parent[3], depth)


def _flat_and_small(value: dict[Any, Any], max_bytes: int) -> bool:
    """Whether ``value`` is an object of string keys and scalar values that a meter would pass at once: no
    nesting, integers in range, strings well under the limit (anything else is left to :class:`PayloadMeter`)."""
    if len(value) > 64:
        return False
    chars = 0
    for key, child in value.items():
        if type(key) is not str:
            return False
        kind = type(child)
        if kind is str:
            chars += len(child) + len(key)
        elif kind is int:
            if not MIN_INT <= child <= MAX_INT:
                return False
        elif kind is float:
            if not math.isfinite(child):
                return False
        elif not (kind is bool or child is None):
            return False
    return chars < max_bytes // 2


def _frame(container: Any) -> list[Any]:
    items = iter(container.items()) if isinstance(container, dict) else iter(container)
    return [container, items, 1, 0]


def _scalar_size(value: Any, what: str) -> int:
    """A lower bound of the encoded length of a value that is not a list or an object."""
    if isinstance(value, str):
        return len(value) + 2
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise _Unrepresentable(what, ' holds an integer outside the 64-bit range', _beyond_64_bits)
        return max(1, value.bit_length() * 3 // 10)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Unrepresentable(what, _not_finite_said(value), _not_finite)
    return 1


def _not_finite(item: Any) -> bool:
    return isinstance(item, float) and not math.isfinite(item)


def _beyond_64_bits(item: Any) -> bool:
    return isinstance(item, int) and not MIN_INT <= item <= MAX_INT


def unstorable(text: str) -> str | None:
    """What in ``text`` no database stores (:data:`NUL_CHARACTER`, :data:`LONE_SURROGATE`), or None."""
    if '\x00' in text:
        return NUL_CHARACTER
    if not text.isascii() and _SURROGATE.search(text):
        return LONE_SURROGATE
    return None


def unstorable_at(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Where the first string or key of ``value`` that no database stores is (keys and indices: ``('items', 2,
    'name')``; a key ends the path), and what it holds (see :func:`unstorable`); None when every one can be stored."""
    found = _find(value, lambda item: isinstance(item, str) and unstorable(item) is not None)
    if found is None:
        return None
    path, item = found
    return path, str(unstorable(item))


def path_text(path: Sequence[str | int]) -> str:
    """``items[2].name``: a path of keys and indices as a message names it."""
    return ''.join(f'[{step}]' if isinstance(step, int) else _key_step(step) for step in path).removeprefix('.')


def _find(value: Any, found: Callable[[Any], bool]) -> tuple[tuple[str | int, ...], Any] | None:
    """The path to the first item ``found`` in ``value`` (in document order, but an object's keys are looked at before
    its values; a key is found as its value is), and that item.

    Iterative, one step per item: a frame per open container holds an iterator over its children, and the path is
    the step each frame took last, copied only for the item found. A container reached again is not searched again.
    """
    if found(value):
        return (), value
    searched: set[int] = set()
    frames: list[Iterator[tuple[Any, Any]]] = []
    path: list[Any] = []  # the key or index each open container stepped to last: where ``item`` is
    item = value
    while True:
        if isinstance(item, dict | list | tuple) and id(item) not in searched:
            searched.add(id(item))
            if isinstance(item, dict):
                key = next((key for key in item if found(key)), None)
                if key is not None:
                    return (*path, key), key
            frames.append(iter(item.items()) if isinstance(item, dict) else enumerate(item))
            path.append(None)
        while frames:
            pair = next(frames[-1], None)
            if pair is not None:
                break
            frames.pop()
            path.pop()
        else:
            return None
        path[-1], item = pair
        if found(item):
            return tuple(path), item


def _key_step(key: Any) -> str:
    """``.name`` for a key that reads as a name, else ``["the key"]``."""
    text = str(key)
    return f'.{text}' if text.isidentifier() else f'[{json.dumps(text, ensure_ascii=False)}]'


@dataclass(frozen=True, slots=True)
class PayloadBudget:
    """The limits every payload is held to; built from the settings by the composition root."""

    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_depth: int = MAX_NESTING

    def meter(self) -> PayloadMeter:
        return PayloadMeter(self.max_bytes, self.max_depth)

    def measure(self, value: Any, what: str) -> None:
        """What must be known before ``value`` is encoded: its depth, no cycles, 64-bit integers, and a size that
        cannot be far over the limit (so shared structure is never expanded); the exact size is the encoding's."""
        if type(value) is dict and self.max_depth >= 1 and _flat_and_small(value, self.max_bytes):
            return  # most node outputs: a few scalars (the engine measures every one)
        PayloadMeter(self.max_bytes, self.max_depth, stop_above=2 * self.max_bytes).measure(value, what)

    def check(self, value: Any, what: str, *, lenient: bool = False) -> str:
        """Check ``value`` and return its compact JSON; raises a :class:`PayloadError` naming ``what``."""
        self.measure(value, what)
        try:
            encoded = encode_compact(value, lenient=lenient)
        except PayloadInvalid as exc:
            raise PayloadInvalid(f'{what} {exc}', path=exc.path) from None
        self.check_size(len(encoded), what)
        return encoded

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            limit = human_size(self.max_bytes)
            raise PayloadTooLarge(f'{what} is {_over(size, self.max_bytes)}, over {LIMIT_NAME} ({limit})')

    def check_shape(self, value: Any, what: str, *, extra: int = 0) -> None:
        """Depth (``max_depth + extra`` levels, ``extra`` for an envelope around payloads) and numbers, not size."""
        PayloadMeter(MAX_INT, self.max_depth + extra).measure(value, what)

    def loads(
        self,
        text: bytes | str,
        what: str,
        *,
        max_depth: int | None = None,
        sized: bool = True,
        unique_keys: bool = True,
    ) -> Any:
        """Parse JSON ``text`` after checking its size and depth (``max_depth`` defaults to the budget's).

        Raises :class:`PayloadTooLarge`, :class:`PayloadTooDeep`, :class:`DuplicateKey` (an object naming a key
        twice, unless ``unique_keys`` is false: a remote server's answer is taken as it is), or ``ValueError`` for
        text that is not JSON. Without ``sized`` the caller bounds the size (documents such as an export hold many
        payloads).
        """
        if sized:
            self.check_size(len(text), what)
        limit = self.max_depth if max_depth is None else max_depth
        if json_text_depth(text, stop_above=limit) > limit:
            raise PayloadTooDeep(f'{what} is nested more than {limit} levels deep')
        try:
            return loads_unique(text, what) if unique_keys else json.loads(text, parse_float=float_reader(text))
        except RecursionError:  # not reached after the scan; kept so no parser error can escape as a 500
            raise PayloadTooDeep(f'{what} is nested too deeply to parse') from None
