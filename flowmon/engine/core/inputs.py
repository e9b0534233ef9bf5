"""Which input a refusal is about: an exception of any layer can be marked with the place of the value it refuses.

``located(SomeError('url: ...'), 'url')`` marks the error as being about the request's ``url``; a body field inside
another is ``located(error, 'filter', 'status')``. The application's errors keep the mark when they translate a
lower layer's exception, and the REST API answers a marked refusal with ``errors: [{loc, msg, type}]`` as it answers a
request that does not fit its schema (``loc`` then starts with ``query``, ``header``, ``path`` or ``body``).
"""

from __future__ import annotations

from typing import TypeVar

Loc = tuple[str | int, ...]
E = TypeVar('E', bound=BaseException)

_MARK = 'input_loc'


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


__all__ = ['Loc', 'located', 'location', 'within']
