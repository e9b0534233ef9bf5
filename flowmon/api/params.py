"""Query parameter types shared by the API routes, bounded so that no value can reach a 500.

Integers beyond 64 bits overflow SQLite and the JSON encoder; a time zone offset near year 1 or 9999 overflows
the conversion to UTC. These types refuse both with a 422 that names the parameter. ``since`` and ``until`` take
the forms :mod:`flowmon.application.time_bounds` parses for every list (relative windows, days, date-times).
A parameter that takes one value, given more than once, is refused on every route (:func:`one_value_each`).
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, PlainValidator
from pydantic_core import PydanticCustomError

from flowmon.application.errors import Invalid
from flowmon.application.rotation import MAX_GRACE_SECONDS
from flowmon.application.time_bounds import ACCEPTED, Bound, time_bound
from flowmon.engine.core.events import MAX_SEQ, utcnow

MAX_INT64 = 2**63 - 1


def _time_bound(bound: Bound) -> PlainValidator:
    def parse(value: object) -> datetime | None:
        if value is None:
            return None
        try:
            return time_bound(value, utcnow(), bound=bound, label='')  # resolved as the request is handled
        except Invalid as exc:
            raise PydanticCustomError('time_bound', str(exc)) from None

    return PlainValidator(parse, json_schema_input_type=str)


Since = Annotated[datetime, _time_bound('since')]
"""``since`` of every list and filter: a relative window, a day or a date-time (see
:mod:`flowmon.application.time_bounds`); the loc of a refusal names the parameter."""
Until = Annotated[datetime, _time_bound('until')]
"""``until`` of every list and filter: a day (through its end) or a date-time."""
Offset = Annotated[int, Query(ge=0, le=MAX_INT64, description='items to skip')]
Sequence = Annotated[int, Query(ge=0, le=MAX_SEQ, description='return events after this sequence number')]
GraceSeconds = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_GRACE_SECONDS,
        description='how long the old secret keeps working alongside the new one, in seconds: 0 stops it at once '
        f'(after a leak), at most {MAX_GRACE_SECONDS} (24 h, the default)',
    ),
]
"""``grace_seconds`` of a secret rotation (trigger and endpoint secrets alike)."""


@dataclass(frozen=True, slots=True)
class Window:
    """What every list route takes: a creation-time window ``[since, until)`` and a page (``limit``, ``offset``)."""

    since: datetime | None
    until: datetime | None
    limit: int
    offset: int

    def query(self) -> dict[str, Any]:
        return asdict(self)


def _window(
    since: Annotated[Since | None, Query(description=f'created at or after it: {ACCEPTED["since"]}')] = None,
    until: Annotated[Until | None, Query(description=f'created before it: {ACCEPTED["until"]}')] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Window:
    return Window(since=since, until=until, limit=limit, offset=offset)


Listing = Annotated[Window, Depends(_window)]


def one_value_each(request: Request) -> None:
    """Refuse a query parameter that the request's route takes one value of, given more than once
    (``?limit=5&limit=10``): FastAPI would take its last value, unseen. A parameter that takes a list keeps its
    values, and one the route does not take stays ignored. A dependency of every route of the API."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) == len(set(names)):
        return
    route = request.scope.get('route')
    single = _single_valued(route.dependant) if isinstance(route, APIRoute) else set()
    for name, given in Counter(names).items():  # the first repeated one, as the query names them
        if given > 1 and name in single:
            raise Invalid(f'query parameter {name!r} is given {given} times; it takes one value', at=name)


def _single_valued(dependant: Dependant) -> set[str]:
    """The names of the query parameters of a route (its dependencies' too) that take one value: all but those that
    FastAPI reads as a list (``list[str]``; a query model's fields alike)."""
    found = {parameter.name: parameter.annotation for parameter in route_parameters(dependant, 'query')}
    return {name for name, annotation in found.items() if not _takes_many(annotation)}


Source = Literal['path', 'query', 'header']


@dataclass(frozen=True, slots=True)
class Parameter:
    """One input a route reads outside its body: where (``source``), by which name the request gives it (an alias
    where it has one), and its type."""

    source: Source
    name: str
    annotation: Any


def route_parameters(dependant: Dependant, *sources: Source) -> Iterator[Parameter]:
    """The parameters a route (its ``dependant``) reads from the path, the query and the headers (or only from
    ``sources``), its dependencies' too: a model of query parameters (``Annotated[Page, Query()]``) as each of its
    fields, as FastAPI reads them. Both the refusal of a parameter given twice and the ``loc`` of a refusal that
    names an input (:func:`~flowmon.api.errors.input_loc`) read a route this way."""
    wanted: tuple[Source, ...] = sources or ('path', 'query', 'header')
    pending = [dependant]
    while pending:
        current = pending.pop()
        read = {
            'path': current.path_params,
            'query': current.query_params,
            'header': current.header_params,
        }
        for source in wanted:
            for field in read[source]:
                annotation = field.field_info.annotation
                if source == 'query' and isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    for name, info in annotation.model_fields.items():  # a model of query parameters
                        yield Parameter(source, info.alias or name, info.annotation)
                else:
                    yield Parameter(source, field.alias, annotation)
        pending.extend(current.dependencies)


def _takes_many(annotation: Any) -> bool:
    """Whether a query parameter of this type takes several values, as FastAPI reads it: a list, tuple, set or other
    sequence (text aside), also within ``Annotated`` and optional unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _takes_many(get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_many(arg) for arg in get_args(annotation) if arg is not type(None))
    kind = origin or annotation
    return (
        isinstance(kind, type)
        and issubclass(kind, collections.abc.Sequence | collections.abc.Set)
        and not issubclass(kind, str | bytes)
    )
