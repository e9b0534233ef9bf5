"""Export, import and replay position: ``/api/executions/{id}/export``, ``/api/executions/import`` and
``/api/executions/{id}/state?at=k``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from starlette.datastructures import UploadFile

from flowmon.engine.events import utcnow
from flowmon.engine.state import initial_state
from flowmon.services import NotFound, Services
from flowmon.store.codec import dumps
from flowmon.store.exchange import (
    ExportMalformed,
    ExportUnavailable,
    ImportRejected,
    export_execution,
    import_execution,
    parse_export,
)

from .documents import export_schema

MAX_IMPORT_BYTES = 50 * 1024 * 1024  # the body cap of the import route (flowmon.perimeter)


def exchange_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api/executions', tags=['executions'])

    @router.get(
        '/{execution_id}/export', response_class=Response, responses={200: {'content': {'application/json': {}}}}
    )
    async def export(execution_id: str) -> Response:
        """The finished execution as one JSON file: workflow definition and every event."""
        await services.recorder.flush()
        try:
            document = await export_execution(services.history, execution_id, utcnow())
        except ExportUnavailable as exc:
            raise HTTPException(409, str(exc)) from None
        if document is None:
            raise HTTPException(404, f'execution {execution_id!r} not found')
        filename = f'flowmon-{document["execution"]["workflow_id"] or "execution"}-{execution_id}.json'
        return Response(
            content=dumps(document),
            media_type='application/json',
            headers={'Content-Disposition': f'attachment; filename="{_safe_filename(filename)}"'},
        )

    @router.post(
        '/import',
        status_code=status.HTTP_201_CREATED,
        openapi_extra={
            'requestBody': {
                'content': {
                    'application/json': {'schema': export_schema(services.registry)},
                    'multipart/form-data': {
                        'schema': {'type': 'object', 'properties': {'file': {'type': 'string', 'format': 'binary'}}}
                    },
                }
            }
        },
    )
    async def import_(request: Request) -> dict[str, Any]:
        """Add an exported execution to history under a new id (read-only); 422 naming the problem if invalid.

        400 for a body that is not JSON or nests more than 512 levels (not parsed at all); 422 for any event whose
        data is over the payload budget (64 levels, ``FLOWMON_MAX_PAYLOAD_BYTES`` per payload) or whose fields do
        not fit the workflow (a node id that is not one of its nodes, on any event type).
        """
        declared = request.headers.get('content-length', '')
        if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
            raise HTTPException(413, f'the export is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB')
        content_type = request.headers.get('content-type', '')
        body = await _upload(request) if content_type.startswith('multipart/form-data') else await request.body()
        if len(body) > MAX_IMPORT_BYTES:
            raise HTTPException(413, f'the export is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB')
        if not body.strip():
            raise HTTPException(400, 'the request has no export document (send the JSON as the body or as "file")')
        try:
            document = parse_export(body)  # measured before it is parsed: never a parser recursion
        except ExportMalformed as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            imported = await import_execution(services.recorder, services.registry, document, budget=services.budget)
        except ImportRejected as exc:
            raise HTTPException(422, str(exc)) from None
        return {
            'id': imported.id,
            'imported_from': imported.imported_from,
            'status': imported.status,
            'events': imported.events,
        }

    @router.get('/{execution_id}/state')
    async def state_at(
        execution_id: str, at: Annotated[int | None, Query(description='position: after the first k events')] = None
    ) -> dict[str, Any]:
        """The execution summary as of position ``at`` (0..n; default n), folded from its stored events."""
        try:
            index = await services.replay_index(execution_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        k = index.n if at is None else at
        if not 0 <= k <= index.n:
            raise HTTPException(422, f'at must be between 0 and {index.n} (the number of events), got {k}')
        state = index.state_at(k) or initial_state(execution_id)
        return {
            **state.summary(),
            'position': {'at': k, 'events': index.n, 'elapsed_s': index.elapsed_at(k)},
        }

    return router


async def _upload(request: Request) -> bytes:
    """The bytes of the uploaded export: the form's ``file`` field, or its only file."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart: a clear 400, never a 500
        raise HTTPException(400, f'malformed multipart upload: {exc}') from None
    try:
        field = form.get('file')
        if field is None:
            files = [value for value in form.values() if isinstance(value, UploadFile)]
            field = files[0] if len(files) == 1 else None
        if field is None:
            raise HTTPException(400, 'the upload has no "file" field with the export')
        if isinstance(field, str):
            return field.encode()
        return await field.read(MAX_IMPORT_BYTES + 1)
    finally:
        await form.close()


def _safe_filename(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
