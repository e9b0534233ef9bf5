"""``fail``: fail on purpose, always or for the first N attempts (for demos and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from .base import NodeConfig, NodeContext, NodeError, NodeType


class FailConfig(NodeConfig):
    message: str = 'failed on purpose'
    times: int | None = Field(default=None, ge=0, le=1000)


class FailNode(NodeType):
    type_name = 'fail'
    Config = FailConfig

    async def run(self, config: FailConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        if config.times is None or ctx.attempt <= config.times:
            raise NodeError(config.message)
        return {'succeeded_on_attempt': ctx.attempt}
