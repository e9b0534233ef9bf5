"""Which input a refusal is about: an exception of any layer can be marked with the place of the value it refuses.

``located(SomeError('url: ...'), 'url')`` marks the error as being about the request's ``url``; a body field inside
another is ``located(error, 'filter', 'status')``. The application's errors keep the mark when they translate a
lower layer's exception, and the REST API answers a marked refusal with ``errors: [{loc, msg, type}]`` as it answers a
request that does not fit its schema (``loc`` then starts with ``query``, ``header``, ``path`` or ``body``).

A refusal of a place inside a whole JSON body (a document the route reads as one value: a workflow, an export, a
trigger's payload) is marked with ``in_body(error, 'nodes', 2, 'config')`` instead, and answered with ``loc``
``["body", "nodes", 2, "config"]`` (``["body"]`` for the document itself) whatever names the route's parameters have.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

Loc = tuple[str | int, ...]
E = TypeVar('E', bound=BaseException)

_MARK = 'input_loc'
_BODY_MARK = 'body_loc'


def located(error: E, *loc: str | int) -> E:
    """``error``, marked as a refusal of the input at ``loc`` (no ``loc``: left as it is)."""
    if loc:
        setattr(error, _MARK, tuple(loc))
    return error


def within(error: E, *outer: str | int) -> E:
    """``error`` about the same input, now found inside ``outer`` (a use case's ``status`` in a bulk ``filter``);
    left as it is when it was not marked."""
    loc = location(error)
    return located(error, *outer, *loc) if loc else error


def location(error: BaseException) -> Loc:
    """Where the input that ``error`` refuses is (empty when it was not marked)."""
    loc = getattr(error, _MARK, ())
    return loc if isinstance(loc, tuple) else ()


def in_body(error: E, *path: str | int) -> E:
    """``error``, marked as a refusal of the place at ``path`` inside the request's body (no ``path``: the body)."""
    setattr(error, _BODY_MARK, tuple(path))
    return error


def body_location(error: BaseException) -> Loc | None:
    """Where inside the request's body the place ``error`` refuses is (None: not marked with :func:`in_body`)."""
    path = getattr(error, _BODY_MARK, None)
    return path if isinstance(path, tuple) else None


def marked_like(error: E, source: BaseException) -> E:
    """``error`` (which replaces ``source``), marked with the place ``source`` was marked with."""
    located(error, *location(source))
    path = body_location(source)
    return error if path is None else in_body(error, *path)


# pydantic's error types for what a validator raised, with the words pydantic puts before the validator's message
VALIDATOR_ERRORS = {'value_error': 'Value error, ', 'assertion_error': 'Assertion failed, '}
# pydantic's error types for a value that is not an object (``dict``, a model)
NOT_AN_OBJECT = frozenset({'dict_type', 'model_type', 'model_attributes_type'})
NOT_AN_OBJECT_MESSAGE = 'Input should be an object'


def schema_problem(error: Mapping[str, Any], known: Sequence[str] = ()) -> str:
    """A schema's refusal of one value (an error of a pydantic validation) in the words of a JSON document: a check's
    own text without pydantic's ``Value error, `` before it, a value that is not an object said so (not a "valid
    dictionary"), and a key that has no place as :func:`unknown_key` says it, with ``known``, the keys of that place."""
    kind = str(error.get('type'))
    if kind == 'extra_forbidden':
        loc = error.get('loc') or ()
        return unknown_key(loc[-1] if loc else '', known)
    if kind in NOT_AN_OBJECT:
        return NOT_AN_OBJECT_MESSAGE
    return str(error.get('msg')).removeprefix(VALIDATOR_ERRORS.get(kind, ''))


def unknown_key(key: object, known: Sequence[str]) -> str:
    """``unknown key (known: a, b, c; did you mean 'b'?)``: a key that has no place where it is, with the keys that
    place takes (none: ``unknown key`` alone) and the closest of them, for a typo (``stauts``)."""
    return f'unknown key ({known_keys(key, known)})' if known else 'unknown key'


def known_keys(key: object, known: Sequence[str]) -> str:
    """``known: a, b, c; did you mean 'b'?``: the keys a place takes, and the one closest to ``key`` if any is (a key
    far longer than any of them is no typo of one: not compared, which would take time in its length)."""
    text = str(key)
    close = difflib.get_close_matches(text, known, n=1) if len(text) <= 2 * max(map(len, known), default=0) else []
    hint = f'; did you mean {close[0]!r}?' if close else ''
    return f'known: {", ".join(known)}{hint}'


__all__ = [
    'NOT_AN_OBJECT',
    'NOT_AN_OBJECT_MESSAGE',
    'VALIDATOR_ERRORS',
    'Loc',
    'body_location',
    'in_body',
    'known_keys',
    'located',
    'location',
    'marked_like',
    'schema_problem',
    'unknown_key',
    'within',
]
