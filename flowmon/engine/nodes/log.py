"""``log``: write a message (and optionally a value picked from the input) to the log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from .base import NodeConfig, NodeContext, NodeType
from .expressions import evaluate_input, optional_expression

_LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING, 'error': logging.ERROR}


class LogConfig(NodeConfig):
    message: str
    level: Literal['debug', 'info', 'warning', 'error'] = 'info'
    expression: str | None = None

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return optional_expression(value)


class LogNode(NodeType):
    type_name = 'log'
    Config = LogConfig

    async def run(self, config: LogConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        output: dict[str, Any] = {'message': config.message, 'level': config.level}
        if config.expression is not None:
            output['value'] = evaluate_input(config.expression, input, ctx)
        ctx.log.log(_LEVELS[config.level], '[%s/%s] %s', ctx.execution_id, ctx.node_id, config.message)
        return output
