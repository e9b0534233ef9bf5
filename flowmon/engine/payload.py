"""Limits on the JSON payloads that travel through executions (inputs and node outputs)."""

from __future__ import annotations

from typing import Any

# JSON nested deeper than this is refused: serialising an execution summary whose payload nests a few hundred
# levels fails (pydantic's and orjson's depth limits), so such a value would make the execution unreadable.
MAX_NESTING = 64


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0); iterative, so any depth is safe."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest
