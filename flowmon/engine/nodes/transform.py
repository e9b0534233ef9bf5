"""``transform``: build the output from the input with a JMESPath expression."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from .base import NodeConfig, NodeContext, NodeError, NodeType
from .expressions import compile_expression, evaluate


class TransformConfig(NodeConfig):
    expression: str

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value


class TransformNode(NodeType):
    type_name = 'transform'
    Config = TransformConfig

    async def run(self, config: TransformConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        try:
            return evaluate(config.expression, dict(input))
        except ValueError as exc:
            raise NodeError(str(exc)) from None
