"""``transform``: build the output from the input with a JMESPath expression."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import NodeContext, NodeType
from .expressions import ExpressionConfig, evaluate_input


class TransformConfig(ExpressionConfig):
    """JMESPath ``expression`` evaluated over the node's input."""


class TransformNode(NodeType):
    type_name = 'transform'
    Config = TransformConfig

    async def run(self, config: TransformConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        return evaluate_input(config.expression, input, ctx)
