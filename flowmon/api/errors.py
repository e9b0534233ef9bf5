"""Error responses with messages that name the problem; never a 500 for bad input.

Every refusal of a use case is an :class:`~flowmon.application.errors.AppError`; :data:`STATUS` says which status
code each kind gets, and one exception handler answers them all (``{"detail": message}``). A refusal about one input
(its ``at``: a query parameter, a header, a body field) also has ``errors: [{loc, msg, type}]``, as a request that
does not fit its schema has: ``loc`` starts with where the route takes that input from (:func:`input_loc`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, get_args

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from flowmon.application.errors import (
    AppError,
    Conflict,
    Invalid,
    Malformed,
    NotFound,
    Stale,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from flowmon.engine.core.inputs import NOT_AN_OBJECT, Loc, body_location, in_body, schema_problem
from flowmon.engine.core.payload import MAX_PARSE_DEPTH, DuplicateKey, json_text_depth, loads_unique
from flowmon.engine.core.payload_values import unstorable_at

from .params import route_parameters

log = logging.getLogger(__name__)


MAX_ERRORS_LISTED = 20  # a schema's refusal lists this many of its errors (a body can hold thousands)
MAX_ERRORS_SAID = 5  # and its detail says this many of them
MAX_PLACE_CHARS = 40  # a key the detail's place names, cut to this many (errors[].loc holds it whole)


def schema_refusals(request: Request, errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``errors`` of a request that does not fit its schema (the first :data:`MAX_ERRORS_LISTED`), each ``{loc,
    msg, type}`` with its message in the words a workflow's refusals use
    (:func:`~flowmon.engine.core.inputs.schema_problem`): a key the body has no place for is said with the keys that
    place takes, as a saved view's filter says it, and comes first (a typo explains the rest: the key it misspells is
    missing); a value that is not an object is said so."""
    said = []
    keys: dict[tuple[Any, ...], tuple[str, ...]] = {}  # the keys of each place, looked up once
    first = sorted(errors, key=lambda error: error.get('type') != 'extra_forbidden')[:MAX_ERRORS_LISTED]
    for error in first:
        loc = list(error.get('loc', ()))
        message = _whole_body_problem(error) if loc == ['body'] else None
        if message is None:
            place = tuple(loc[:-1])
            if place not in keys:
                keys[place] = body_keys(request, loc)
            message = schema_problem(error, keys[place])
        said.append({'loc': loc, 'msg': message, 'type': error.get('type')})
    return said


def _whole_body_problem(error: dict[str, Any]) -> str | None:
    """What is wrong with a body that is missing or not an object, said of the body (its message has no place to
    name: 'Field required' alone read as if of some field)."""
    if error.get('type') == 'missing':
        return 'the request body is required: a JSON object'
    if error.get('type') in NOT_AN_OBJECT:
        return 'the request body must be a JSON object'
    return None


def describe_validation(errors: list[dict[str, Any]], total: int) -> str:
    """The ``detail`` of a schema's refusal of ``total`` errors: up to :data:`MAX_ERRORS_SAID` of ``errors``, each
    ``where: msg`` (``query.limit``; a place in the body without ``body`` before it, ``filter.limit``, but a field
    named ``body`` named still), and how many more there are. A key longer than :data:`MAX_PLACE_CHARS` (a custom
    header's name may be 8 KiB) is cut there, an ellipsis marking the cut."""
    parts = []
    for error in errors[:MAX_ERRORS_SAID]:
        loc = list(error.get('loc', ()))
        location = '.'.join(_place(part) for part in (loc[1:] if loc[:1] == ['body'] else loc))
        message = str(error.get('msg'))
        parts.append(f'{location}: {message}' if location else message)
    more = total - len(parts)
    if more <= 0:
        return '; '.join(parts)
    listed = 'in errors' if len(errors) == total else f'errors lists the first {len(errors)}'
    return f'{"; ".join(parts)} (and {more} more, {listed})'


def _place(part: Any) -> str:
    text = str(part)
    return text if len(text) <= MAX_PLACE_CHARS else f'{text[:MAX_PLACE_CHARS]}…'


def body_keys(request: Request, loc: Sequence[Any]) -> tuple[str, ...]:
    """The keys the request's body takes in the object that holds the place ``loc`` (``('body', 'filter',
    'limit')``: the keys of a bulk action's ``filter``), as its route's schema declares them; none when ``loc`` is
    not in the body or the schema does not say (a payload, one of several models)."""
    route = request.scope.get('route')
    if not loc or loc[0] != 'body' or not isinstance(route, APIRoute) or route.body_field is None:
        return ()
    annotation: Any = route.body_field.field_info.annotation
    for step in loc[1:-1]:  # an index, a key of a mapping or a field of a model on the way
        fields = {key: info for model in _models(annotation) for key, info in _fields(model)}
        if isinstance(step, str) and step in fields:
            annotation = fields[step].annotation
    models = _models(annotation)
    return tuple(key for key, _ in _fields(models[0])) if len(models) == 1 else ()


