"""``/api/workflows``: list, read, create or replace, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from flowmon.application.views import workflow_listing

from .dependencies import Stats, Workflows

router = APIRouter(prefix='/api/workflows', tags=['workflows'])
# What a PUT body is, for /docs and generated clients: filled in when the API is installed (the schema depends on
# the node types the application was built with); the route's own validation stays the authority.
DEFINITION_BODY: dict[str, Any] = {'schema': {'type': 'object'}}


@router.get('')
async def list_workflows(workflows: Workflows) -> list[dict[str, Any]]:
    return [workflow_listing(stored) for stored in await workflows.all()]


@router.get('/{workflow_id}')
async def get_workflow(workflow_id: str, workflows: Workflows) -> dict[str, Any]:
    return (await workflows.get(workflow_id)).definition


@router.get('/{workflow_id}/stats', responses={404: {'description': 'unknown workflow'}})
async def workflow_stats(workflow_id: str, stats: Stats) -> dict[str, Any]:
    """Per node of the workflow: ``count``, ``p50_seconds`` and ``p95_seconds`` over its last 50 successful runs
    (``null`` without runs)."""
    nodes = await stats.nodes(workflow_id)
    return {'nodes': {node_id: usual.to_json() for node_id, usual in nodes.items()}}


@router.put(
    '/{workflow_id}',
    responses={200: {'description': 'replaced'}, 201: {'description': 'created'}, 422: {}},
    openapi_extra={
        'requestBody': {'content': {'application/json': DEFINITION_BODY, 'application/yaml': DEFINITION_BODY}}
    },
)
async def put_workflow(workflow_id: str, request: Request, response: Response, workflows: Workflows) -> dict[str, Any]:
    yaml = 'yaml' in request.headers.get('content-type', '')
    definition, created = await workflows.put(workflow_id, await request.body(), yaml=yaml)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return definition


@router.delete('/{workflow_id}', status_code=204)
async def delete_workflow(workflow_id: str, workflows: Workflows) -> Response:
    await workflows.delete(workflow_id)
    return Response(status_code=204)
