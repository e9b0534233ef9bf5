"""``condition``: evaluate an expression; outgoing edges with ``when`` true/false pick the branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from .base import NodeConfig, NodeContext, NodeError, NodeType
from .expressions import compile_expression, evaluate, truthy


class ConditionConfig(NodeConfig):
    expression: str

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value


class ConditionNode(NodeType):
    """Output ``{"result": bool, "value": ...}``; the engine follows edges whose ``when`` equals result."""

    type_name = 'condition'
    Config = ConditionConfig

    async def run(self, config: ConditionConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        try:
            value = evaluate(config.expression, dict(input))
        except ValueError as exc:
            raise NodeError(str(exc)) from None
        return {'result': truthy(value), 'value': value}
