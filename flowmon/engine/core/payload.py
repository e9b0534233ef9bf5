"""One budget for the JSON payloads that travel through flowmon.

Execution inputs, node outputs, trigger bodies, imported events and webhook bodies from the API all get the same
two limits: at most :data:`MAX_NESTING` levels of lists and objects, and at most ``max_bytes`` of compact JSON
(``FLOWMON_MAX_PAYLOAD_BYTES``, 1 MiB by default). They are checked before any expensive work is done with the
payload: JSON text before it is parsed (:meth:`PayloadBudget.loads`), values before they are encoded or stored
(:meth:`PayloadBudget.check`). Every check is iterative, so no input can exhaust the stack, and values that
share structure (the same list referenced twice, as JMESPath's ``[@,@]`` builds) are measured once but counted
as often as their encoding would write them, so a value that doubles at every level is refused before anything
expands it.

This module holds the budget and its JSON text: text read before and while it is parsed (its depth found by a scan
that spares the parser, :func:`json_text_depth`; a number too large for a float kept as it was typed,
:func:`float_reader`; an object naming a key twice refused, :func:`loads_unique`) and the compact text written
(:func:`encode_compact`). The walk over values already parsed
(:class:`~flowmon.engine.core.payload_values.PayloadMeter`), the refusals and the words they use are in
:mod:`flowmon.engine.core.payload_values`, which this module stands on.

The engine imports no settings: the composition root builds a :class:`PayloadBudget` and passes it in.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from .payload_values import (
    LIMIT_NAME,
    MAX_INT,
    MAX_KEY_CHARS_SHOWN,
    MIN_INT,
    OutOfRange,
    PayloadInvalid,
    PayloadMeter,
    PayloadTooDeep,
    PayloadTooLarge,
    bounded_text,
    first_found,
    human_size,
    path_text,
    size_over,
    unstorable_at,
)

# JSON nested deeper than this is refused: serialising an execution summary whose payload nests a few hundred
# levels fails (pydantic's and orjson's depth limits), so such a value would make the execution unreadable.
MAX_NESTING = 64
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
# JSON text nested deeper than this is never handed to a parser (the stdlib's recursion ends near 1000 levels).
# Documents that hold payloads (an export, a request object) may nest a few levels more than the payloads they
# carry; each payload is then checked against MAX_NESTING on its own, with a message that names it.
MAX_PARSE_DEPTH = 512


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
    at = first_found(document, lambda item: item is duplicated)
    path = at[0] if at is not None else ()
    shown = json.dumps(bounded_text(key, MAX_KEY_CHARS_SHOWN), ensure_ascii=False)
    where = f' (in {path_text(path)})' if path else ''
    raise DuplicateKey(f'{what} names the key {shown} twice in one object{where}; each key may appear once', key, path)


# A NUL's escape in encoded text (not an escaped backslash before 'u0000'): see NUL_CHARACTER.
_NUL_ESCAPE = re.compile(r'(?<!\\)(?:\\\\)*\\u0000')


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
            raise PayloadTooLarge(f'{what} is {size_over(size, self.max_bytes)}, over {LIMIT_NAME} ({limit})')

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
