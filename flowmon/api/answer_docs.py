"""The success answers in ``/openapi.json`` of the routes a script reads most: what their JSON holds, field by field.

The routes build their answers as plain dicts (:mod:`flowmon.application.views`), so FastAPI documents each as "an
object" and a client generated from the document knows nothing of them. The models here describe those answers for
the document only (they never filter or check what a route sends); ``tests/integration/test_api_documents.py``
checks real answers against them, so they stay true. Other answers keep their description in words (README).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

TIME = 'ISO 8601 date-time in UTC'


class Progress(BaseModel):
    done: int = Field(description='nodes settled: succeeded, failed, skipped and cancelled ones')
    total: int = Field(description='nodes of the workflow')
    succeeded: int | None = Field(description='nodes that succeeded, once the execution has ended (else null)')


class ExecutionListItem(BaseModel):
    id: str
    workflow_id: str
    status: str = Field(description='queued, running, succeeded, failed, cancelled or interrupted')
    created_at: datetime = Field(description=TIME)
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    retry_of: str | None = Field(description='the execution this one reran')
    error: str | None
    progress: Progress
    imported_from: str | None = Field(description='the original id of an execution imported from an export')
    trigger_type: str | None = Field(description='api, ui, schedule, hook or rerun (null: not recorded)')


class ExecutionPage(BaseModel):
    items: list[ExecutionListItem] = Field(description='newest first')
    total: int = Field(description='executions matching the filters, on every page')
    limit: int
    offset: int


class NodeSummary(BaseModel):
    status: str = Field(description='pending, queued, running, retrying, succeeded, failed, skipped or cancelled')
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None = Field(description='from its first start to its end, the waits between tries included')
    ran_ms: float | None = Field(description='how long its attempts ran, added up: the waits between tries left out')
    output: Any = Field(description='what the node returned (any JSON value)')
    error: str | None
    reused: bool = Field(description='a rerun took this output from the execution it reran instead of running it')
    worker: str | None = Field(description="where a worker node's latest attempt ran (null for nodes on the loop)")
    slow: bool = Field(description='longer than the p95 of its last 50 successful runs in other executions')


class ExecutionSummary(BaseModel):
    id: str
    workflow_id: str | None
    status: str = Field(description='queued, running, succeeded, failed, cancelled or interrupted')
    input: Any
    output: Any
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    retry_of: str | None
    trigger: dict[str, Any] | None = Field(description='how it was started: {"type", ...} (see README)')
    progress: Progress
    nodes: dict[str, NodeSummary] = Field(description='by node id')


class StatePosition(BaseModel):
    at: int = Field(description='after this many events')
    events: int = Field(description='events of the execution')
    elapsed_s: float = Field(description='seconds from the first event to the event at the position')


class ExecutionAtPosition(ExecutionSummary):
    position: StatePosition


class ExecutionEvent(BaseModel):
    seq: int
    ts: datetime = Field(description=TIME)
    type: str = Field(description='execution.started, node.completed, ... (see README, Events)')
    node_id: str | None
    data: dict[str, Any]


class Accepted(BaseModel):
    id: str = Field(description='the execution')
    status: str


class RerunAccepted(Accepted):
    retry_of: str = Field(description='the execution it reruns')


class WorkflowListing(BaseModel):
    id: str
    name: str
    description: str | None
    nodes: int = Field(description='how many nodes it has')
    updated_at: datetime = Field(description=TIME)


class SigningSecret(BaseModel):
    secret: str = Field(description='the secret that signs (an endpoint) or verifies (a trigger) from now on')
    previous_secret: str | None = Field(
        description='the secret it replaced, still accepted during the grace period of a rotation (else null)'
    )
    previous_secret_expires_at: datetime | None = Field(
        description=f'when the previous secret stops, {TIME} (null outside a grace period)'
    )


# (method, path, status) -> the model of its answer, or a list of them
ANSWERS: dict[tuple[str, str, str], tuple[type[BaseModel], bool]] = {
    ('get', '/api/workflows', '200'): (WorkflowListing, True),
    ('post', '/api/workflows/{workflow_id}/executions', '202'): (Accepted, False),
    ('get', '/api/executions', '200'): (ExecutionPage, False),
    ('get', '/api/executions/{execution_id}', '200'): (ExecutionSummary, False),
    ('get', '/api/executions/{execution_id}/state', '200'): (ExecutionAtPosition, False),
    ('get', '/api/executions/{execution_id}/events', '200'): (ExecutionEvent, True),
    ('post', '/api/executions/{execution_id}/cancel', '202'): (Accepted, False),
    ('post', '/api/executions/{execution_id}/rerun', '202'): (RerunAccepted, False),
    ('get', '/api/workflows/{workflow_id}/trigger/secret', '200'): (SigningSecret, False),
    ('post', '/api/workflows/{workflow_id}/trigger/secret/rotate', '200'): (SigningSecret, False),
    ('get', '/api/webhooks/endpoints/{endpoint_id}/secret', '200'): (SigningSecret, False),
    ('post', '/api/webhooks/endpoints/{endpoint_id}/secret/rotate', '200'): (SigningSecret, False),
}


def document_answers(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (changed in place) with the answers of :data:`ANSWERS` described by their models."""
    models = sorted({model for model, _ in ANSWERS.values()}, key=lambda model: model.__name__)
    _, top = models_json_schema(
        [(model, 'serialization') for model in models], ref_template='#/components/schemas/{model}'
    )
    document.setdefault('components', {}).setdefault('schemas', {}).update(top.get('$defs', {}))
    for (method, path, code), (model, many) in ANSWERS.items():
        operation = document.get('paths', {}).get(path, {}).get(method)
        if operation is None:
            continue
        ref: dict[str, Any] = {'$ref': f'#/components/schemas/{model.__name__}'}
        schema = {'type': 'array', 'items': ref} if many else ref
        answer = operation.setdefault('responses', {}).setdefault(code, {'description': 'Successful Response'})
        answer.setdefault('content', {})['application/json'] = {'schema': schema}
    return document
