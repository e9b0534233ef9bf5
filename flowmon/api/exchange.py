"""Export, import and replay position: ``/api/executions/{id}/export``, ``/api/executions/import`` and
``/api/executions/{id}/state?at=k``."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.datastructures import UploadFile

from flowmon.application.errors import Invalid, Malformed, TooLarge
from flowmon.application.exchange import IMPORT_LIMIT, MAX_IMPORT_BYTES, ExportStream
from flowmon.application.views import imported_view, position_summary
from flowmon.engine.core.inputs import body_location, in_body

from .dependencies import Exchange, History, Stats
from .written import WrittenAsReadResponse

router = APIRouter(prefix='/api/executions', tags=['executions'])
# An export as the import takes it, for /docs and generated clients: filled in when the API is installed.
EXPORT_BODY: dict[str, Any] = {'schema': {'type': 'object'}}
TOO_LARGE = f'the export is larger than {IMPORT_LIMIT}'
log = logging.getLogger(__name__)


def export_response(execution_id: str, stream: ExportStream) -> Response:
    """An export file written as it is read (see ``Exchange.stream``): a failing read of a later page ends it
    unfinished, a document the import refuses."""
    return WrittenAsReadResponse(
        stream.chunks,
        close=stream.close,
        log=log,
        failure=f'exporting execution {execution_id!r} failed; its file ends unfinished',
        headers={'Content-Disposition': f'attachment; filename="{stream.filename}"'},
    )


IMPORT_REFUSALS: dict[int | str, dict[str, Any]] = {
    422: {'description': 'the file refused: its format or version, an event (named) and the problem'},
    503: {'description': 'another export file is being imported: try again after Retry-After seconds'},
}


@router.get(
    '/{execution_id}/export',
    response_class=Response,
    responses={
        200: {'content': {'application/json': {}}},
        409: {'description': 'still queued or running, or stored without its workflow definition'},
    },
)
async def export(execution_id: str, exchange: Exchange) -> Response:
    """The finished execution as one JSON file: workflow definition and every event, written as it is read."""
    return export_response(execution_id, await exchange.stream(execution_id))


@router.post(
    '/import',
    status_code=status.HTTP_201_CREATED,
    responses=IMPORT_REFUSALS,
    openapi_extra={
        'requestBody': {
            'content': {
                'application/json': EXPORT_BODY,
                'multipart/form-data': {
                    'schema': {'type': 'object', 'properties': {'file': {'type': 'string', 'format': 'binary'}}}
                },
            }
        }
    },
)
async def import_(request: Request, exchange: Exchange) -> dict[str, Any]:
    """Add an exported execution to history under a new id (read-only); 422 naming the problem if invalid, with
    ``errors[].loc`` its place in the file (``["body", "events", 3, "seq"]``; ``["body", "file", ...]`` for an upload).

    400 for a body that is not JSON or nests more than 512 levels (not parsed at all); 422 for any event whose
    data is over the payload budget (64 levels, ``FLOWMON_MAX_PAYLOAD_BYTES`` per payload) or whose fields do
    not fit the workflow (a node id that is not one of its nodes, on any event type).
    """
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise in_body(TooLarge(TOO_LARGE))
    content_type = request.headers.get('content-type', '')
    uploaded = content_type.startswith('multipart/form-data')
    field, body = await _upload(request) if uploaded else ('', await request.body())
    try:
        if len(body) <= MAX_IMPORT_BYTES and not body.strip():
            raise in_body(Malformed('the request has no export document (send the JSON as the body or as "file")'))
        return imported_view(await exchange.import_file(body))
    except Invalid as exc:  # (Malformed and TooLarge too: each is one)
        path = body_location(exc)
        if uploaded and path is not None:  # a place in the uploaded file, the form's "file" field (or its only file)
            in_body(exc, field, *path)
        raise


@router.get('/{execution_id}/state')
async def state_at(
    execution_id: str,
    history: History,
    stats: Stats,
    at: Annotated[int | None, Query(description='position: after the first k events')] = None,
) -> dict[str, Any]:
    """The execution summary as of position ``at`` (0..n; default n), folded from its stored events; a node running
    at that position is slow when it had already run longer than usual by then."""
    position = await history.position(execution_id, at)
    return position_summary(position, await stats.slow_nodes(position.state, position.state.last_ts))


async def _upload(request: Request) -> tuple[str, bytes]:
    """The name and the bytes of the form's field that holds the uploaded export: its ``file`` field, or its only
    file."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart: a clear 400, never a 500
        raise in_body(Malformed(f'malformed multipart upload: {exc}')) from None
    try:
        name, field = 'file', form.get('file')
        if field is None:
            files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
            name, field = files[0] if len(files) == 1 else (name, None)
        if field is None:
            raise in_body(Malformed('the upload has no "file" field with the export'), 'file')
        if isinstance(field, str):
            return name, field.encode()
        return name, await field.read(MAX_IMPORT_BYTES + 1)
    finally:
        await form.close()
