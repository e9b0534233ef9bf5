"""Inbound triggers and schedules.

``POST /hooks/{workflow_id}`` is public: the Standard Webhooks signature made with the workflow's trigger secret is
its authentication (401 without a valid one; 404 ``no trigger at this address`` alike for a workflow that does not
exist, does not accept triggers (any longer) or has no secret, before any signature work and from the same one small
read, so neither the answer nor its time tells such a workflow from none; the body is read only after that and after
the signature headers that need no body checked out; 409 for a ``webhook-id`` used
before with another body; 413 over the payload budget ``FLOWMON_MAX_PAYLOAD_BYTES``, 422 for a body that is not JSON,
nests more than 64 levels, names a key twice or holds a NUL character or a lone surrogate).
The management routes (trigger secret and its rotation, schedule pause/resume) live under ``/api/workflows/{id}`` and
need the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from flowmon.application.automation import Automation as AutomationUseCases
from flowmon.application.errors import TooLarge

from .dependencies import Automation
from .params import GraceSeconds

hook_router = APIRouter(tags=['triggers'])  # no bearer token: the signature authenticates
automation_router = APIRouter(prefix='/api/workflows/{workflow_id}', tags=['triggers'])


class HookAccepted(BaseModel):
    """What a trigger answers (scripts read these names)."""

    execution_id: str = Field(description='the execution the call started (or, replayed, the one its first call did)')
    workflow_id: str
    replayed: bool = Field(
        description='true when this webhook-id was received before with the same body: no new execution'
    )


# The Standard Webhooks headers a caller signs with (read by the trigger service from the request's headers: declared
# here for /docs and generated clients)
SIGNATURE_HEADERS = (
    (
        'webhook-id',
        "the message's id (at most 256 characters, no '.' and no NUL), the same on each retry of it (a retry is "
        'answered with the first execution)',
    ),
    ('webhook-timestamp', 'Unix seconds when it was signed; refused more than 5 minutes away from now'),
    (
        'webhook-signature',
        '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` with the trigger secret (without its '
        '`whsec_` prefix, base64-decoded); several space-separated entries may be sent, any one matching will do',
    ),
)


@hook_router.post(
    '/hooks/{workflow_id}',
    status_code=status.HTTP_202_ACCEPTED,
    response_model=HookAccepted,
    responses={
        401: {'description': 'No valid signature: webhook-id, webhook-timestamp (within 5 minutes), webhook-signature'},
        404: {
            'description': 'no trigger at this address: the same answer whether no such workflow exists or it does '
            'not accept triggers (any longer)'
        },
        409: {'description': 'The webhook-id was used before with another body'},
        413: {'description': 'The body is over FLOWMON_MAX_PAYLOAD_BYTES'},
        422: {
            'description': 'The body is not a JSON object (an empty body is {}), nests more than 64 levels, names '
            'a key twice in one object, or holds a NUL character or a lone surrogate'
        },
    },
    openapi_extra={
        'requestBody': {'content': {'application/json': {'schema': {'type': 'object'}}}},
        'parameters': [
            {'name': name, 'in': 'header', 'required': True, 'description': text, 'schema': {'type': 'string'}}
            for name, text in SIGNATURE_HEADERS
        ],
    },
)
async def receive(workflow_id: str, request: Request, automation: Automation) -> HookAccepted:
    async def body() -> bytes:  # read only for a usable trigger, once its headers check out
        return await _bounded_body(request, automation.max_body_bytes)

    received = await automation.receive(workflow_id, request.headers, body)
    return HookAccepted(execution_id=received.execution_id, workflow_id=workflow_id, replayed=received.replayed)


def _workflow_route(action: WorkflowAction) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def route(workflow_id: str, automation: Automation) -> dict[str, Any]:
        return await action(automation, workflow_id)

    return route


WorkflowAction = Callable[[AutomationUseCases, str], Awaitable[dict[str, Any]]]
# Trigger secrets and schedules of a workflow: (method, path, route name, what it does).
WORKFLOW_ACTIONS: tuple[tuple[str, str, str, WorkflowAction], ...] = (
    ('GET', '/trigger', 'trigger_info', AutomationUseCases.trigger),
    ('GET', '/trigger/secret', 'reveal_trigger_secret', AutomationUseCases.reveal_trigger_secret),
    ('GET', '/schedule', 'schedule_info', AutomationUseCases.schedule),
    ('POST', '/schedule/pause', 'pause_schedule', lambda automation, id: automation.set_paused(id, True)),
    ('POST', '/schedule/resume', 'resume_schedule', lambda automation, id: automation.set_paused(id, False)),
)
for method, path, name, action in WORKFLOW_ACTIONS:
    automation_router.add_api_route(path, _workflow_route(action), methods=[method], name=name)


@automation_router.post('/trigger/secret/rotate', name='rotate_trigger_secret')
async def rotate_trigger_secret(
    workflow_id: str, automation: Automation, grace_seconds: GraceSeconds = None
) -> dict[str, Any]:
    """A new trigger secret: ``{secret, previous_secret, previous_secret_expires_at}``. The old secret keeps
    verifying calls until ``previous_secret_expires_at`` (24 h by default); with ``grace_seconds=0`` it stops at once
    (both previous fields null)."""
    return await automation.rotate_trigger_secret(workflow_id, grace_seconds)


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
