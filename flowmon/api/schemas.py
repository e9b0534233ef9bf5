"""Request bodies of the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# JSON nested deeper than this is refused at the door: serialising the summary of an execution whose input
# nests a few hundred levels fails (pydantic's depth limit), so such a value would make it unreadable.
MAX_NESTING = 64


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0); iterative, so any depth is safe."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


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
