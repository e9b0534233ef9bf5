"""``condition``: evaluate an expression; outgoing edges with ``when`` true/false pick the branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import NodeContext, NodeType
from .expressions import ExpressionConfig, evaluate_input, truthy


class ConditionConfig(ExpressionConfig):
    """JMESPath ``expression`` evaluated over the node's input."""


class ConditionNode(NodeType):
    """Output ``{"result": bool, "value": ...}``; the engine follows edges whose ``when`` equals result."""

    type_name = 'condition'
    Config = ConditionConfig

    async def run(self, config: ConditionConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        value = evaluate_input(config.expression, input, ctx)
        return {'result': truthy(value), 'value': value}
