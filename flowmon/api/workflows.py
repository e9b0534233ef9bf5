"""``/api/workflows``: list, read, create or replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from flowmon.application.errors import Invalid
from flowmon.application.views import workflow_listing
from flowmon.application.workflows import ANY_VERSION, Expected

from .dependencies import Stats, Workflows

router = APIRouter(prefix='/api/workflows', tags=['workflows'])
# What a PUT body is, for /docs and generated clients: filled in when the API is installed (the schema depends on
# the node types the application was built with); the route's own validation stays the authority.
DEFINITION_BODY: dict[str, Any] = {'schema': {'type': 'object'}}
IfMatch = Annotated[
    str | None,
    Header(
        alias='If-Match',
        description='only when the stored definition is at this version: the `ETag` of `GET /api/workflows/{id}` '
        '(`*`: only when the workflow exists); else 412 naming the stored version. Without it: whatever is stored',
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias='If-None-Match',
        description='the `ETag` of a copy the caller holds (or several, or `*`): 304 without a body when the stored '
        'definition is still at that version',
    ),
]
ETAG = {'ETag': {'description': 'the version of the stored definition', 'schema': {'type': 'string'}}}


def etag(version: str) -> str:
    """A workflow version as an entity tag (strong: the content hash of the stored definition)."""
    return f'"{version}"'


def expected_version(if_match: str | None) -> Expected | None:
    """What an ``If-Match`` header asks for: None (no header), ANY_VERSION (``*``) or the versions it names (a weak
    tag, ``W/"..."``, is kept as it is and never matches: the comparison is strong)."""
    if if_match is None:
        return None
    if if_match.strip() == '*':
        return ANY_VERSION
    tags = [tag.strip() for tag in if_match.split(',') if tag.strip()]
    if not tags:
        raise Invalid('If-Match: give the ETag of GET /api/workflows/{id} ("<version>") or *', at='If-Match')
    return frozenset(tag if tag.startswith('W/') else tag.strip('"') for tag in tags)


@router.get('')
async def list_workflows(workflows: Workflows) -> list[dict[str, Any]]:
    return [workflow_listing(stored) for stored in await workflows.all()]


def still_current(if_none_match: str | None, version: str) -> bool:
    """Whether an ``If-None-Match`` header names ``version`` (or is ``*``), compared weakly as RFC 9110 asks."""
    if if_none_match is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(',')]
    return any(tag == '*' or tag.removeprefix('W/').strip('"') == version for tag in tags if tag)


@router.get(
    '/{workflow_id}',
    response_model=None,
    responses={
        200: {'headers': ETAG},
        304: {'description': 'If-None-Match names the stored version: the copy the caller holds is current'},
    },
)
async def get_workflow(
    workflow_id: str, workflows: Workflows, response: Response, if_none_match: IfNoneMatch = None
) -> dict[str, Any] | Response:
    """The definition; its ``ETag`` is the version to send back in ``If-Match`` (or in ``If-None-Match``, to be
    answered 304 while it is current)."""
    stored = await workflows.get(workflow_id)
    if still_current(if_none_match, stored.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={'ETag': etag(stored.version)})
    response.headers['ETag'] = etag(stored.version)
    return stored.definition


@router.get('/{workflow_id}/stats', responses={404: {'description': 'unknown workflow'}})
async def workflow_stats(workflow_id: str, stats: Stats) -> dict[str, Any]:
    """Per node of the workflow: ``count``, ``p50_seconds`` and ``p95_seconds`` over its last 50 successful runs
    (``null`` without runs)."""
    nodes = await stats.nodes(workflow_id)
    return {'nodes': {node_id: usual.to_json() for node_id, usual in nodes.items()}}


@router.put(
    '/{workflow_id}',
    responses={
        200: {'description': 'replaced', 'headers': ETAG},
        201: {'description': 'created', 'headers': ETAG},
        409: {'description': 'a new workflow when 1,000 are stored'},
        412: {'description': 'If-Match names another version than the stored one (the detail names it)'},
        422: {},
    },
    openapi_extra={
        'requestBody': {'content': {'application/json': DEFINITION_BODY, 'application/yaml': DEFINITION_BODY}}
    },
)
async def put_workflow(
    workflow_id: str, request: Request, response: Response, workflows: Workflows, if_match: IfMatch = None
) -> dict[str, Any]:
    yaml = 'yaml' in request.headers.get('content-type', '')
    expected = expected_version(if_match)
    saved = await workflows.put(workflow_id, await request.body(), yaml=yaml, expected=expected)
    response.status_code = status.HTTP_201_CREATED if saved.created else status.HTTP_200_OK
    response.headers['ETag'] = etag(saved.version)
    return saved.definition


@router.delete(
    '/{workflow_id}',
    status_code=204,
    responses={412: {'description': 'If-Match names another version than the stored one (the detail names it)'}},
)
async def delete_workflow(workflow_id: str, workflows: Workflows, if_match: IfMatch = None) -> Response:
    await workflows.delete(workflow_id, expected=expected_version(if_match))
    return Response(status_code=204)
