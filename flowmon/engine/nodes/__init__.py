"""Built-in node types, one module each, the registry they are registered in, and the plugin loader.

Every node type is an entry point of the group ``flowmon.node_types`` (the built-in ones in flowmon's own
``pyproject.toml``), and the composition root builds its registry with :func:`load_registry`, so a package
installed next to flowmon adds node types without any edit to flowmon::

    class Shout(NodeType):
        type_name = 'shout'

        class Config(NodeConfig):
            text: str

        async def run(self, config, input, ctx):
            return {'text': config.text.upper()}

    # the package's pyproject.toml
    [project.entry-points."flowmon.node_types"]
    shout = "my_package:Shout"

:func:`default_registry` holds the built-in types only (no entry points read: tests and embedding).
"""

from __future__ import annotations

from . import base
from .base import *  # noqa: F403  (the node-type API: base.__all__, the package's too)
from .base import NodeRegistry, NodeServices, NodeType
from .condition import ConditionNode
from .delay import DelayNode
from .fail import FailNode
from .http import HttpNode
from .log import LogNode
from .plugins import ENTRY_POINT_GROUP, PluginError, load_registry
from .python import PythonNode
from .transform import TransformNode
from .webhook import WebhookNode

BUILTIN_NODE_TYPES: tuple[type[NodeType], ...] = (
    DelayNode,
    FailNode,
    HttpNode,
    TransformNode,
    ConditionNode,
    LogNode,
    PythonNode,
    WebhookNode,  # registered only with a delivery port (NodeServices.webhooks)
)


def default_registry(services: NodeServices | None = None) -> NodeRegistry:
    """A fresh registry holding the built-in node types (``webhook`` only when ``services`` give it a port)."""
    services = services or NodeServices()
    registry = NodeRegistry()
    for node_type in BUILTIN_NODE_TYPES:
        instance = node_type.create(services)
        if instance is not None:
            registry.register(instance)
    return registry


__all__ = [
    *base.__all__,
    'BUILTIN_NODE_TYPES',
    'ENTRY_POINT_GROUP',
    'PluginError',
    'default_registry',
    'load_registry',
]