def _fields(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """A model's fields by the keys a body names them with (an alias where a field has one)."""
    return [(info.alias or name, info) for name, info in model.model_fields.items()]


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds a value of (``Spec | None``, ``list[Spec]``, ``dict[str, Spec]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models(arg)]


RETRY_AFTER_S = 5  # what a 503 (flowmon busy, starting or stopping) asks a client to wait before it tries again

STATUS: dict[type[AppError], int] = {
    Malformed: 400,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    Stale: 412,
    TooLarge: 413,
    Invalid: 422,
    Unavailable: 503,
}


# ``type`` of the ``errors`` item of a refusal about one input, by status code
ERROR_TYPES = {400: 'malformed', 404: 'not_found', 409: 'conflict', 412: 'stale', 413: 'too_large', 422: 'invalid'}


def status_of(error: AppError) -> int:
    """The status code of the most specific kind ``error`` is (an oversized payload is 413, not 422)."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 400)


def input_loc(request: Request, at: Loc) -> list[str | int] | None:
    """``at`` (an input a refusal names: ``('status',)``, ``('filter', 'status')``, ``('If-Match',)``) as the ``loc``
    of a request validation error: behind ``query``, ``header`` or ``path`` when the request's route takes a
    parameter of that name there, else behind ``body``. None without ``at`` or outside a route."""
    route = request.scope.get('route')
    if not at or not isinstance(route, APIRoute):
        return None
    name, rest = at[0], list(at[1:])
    sources = _parameters(route.dependant)
    for source in ('path', 'query', 'header'):
        alias = sources[source].get(str(name).lower())
        if alias is not None:
            return [source, alias, *rest]
    return ['body', name, *rest]


def _parameters(dependant: Dependant) -> dict[str, dict[str, str]]:
    """The route's parameters by where they are read, each alias by its lower-case form (headers are read
    whatever their case)."""
    found: dict[str, dict[str, str]] = {'path': {}, 'query': {}, 'header': {}}
    for parameter in route_parameters(dependant):
        found[parameter.source][parameter.name.lower()] = parameter.name
    return found


def not_json(content_type: str | None) -> str | None:
    """None when FastAPI reads a body of this ``Content-Type`` as JSON (``application/json``,
    ``application/...+json``); else what the request said instead."""
    media = (content_type or '').split(';', 1)[0].strip().lower()
    main, _, sub = media.partition('/')
    if main == 'application' and (sub == 'json' or sub.endswith('+json')):
        return None
    return f'not {media[:60]!r}' if media else 'no Content-Type was given'


_UNPARSED = object()


class MeasuredBodyRoute(APIRoute):
    """A route whose JSON body is checked and measured before FastAPI parses it into the route's model.

    A body sent as anything but JSON (a form, text) that the model refuses gets a 400 that says the body must be
    JSON, instead of a 422 about the model's shape (after the token: dependencies run first). Text nested deeper
    than :data:`~flowmon.engine.core.payload.MAX_PARSE_DEPTH` gets a 400 that says so, instead of a parser
    recursion; shallower bodies are parsed, and the models then hold each payload in them to the payload budget
    with a message that names the field. An object anywhere in the body that names one key twice gets a 400 naming
    the key, with ``errors[].loc`` the place of that object (a parser would keep its last value unseen); the body is
    parsed once, here, and FastAPI is handed what was parsed.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def measured(request: Request) -> Response:
            request = ParsedBodyRequest(request.scope, request.receive)  # nothing has read the body yet
            body = await request.body()  # kept by the request: FastAPI reads the same bytes
            instead = not_json(request.headers.get('content-type')) if body else None
            if body:  # said when the body is refused, after the token (a dependency) was checked
                request.state.body_not_json = instead
            if body and json_text_depth(body, stop_above=MAX_PARSE_DEPTH) > MAX_PARSE_DEPTH:
                raise HTTPException(400, f'the request body is nested more than {MAX_PARSE_DEPTH} levels deep')
            if body and instead is None:  # a body FastAPI reads as JSON
                try:
                    request.parsed = loads_unique(body, 'the request body')
                except DuplicateKey as exc:
                    raise in_body(Malformed(str(exc)), *exc.path) from None
                except ValueError:
                    pass  # not JSON: FastAPI's parser says so, as it does without this check
                else:
                    if _UNSTORABLE_ESCAPE.search(body):  # (JSON holds a NUL or a lone surrogate only as such an escape)
                        _refuse_unstorable(request.parsed)
            return await handler(request)

        return measured


class ParsedBodyRequest(Request):
    """A request whose JSON body :class:`MeasuredBodyRoute` parsed (keys checked) before FastAPI asks for it."""

    parsed: Any = _UNPARSED

    async def json(self) -> Any:
        return await super().json() if self.parsed is _UNPARSED else self.parsed


# \u0000 and a surrogate's escape (\ud800-\udfff, also the two halves of a character beyond the BMP)
_UNSTORABLE_ESCAPE = re.compile(rb'\\u(?:0000|[dD][89a-fA-F])')


