"""Inbound triggers and schedules.

``POST /hooks/{workflow_id}`` is public: the Standard Webhooks signature made with the workflow's trigger secret is
its authentication (401 without a valid one, 404 when the workflow does not accept triggers, 413 over the payload
budget ``FLOWMON_MAX_PAYLOAD_BYTES``, 422 for a body that is not JSON or nests more than 64 levels).
The management routes (trigger secret, schedule pause/resume) live under ``/api/workflows/{id}`` and need the token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from flowmon.automation.schedules import ScheduleNotFound
from flowmon.automation.triggers import (
    TriggerNotFound,
    TriggerPayloadInvalid,
    TriggerPayloadTooLarge,
    TriggerUnauthorized,
)
from flowmon.services import Services


def hook_routes(services: Services) -> APIRouter:
    """The public inbound trigger route (no bearer token: the signature authenticates)."""
    router = APIRouter(tags=['triggers'])

    @router.post(
        '/hooks/{workflow_id}',
        status_code=status.HTTP_202_ACCEPTED,
        responses={401: {}, 404: {}, 413: {}, 422: {}},
        openapi_extra={'requestBody': {'content': {'application/json': {'schema': {'type': 'object'}}}}},
    )
    async def receive(workflow_id: str, request: Request) -> dict[str, Any]:
        body = await _bounded_body(request, services.budget.max_bytes)
        try:
            received = await services.triggers.receive(workflow_id, request.headers, body)
        except TriggerNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except TriggerUnauthorized as exc:
            raise HTTPException(401, str(exc)) from None
        except TriggerPayloadTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except TriggerPayloadInvalid as exc:
            raise HTTPException(422, str(exc)) from None
        return {'execution_id': received.execution_id, 'workflow_id': workflow_id, 'replayed': received.replayed}

    return router


def automation_routes(services: Services) -> APIRouter:
    """Trigger secrets and schedules of a workflow (bearer token required)."""
    router = APIRouter(prefix='/api/workflows/{workflow_id}', tags=['triggers'])

    @router.get('/trigger')
    async def trigger_info(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.triggers.info(workflow_id)
        except TriggerNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get('/trigger/secret')
    async def reveal_trigger_secret(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.triggers.reveal_secret(workflow_id)
        except TriggerNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post('/trigger/secret/rotate')
    async def rotate_trigger_secret(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.triggers.rotate_secret(workflow_id)
        except TriggerNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get('/schedule')
    async def schedule_info(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.schedules.info(workflow_id)
        except ScheduleNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post('/schedule/pause')
    async def pause_schedule(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.schedules.pause(workflow_id)
        except ScheduleNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post('/schedule/resume')
    async def resume_schedule(workflow_id: str) -> dict[str, Any]:
        try:
            return await services.schedules.resume(workflow_id)
        except ScheduleNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    return router


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it is over the limit (a huge upload is never buffered)."""
    declared = request.headers.get('content-length', '')
    too_large = f'body is over the {limit}-byte limit (FLOWMON_MAX_PAYLOAD_BYTES)'
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, too_large)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(413, too_large)
    return bytes(body)
