"""Inbound triggers and schedules.

``POST /hooks/{workflow_id}`` is public: the Standard Webhooks signature made with the workflow's trigger secret is
its authentication (401 without a valid one, 404 when the workflow does not accept triggers, 413 over the payload
budget ``FLOWMON_MAX_PAYLOAD_BYTES``, 422 for a body that is not JSON or nests more than 64 levels).
The management routes (trigger secret, schedule pause/resume) live under ``/api/workflows/{id}`` and need the token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from flowmon.application.errors import TooLarge

from .dependencies import Automation

hook_router = APIRouter(tags=['triggers'])  # no bearer token: the signature authenticates
automation_router = APIRouter(prefix='/api/workflows/{workflow_id}', tags=['triggers'])


@hook_router.post(
    '/hooks/{workflow_id}',
    status_code=status.HTTP_202_ACCEPTED,
    responses={401: {}, 404: {}, 413: {}, 422: {}},
    openapi_extra={'requestBody': {'content': {'application/json': {'schema': {'type': 'object'}}}}},
)
async def receive(workflow_id: str, request: Request, automation: Automation) -> dict[str, Any]:
    body = await _bounded_body(request, automation.max_body_bytes)
    received = await automation.receive(workflow_id, request.headers, body)
    return {'execution_id': received.execution_id, 'workflow_id': workflow_id, 'replayed': received.replayed}


@automation_router.get('/trigger')
async def trigger_info(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.trigger(workflow_id)


@automation_router.get('/trigger/secret')
async def reveal_trigger_secret(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.reveal_trigger_secret(workflow_id)


@automation_router.post('/trigger/secret/rotate')
async def rotate_trigger_secret(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.rotate_trigger_secret(workflow_id)


@automation_router.get('/schedule')
async def schedule_info(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.schedule(workflow_id)


@automation_router.post('/schedule/pause')
async def pause_schedule(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.set_paused(workflow_id, True)


@automation_router.post('/schedule/resume')
async def resume_schedule(workflow_id: str, automation: Automation) -> dict[str, Any]:
    return await automation.set_paused(workflow_id, False)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it is over the limit (a huge upload is never buffered)."""
    declared = request.headers.get('content-length', '')
    too_large = f'body is over the {limit}-byte limit (FLOWMON_MAX_PAYLOAD_BYTES)'
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(too_large)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise TooLarge(too_large)
    return bytes(body)