def _refuse_unstorable(body: Any) -> None:
    """A 422 naming the first string or key of a parsed JSON body that holds what no database stores (a NUL
    character, a lone surrogate): every string of a body is an id, a name, a filter or a payload."""
    found = unstorable_at(body)
    if found is not None:
        held, what = found
        raise RequestValidationError([{'loc': ['body', *held], 'msg': f'{what} cannot be stored', 'type': 'invalid'}])


API_PREFIX = '/api/'
HOOKS_PREFIX = '/hooks/'  # the inbound triggers: POST only
METHOD_ORDER = ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')
MAX_PATH_SHOWN = 200  # characters of a path a 404 or 405 repeats


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path (Starlette's 405 names only the first
    route that matches the path: ``Allow: GET`` for a path that takes PUT and DELETE too)."""
    router = request.scope.get('router') or request.app.router  # the router that found no route for the method
    allowed = [
        method
        for method in METHOD_ORDER
        if any(route.matches({**request.scope, 'method': method})[0] is Match.FULL for route in router.routes)
    ]
    if 'GET' in allowed and 'HEAD' not in allowed:  # the perimeter answers HEAD as GET (perimeter.head_as_get)
        allowed.insert(1, 'HEAD')
    return allowed


def api_http_refusal(request: Request, exc: StarletteHTTPException) -> JSONResponse | None:
    """The answer to Starlette's own 404 (no route) on an ``/api/`` path, and to its 405 (no such method) on an
    ``/api/`` or ``/hooks/`` path, naming what was asked for; None elsewhere, and for any other HTTP exception."""
    path = request.url.path
    shown = path if len(path) <= MAX_PATH_SHOWN else f'{path[:MAX_PATH_SHOWN]}...'
    if exc.status_code == 404 and exc.detail == 'Not Found' and path.startswith(API_PREFIX):
        return JSONResponse({'detail': f'no API route at {shown}'}, status_code=404, headers=exc.headers)
    if exc.status_code == 405 and path.startswith((API_PREFIX, HOOKS_PREFIX)):
        allowed = allowed_methods(request)
        headers = {**(exc.headers or {}), 'Allow': ', '.join(allowed)} if allowed else exc.headers
        detail = f'{request.method} is not allowed on {shown} (allowed: {", ".join(allowed) or "none"})'
        return JSONResponse({'detail': detail}, status_code=405, headers=headers)
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [dict(error) for error in exc.errors()]
        if any(error.get('type') == 'json_invalid' for error in errors):
            return JSONResponse({'detail': 'malformed JSON in the request body'}, status_code=400)
        instead = getattr(request.state, 'body_not_json', None)
        if instead and any(tuple(error.get('loc', ()))[:1] == ('body',) for error in errors):
            detail = f'the request body must be JSON (Content-Type: application/json); {instead}'
            errors = [{'loc': ['header', 'content-type'], 'msg': detail, 'type': ERROR_TYPES[400]}]
            return JSONResponse({'detail': detail, 'errors': errors}, status_code=400)
        said = schema_refusals(request, errors)
        return JSONResponse({'detail': describe_validation(said, len(errors)), 'errors': said}, status_code=422)

    async def unmanageable_input(request: Request, exc: Exception) -> JSONResponse:
        """The safety net behind bounded parsing: input that recursed too deeply or overflowed is a 400, not a 500."""
        log.warning(
            '%s %s: %s while handling the request: %s', request.method, request.url.path, type(exc).__name__, exc
        )
        if isinstance(exc, RecursionError):
            detail = 'the request is nested too deeply to be handled'
        else:
            detail = 'a number or date in the request is out of range'
        return JSONResponse({'detail': detail}, status_code=400)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        status = status_of(exc)
        headers = {'Retry-After': str(RETRY_AFTER_S)} if status == 503 else {}
        if isinstance(exc, Stale) and exc.version is not None:  # what is stored now: If-Match it to overwrite it
            headers['ETag'] = f'"{exc.version}"'
        content: dict[str, Any] = {'detail': str(exc)}
        path = body_location(exc)
        loc = ['body', *path] if path is not None else input_loc(request, exc.at)
        if loc is not None:
            content['errors'] = [{'loc': loc, 'msg': str(exc), 'type': ERROR_TYPES.get(status, 'invalid')}]
        return JSONResponse(content, status_code=status, headers=headers or None)

    async def http_refusal(request: Request, exc: Exception) -> Response:
        """Starlette's and FastAPI's HTTP exceptions: as FastAPI answers them, but a missing ``/api/`` route or
        method says which (a 404 handler for pages leaves ``/api/`` paths to this one)."""
        assert isinstance(exc, StarletteHTTPException)
        return api_http_refusal(request, exc) or await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_refusal)
    app.add_exception_handler(AppError, refused)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RecursionError, unmanageable_input)
    app.add_exception_handler(OverflowError, unmanageable_input)
