"""``delay``: wait a number of seconds (stand-in for slow work), on the engine's clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from .base import NodeConfig, NodeContext, NodeType


class DelayConfig(NodeConfig):
    seconds: float = Field(ge=0, le=86_400)


class DelayNode(NodeType):
    type_name = 'delay'
    Config = DelayConfig

    async def run(self, config: DelayConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        await ctx.clock.sleep(config.seconds)
        return {'waited_seconds': config.seconds}
