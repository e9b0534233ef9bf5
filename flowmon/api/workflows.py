"""``/api/workflows``: list, read, create or replace, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from flowmon.engine.events import utcnow
from flowmon.engine.model import (
    MAX_DEFINITION_BYTES,
    DocumentRefused,
    DocumentTooLarge,
    WorkflowError,
    load_document,
)
from flowmon.services import Services

from .documents import workflow_schema


def workflow_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api/workflows', tags=['workflows'])
    definition = {'schema': workflow_schema(services.registry, id_required=False)}

    @router.get('')
    async def list_workflows() -> list[dict[str, Any]]:
        return [
            {
                'id': stored.id,
                'name': stored.name,
                'description': stored.definition.get('description'),
                'nodes': len(stored.definition.get('nodes', [])),
                'updated_at': stored.updated_at.isoformat(),
            }
            for stored in await services.catalog.all()
        ]

    @router.get('/{workflow_id}')
    async def get_workflow(workflow_id: str) -> dict[str, Any]:
        stored = await services.history.get_workflow(workflow_id)
        if stored is None:
            raise HTTPException(404, f'workflow {workflow_id!r} not found')
        return stored.definition

    @router.put(
        '/{workflow_id}',
        responses={200: {'description': 'replaced'}, 201: {'description': 'created'}, 422: {}},
        openapi_extra={'requestBody': {'content': {'application/json': definition, 'application/yaml': definition}}},
    )
    async def put_workflow(workflow_id: str, request: Request, response: Response) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_DEFINITION_BYTES:
            raise HTTPException(413, f'workflow definition is larger than {MAX_DEFINITION_BYTES} bytes')
        yaml_allowed = 'yaml' in request.headers.get('content-type', '')
        try:
            if yaml_allowed:  # YAML parses slowly: in a worker thread, so the event loop keeps serving
                raw = await asyncio.to_thread(load_document, body, yaml_allowed=True)
            else:
                raw = load_document(body)
        except DocumentTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except DocumentRefused as exc:
            raise HTTPException(422, str(exc)) from None
        except WorkflowError as exc:
            raise HTTPException(400, f'malformed workflow document: {exc}') from None
        try:
            workflow, created = await services.catalog.put(workflow_id, raw, utcnow())
        except WorkflowError as exc:
            raise HTTPException(422, str(exc)) from None
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return workflow.definition()

    @router.delete('/{workflow_id}', status_code=204)
    async def delete_workflow(workflow_id: str) -> Response:
        if not await services.catalog.delete(workflow_id):
            raise HTTPException(404, f'workflow {workflow_id!r} not found')
        return Response(status_code=204)

    return router
