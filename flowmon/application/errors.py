"""Why a use case refused: one small hierarchy that every entry point understands.

Use cases raise these (never a store's, a delivery's or the engine's own exception): the REST API maps each
kind to one status code in one place (:mod:`flowmon.api.errors`), and pages show the message in a notify.
Every message names the problem in words a person can act on.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from flowmon.engine.core.inputs import Loc, body_location, in_body, located, location
from flowmon.engine.core.payload_values import PayloadError, PayloadTooLarge


class AppError(Exception):
    """A refused request; ``str(error)`` says why. ``at`` names the input it refuses when it is about one (a query
    parameter, a header, a body field: ``'status'``, ``('filter', 'status')``; see :mod:`flowmon.engine.core.inputs`),
    which the API answers in ``errors[].loc``."""

    def __init__(self, *args: object, at: str | Loc = ()) -> None:
        super().__init__(*args)
        located(self, *((at,) if isinstance(at, str) else at))

    @property
    def at(self) -> Loc:
        return location(self)


class NotFound(AppError, LookupError):
    """The named workflow, execution, delivery, endpoint, secret or schedule does not exist."""


class Conflict(AppError):
    """The request does not fit the current state (cancelling a finished execution, a delivery being sent)."""


class Stale(Conflict):
    """A change made on the grounds of a version that is no longer the stored one: someone else changed it since."""

    version: str | None = None  # the version stored now (None: nothing is stored)


class Invalid(AppError, ValueError):
    """The request is understood but its content is not acceptable."""


class Malformed(Invalid):
    """The request could not be read at all (not JSON, nested too deeply to parse, a broken upload)."""


class ImportRejected(Invalid):
    """A document that is not a valid flowmon execution export; the message names the problem."""


class ExportMalformed(ImportRejected, Malformed):
    """Not JSON at all, or nested too deeply to be parsed (HTTP 400 rather than 422)."""


class TooLarge(Invalid):
    """The request is over a size budget."""


class RefusedPayload(Invalid):
    """A payload (an execution input, a delivery body) that the payload budget does not accept."""


class OversizedPayload(TooLarge, RefusedPayload):
    """A payload over ``FLOWMON_MAX_PAYLOAD_BYTES``."""


class Unauthorized(AppError):
    """The caller could not prove who it is (an inbound trigger without a valid signature)."""


class Unavailable(AppError):
    """flowmon cannot do it right now (starting, or stopping)."""


Translation = Mapping[type[Exception], type[AppError]]
T = TypeVar('T')

# The payload budget's refusals, as every use case that takes a payload reports them.
PAYLOAD_REFUSALS: Translation = {PayloadTooLarge: OversizedPayload, PayloadError: RefusedPayload}


@contextmanager
def translated(translation: Translation, *, prefix: str = '', at: str | Loc = ()) -> Iterator[None]:
    """Re-raise the lower layers' exceptions named in ``translation`` (first match wins) as application errors
    with the same message (after ``prefix``), about the input the exception was marked with, else ``at``: a payload
    refusal that says where in the payload it is, about that place in ``at`` (``('input', 'order', 'total')``);
    anything else passes unchanged."""
    try:
        yield
    except AppError:
        raise
    except tuple(translation) as exc:
        kind = next(error for source, error in translation.items() if isinstance(exc, source))
        error = kind(f'{prefix}{exc}', at=location(exc) or _inside(at, exc))
        path = body_location(exc)
        raise (error if path is None else in_body(error, *path)) from None


def _inside(at: str | Loc, exc: Exception) -> Loc:
    """``at``, followed by the place inside it that ``exc`` refuses when it is a payload refusal saying where."""
    outer = (at,) if isinstance(at, str) else at
    inner = exc.path if isinstance(exc, PayloadError) and outer else None
    return (*outer, *inner) if inner else outer


def refusing(translation: Translation) -> Callable[[type[T]], type[T]]:
    """A class decorator: every public coroutine method of the class reports the exceptions named in
    ``translation`` as application errors (see :func:`translated`)."""

    def decorate(cls: type[T]) -> type[T]:
        for name, member in list(vars(cls).items()):
            if not name.startswith('_') and inspect.iscoroutinefunction(member):
                setattr(cls, name, _translating(member, translation))
        return cls

    return decorate


def _translating(method: Callable[..., Awaitable[Any]], translation: Translation) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        with translated(translation):
            return await method(*args, **kwargs)

    return call


__all__ = [
    'PAYLOAD_REFUSALS',
    'AppError',
    'Conflict',
    'Invalid',
    'Malformed',
    'NotFound',
    'OversizedPayload',
    'RefusedPayload',
    'Stale',
    'TooLarge',
    'Unauthorized',
    'Unavailable',
    'refusing',
    'translated',
]


def in_use(what: str, workflow_ids: list[str]) -> Conflict:
    """The refusal to delete ``what`` (``"secret 'x'"``) while the workflows ``workflow_ids`` name it."""
    listed = ', '.join(repr(workflow_id) for workflow_id in workflow_ids[:10]) + (
        ' ...' if len(workflow_ids) > 10 else ''
    )
    return Conflict(f'{what} is used by workflow(s) {listed}; change them first')
