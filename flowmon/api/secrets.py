"""``/api/secrets``: named secrets for node configs. Values go in and are never given back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict

from flowmon.services import Conflict, NotFound, Services
from flowmon.store.secrets import SecretInvalid, TooManySecrets


class SecretValue(BaseModel):
    model_config = ConfigDict(extra='forbid')

    value: str


def secret_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api/secrets', tags=['secrets'])

    @router.get('')
    async def list_secrets() -> list[dict[str, Any]]:
        """Names and times; never a value."""
        return [info.to_json() for info in services.secrets.list()]

    @router.put(
        '/{name}',
        responses={200: {'description': 'replaced'}, 201: {'description': 'created'}, 409: {}, 422: {}},
    )
    async def put_secret(name: str, body: SecretValue, response: Response) -> dict[str, Any]:
        try:
            info, created = await services.put_secret(name, body.value)
        except SecretInvalid as exc:
            raise HTTPException(422, str(exc)) from None
        except TooManySecrets as exc:
            raise HTTPException(409, str(exc)) from None
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return info.to_json()

    @router.delete('/{name}', status_code=204, responses={404: {}, 409: {'description': 'used by a workflow'}})
    async def delete_secret(name: str) -> Response:
        try:
            await services.delete_secret(name)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(status_code=204)

    return router
