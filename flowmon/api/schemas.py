"""Request bodies of the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flowmon.application.bulk import MAX_BULK
from flowmon.engine.core.events import MAX_PRIORITY, MIN_PRIORITY
from flowmon.engine.core.payload import MAX_NESTING
from flowmon.engine.core.payload_values import nesting_depth
from flowmon.engine.core.search_text import MAX_QUERY_CHARS

from .params import Since, Until


def _not_too_deep(value: Any) -> Any:
    if value is not None and nesting_depth(value) > MAX_NESTING:
        raise ValueError(f'nested more than {MAX_NESTING} levels deep')
    return value


class ExecutionRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    input: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=MIN_PRIORITY, le=MAX_PRIORITY)

    _input_depth = field_validator('input')(_not_too_deep)


class RerunRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    from_node: str | None = None
    input: dict[str, Any] | None = None

    _input_depth = field_validator('input')(_not_too_deep)


class BulkFilterRequest(BaseModel):
    """The filters of ``GET /api/executions``; ``since``/``until`` bound the creation time."""

    model_config = ConfigDict(extra='forbid')

    workflow_id: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, max_length=40)
    trigger: str | None = Field(default=None, max_length=40)
    origin: str | None = Field(default=None, max_length=40)  # local or imported: the use case says why one is refused
    q: str | None = Field(default=None, max_length=MAX_QUERY_CHARS * 2)  # the use case says why a q is refused
    since: Since | None = None
    until: Until | None = None


class BulkRequest(BaseModel):
    """One action on the executions named by ``ids``, or on every one ``filter`` matches (exactly one of the two)."""

    model_config = ConfigDict(extra='forbid')

    action: Literal['cancel', 'rerun', 'delete']
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=MAX_BULK
    )
    filter: BulkFilterRequest | None = None

    @model_validator(mode='after')
    def _ids_or_filter(self) -> BulkRequest:
        if (self.ids is None) == (self.filter is None):
            raise ValueError('give either "ids" or "filter", not both and not neither')
        return self
