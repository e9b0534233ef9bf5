"""``/api/views``: saved views of the execution list (a name and the list's filters), kept server-side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, field_validator

from flowmon.application.saved_views import MAX_NAME_CHARS, unknown_filter_key

from .dependencies import Views
from .errors import MeasuredBodyRoute

router = APIRouter(prefix='/api/views', tags=['saved views'], route_class=MeasuredBodyRoute)


class ViewRequest(BaseModel):
    """A view's name and the filters of ``/executions`` it applies (``workflow_id``, ``status``, ``trigger``,
    ``origin``, ``q``, ``since``, ``until``)."""

    model_config = ConfigDict(extra='forbid')

    name: str = Field(max_length=MAX_NAME_CHARS * 4)  # the use case says why a name is refused
    filter: dict[str, Annotated[str, Field(max_length=400)]] = Field(default_factory=dict, max_length=16)

    @field_validator('filter', mode='wrap')
    @classmethod
    def _unknown_key_first(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A filter with a key no view takes is left as it is, for the use case to refuse naming that key, whatever
        its value (``{"limit": 5}`` was refused as ``filter.limit: Input should be a valid string``)."""
        if isinstance(value, dict) and unknown_filter_key(value) is not None:
            return value
        return handler(value)


@router.get('')
async def list_views(views: Views) -> list[dict[str, Any]]:
    return [view.to_json() for view in await views.all()]


@router.post('', status_code=status.HTTP_201_CREATED, responses={200: {'description': 'replaced'}})
async def save_view(request: ViewRequest, views: Views) -> JSONResponse:
    """Create (201) or replace (200) the view with this name."""
    view, created = await views.save(request.name, request.filter)
    return JSONResponse(view.to_json(), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.delete('/{name:path}', status_code=status.HTTP_204_NO_CONTENT, responses={404: {'description': 'unknown'}})
async def delete_view(name: Annotated[str, Path(max_length=MAX_NAME_CHARS * 4)], views: Views) -> Response:
    await views.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
