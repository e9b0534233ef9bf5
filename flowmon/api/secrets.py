"""``/api/secrets``: named secrets for node configs. Values go in and are never given back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict

from .dependencies import Secrets
from .errors import MeasuredBodyRoute

router = APIRouter(prefix='/api/secrets', tags=['secrets'], route_class=MeasuredBodyRoute)


class SecretValue(BaseModel):
    model_config = ConfigDict(extra='forbid')

    value: str


@router.get('')
async def list_secrets(secrets: Secrets) -> list[dict[str, Any]]:
    """Names and times; never a value."""
    return [info.to_json() for info in secrets.all()]


@router.put('/{name}', responses={200: {'description': 'replaced'}, 201: {'description': 'created'}, 409: {}, 422: {}})
async def put_secret(name: str, body: SecretValue, response: Response, secrets: Secrets) -> dict[str, Any]:
    info, created = await secrets.put(name, body.value)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return info.to_json()


@router.delete('/{name}', status_code=204, responses={404: {}, 409: {'description': 'used by a workflow'}})
async def delete_secret(name: str, secrets: Secrets) -> Response:
    await secrets.delete(name)
    return Response(status_code=204)
