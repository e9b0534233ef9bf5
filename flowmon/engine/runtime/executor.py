"""The executor seam: where a node's work actually runs.

The engine asks an executor to run ``node_type.run(config, input, ctx)`` and raises every event itself,
in this process. :class:`LocalExecutor` runs the work on the engine's event loop; another executor (a
process pool, a cluster) can run the same function elsewhere without the engine changing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flowmon.engine.nodes.base import NodeConfig, NodeContext, NodeType


class NodeExecutor(Protocol):
    async def execute(
        self, node_type: NodeType, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext
    ) -> Any: ...


class LocalExecutor:
    """Runs node work in-process, on the running event loop."""

    async def execute(self, node_type: NodeType, config: NodeConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        return await node_type.run(config, input, ctx)
