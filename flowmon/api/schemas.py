"""Request bodies of the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowmon.engine.core.payload import MAX_NESTING, nesting_depth


def _not_too_deep(value: Any) -> Any:
    if value is not None and nesting_depth(value) > MAX_NESTING:
        raise ValueError(f'nested more than {MAX_NESTING} levels deep')
    return value


class ExecutionRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    input: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=-100, le=100)

    _input_depth = field_validator('input')(_not_too_deep)


class RerunRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    from_node: str | None = None
    input: dict[str, Any] | None = None

    _input_depth = field_validator('input')(_not_too_deep)
