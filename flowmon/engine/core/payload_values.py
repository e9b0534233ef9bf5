"""Payload values as the payload budget measures them, and the words its refusals use.

:class:`PayloadMeter` walks a value already parsed (or built: a node's output, an expression's result, an imported
event) as compact JSON would hold it: its nesting depth, a lower bound of its size, reference cycles, and numbers
JSON cannot hold (an integer beyond 64 bits, NaN, an infinity; an :class:`OutOfRange` number read from text is named
as it was typed). The walks are iterative, so no value can exhaust the stack, and a value that shares structure is
measured once but counted as often as its encoding would write it. :func:`nesting_depth` and :func:`unstorable_at`
(where a string no database stores is) walk values the same way.

The refusals (:class:`PayloadError` and its kinds) and what names things in their messages (a place:
:func:`path_text`; a size: :func:`human_size`; a text as it is stored: :func:`bounded_text`; what no database stores:
:func:`unstorable`) are here as well. :mod:`flowmon.engine.core.payload`, the budget, reads JSON text and encodes
values under the same limits with the same refusals: it stands on this module, the text side there and the values
side here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

LIMIT_NAME = 'FLOWMON_MAX_PAYLOAD_BYTES'
# Error texts and tracebacks that events carry are cut to these lengths.
MAX_ERROR_CHARS = 4000
MAX_TRACEBACK_CHARS = 16000
# orjson (the API's response encoder) refuses integers outside this range: such a number would make every
# response that contains it a server error.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1
MAX_INT32 = 2**31 - 1  # the largest whole number a 32-bit column holds (an event's seq, counts)


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


def _not_finite_said(value: Any) -> str:
    """What follows the place in the refusal of a NaN or an infinity: the number as typed when it was read from
    text (``: 1e999 is out of range: JSON numbers must be finite``)."""
    if not isinstance(value, OutOfRange):
        return f': {NOT_JSON_NUMBERS}'
    return f': {bounded_text(value.text, MAX_NUMBER_CHARS_SHOWN)} is out of range: JSON numbers must be finite'


# No database column holds these (PostgreSQL's text and jsonb no NUL, jsonb not even as its \u0000 escape; UTF-8,
# which both databases store, no surrogate code point): a payload with one in a string or a key is refused, on every
# database alike, instead of failing where it is stored.
NUL_CHARACTER = 'a NUL character (\\u0000)'
LONE_SURROGATE = 'a lone surrogate (\\ud800-\\udfff, half of a UTF-16 pair: no character)'
_SURROGATE = re.compile('[\ud800-\udfff]')


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


def size_over(size: int, limit: int) -> str:
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
            at = first_found(value, exc.found)
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
                raise PayloadTooLarge(
                    f'{what} is at least {size_over(size, self.max_bytes)}, over {LIMIT_NAME} ({limit})'
                )
            known[id(container)] = (container, size, depth)
            if not stack:
                return size, depth
            parent = stack[-1]
            parent[2] += size
            parent[3] = max(parent[3], depth)


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
    found = first_found(value, lambda item: isinstance(item, str) and unstorable(item) is not None)
    if found is None:
        return None
    path, item = found
    return path, str(unstorable(item))


def path_text(path: Sequence[str | int]) -> str:
    """``items[2].name``: a path of keys and indices as a message names it."""
    return ''.join(f'[{step}]' if isinstance(step, int) else _key_step(step) for step in path).removeprefix('.')


def first_found(value: Any, found: Callable[[Any], bool]) -> tuple[tuple[str | int, ...], Any] | None:
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
