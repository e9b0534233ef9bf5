"""The error answers in ``/openapi.json``: one ``Error`` model for every 4xx, as flowmon sends them.

FastAPI documents every route's 422 as its own ``HTTPValidationError`` (``detail``: a list of ``{loc, msg, type}``),
while flowmon answers every refusal ``{"detail": "<what is wrong, in words>"}``, and a request that does not fit its
schema, or a refusal about one input (a query parameter, a header, a body field), with ``errors`` as well: each
problem and where it is (:mod:`.errors`): a client generated from FastAPI's document
failed to read every 422. The document is rewritten once, when it is first built: each documented 4xx answer is an
``Error``, and the answers every route of a kind can give are documented too (401 where the bearer token is needed, 404
where a path names something, 413 where there is a body, 400 for a JSON body that is not JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from .answer_docs import document_answers

ERROR = 'Error'
ERROR_REF = {'$ref': f'#/components/schemas/{ERROR}'}
ERROR_SCHEMAS: dict[str, Any] = {
    ERROR: {
        'title': ERROR,
        'type': 'object',
        'required': ['detail'],
        'properties': {
            'detail': {'type': 'string', 'description': 'What is wrong, in words.'},
            'errors': {
                'type': 'array',
                'description': 'A refusal about particular inputs (a query parameter, a header, a body field, '
                'a request that does not fit its schema): each problem, where it is.',
                'items': {'$ref': '#/components/schemas/ErrorItem'},
            },
        },
    },
    'ErrorItem': {
        'title': 'ErrorItem',
        'type': 'object',
        'required': ['loc', 'msg', 'type'],
        'properties': {
            'loc': {
                'type': 'array',
                'description': 'Where: "body", "query", "path" or "header", then the field names and list indexes.',
                'items': {'anyOf': [{'type': 'string'}, {'type': 'integer'}]},
            },
            'msg': {'type': 'string', 'description': 'What is wrong with that input, in words.'},
            'type': {
                'type': 'string',
                'description': "The kind of problem: pydantic's for a request that does not fit its schema "
                "('missing', 'dict_type', ...), else 'invalid', 'malformed', 'too_large', 'not_found', 'conflict' "
                "or 'stale'.",
            },
        },
    },
}
# FastAPI's own models of a 422, replaced by the one above.
FASTAPI_ERRORS = ('HTTPValidationError', 'ValidationError')
DESCRIPTIONS = {
    '400': 'Malformed: a body that is not JSON (or not sent as JSON), nested too deeply, or a value out of range',
    '401': 'Missing or wrong bearer token',
    '404': 'Not found',
    '409': 'Conflict with the current state',
    '413': 'Over a size limit',
    '422': 'Refused: the message says which field and why',
    '429': 'Too many wrong tokens from this address: wait Retry-After seconds',
}
MARK = '_flowmon_documents_errors'


def document_errors(app: FastAPI) -> None:
    """Have ``app.openapi()`` describe the error answers as flowmon sends them (once per app)."""
    if getattr(app, MARK, False):
        return
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_answers(rewritten(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    setattr(app, MARK, True)


def rewritten(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (changed in place) with every 4xx answer an ``Error`` and the usual ones documented."""
    for path, item in document.get('paths', {}).items():
        for method, operation in item.items():
            if method in ('get', 'put', 'post', 'patch', 'delete') and isinstance(operation, dict):
                _document(path, operation)
    schemas = document.setdefault('components', {}).setdefault('schemas', {})
    for name in FASTAPI_ERRORS:
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    return document


def _document(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault('responses', {})
    usual = []
    if operation.get('security'):
        usual.append('401')
    if '{' in path:
        usual.append('404')
    if 'requestBody' in operation:
        usual.append('413')  # FLOWMON_MAX_BODY_BYTES, before anything reads the body
        if 'json' in ' '.join(operation['requestBody'].get('content', {})):
            usual.append('400')
    for code in usual:
        responses.setdefault(code, {})
    for code, response in responses.items():
        if code.startswith('4') and isinstance(response, dict):
            if not response.get('description') or response['description'] in (
                'Validation Error',
                'Additional Response',
            ):
                response['description'] = DESCRIPTIONS.get(code, 'Refused')
            response['content'] = {'application/json': {'schema': ERROR_REF}}
    operation['responses'] = dict(sorted(responses.items()))
