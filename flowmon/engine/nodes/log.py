"""``log``: write a message (and optionally a value picked from the input) to the log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from .base import NodeConfig, NodeContext, NodeError, NodeType
from .expressions import compile_expression, evaluate

_LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING, 'error': logging.ERROR}


class LogConfig(NodeConfig):
    message: str
    level: Literal['debug', 'info', 'warning', 'error'] = 'info'
    expression: str | None = None

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_expression(value)
        return value


class LogNode(NodeType):
    type_name = 'log'
    Config = LogConfig

    async def run(self, config: LogConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        output: dict[str, Any] = {'message': config.message, 'level': config.level}
        if config.expression is not None:
            try:
                output['value'] = evaluate(config.expression, dict(input), ctx.budget)
            except ValueError as exc:
                raise NodeError(str(exc)) from None
        ctx.log.log(_LEVELS[config.level], '[%s/%s] %s', ctx.execution_id, ctx.node_id, config.message)
        return output
