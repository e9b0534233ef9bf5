"""Built-in node types, one module each, and the registry they are registered in.

To add your own node type, subclass :class:`NodeType`, give it a ``type_name`` and a ``Config`` model,
and register it on the registry the app is built with::

    class Shout(NodeType):
        type_name = 'shout'

        class Config(NodeConfig):
            text: str

        async def run(self, config, input, ctx):
            return {'text': config.text.upper()}

    registry = default_registry()
    registry.register(Shout)
"""

from __future__ import annotations

from .base import NodeConfig, NodeContext, NodeError, NodeRegistry, NodeType, UnknownNodeType
from .condition import ConditionNode
from .delay import DelayNode
from .fail import FailNode
from .http import HttpNode
from .log import LogNode
from .transform import TransformNode

BUILTIN_NODE_TYPES: tuple[type[NodeType], ...] = (
    DelayNode,
    FailNode,
    HttpNode,
    TransformNode,
    ConditionNode,
    LogNode,
)


def default_registry() -> NodeRegistry:
    """A fresh registry holding the built-in node types."""
    registry = NodeRegistry()
    for node_type in BUILTIN_NODE_TYPES:
        registry.register(node_type)
    return registry


__all__ = [
    'BUILTIN_NODE_TYPES',
    'NodeConfig',
    'NodeContext',
    'NodeError',
    'NodeRegistry',
    'NodeType',
    'UnknownNodeType',
    'default_registry',
]
