"""Request bodies of the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ExecutionRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    input: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=-100, le=100)


class RerunRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')

    from_node: str | None = None
    input: dict[str, Any] | None = None
