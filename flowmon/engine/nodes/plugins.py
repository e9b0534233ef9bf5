"""Node types from installed packages: the entry-point group ``flowmon.node_types``.

Every node type, the built-in ones included (flowmon's own ``pyproject.toml``), is an entry point named after its
``type_name`` whose value is the :class:`~flowmon.engine.nodes.base.NodeType` subclass::

    [project.entry-points."flowmon.node_types"]
    count_primes = "flowmon_demo_nodes:CountPrimes"

:func:`load_registry` loads them all. Two distributions offering the same name are refused with both named (one
would otherwise replace the other depending on install order); so is an entry point that does not load, is not
a node type, or whose name differs from the type's ``type_name``. Entry points are read from the installed
metadata: after adding one to a package installed in editable mode, install it again (``pip install -e``).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from .base import RUNS_ON, NodeRegistry, NodeServices, NodeType

ENTRY_POINT_GROUP = 'flowmon.node_types'


class PluginError(ValueError):
    """A node-type entry point that cannot be used; the message names it and its distribution."""


def origin(entry_point: EntryPoint) -> str:
    """``distribution version (module:Class)``, or just the value for an entry point without a distribution."""
    dist = entry_point.dist
    return f'{dist.name} {dist.version} ({entry_point.value})' if dist is not None else entry_point.value


def load_registry(services: NodeServices | None = None, *, found: Iterable[EntryPoint] | None = None) -> NodeRegistry:
    """A registry of every node type in the entry-point group (or in ``found``), built with ``services``.

    Raises :class:`PluginError`: a name offered twice (both distributions named), an entry point that fails to
    load, is not a :class:`NodeType` subclass, or whose name is not its ``type_name``.
    """
    services = services or NodeServices()
    chosen: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP) if found is None else found:
        first = chosen.get(entry_point.name)
        if first is not None:
            one, other = sorted((origin(first), origin(entry_point)))
            raise PluginError(
                f'node type {entry_point.name!r} is offered by two packages: {one} and {other}; '
                'uninstall one of them (neither replaces the other)'
            )
        chosen[entry_point.name] = entry_point
    registry = NodeRegistry()
    for name in sorted(chosen):
        node_type = _load(chosen[name])
        instance = node_type.create(services)
        if instance is not None:
            registry.register(instance)
    return registry


def _load(entry_point: EntryPoint) -> type[NodeType]:
    where = origin(entry_point)
    try:
        loaded = entry_point.load()
    except Exception as exc:
        raise PluginError(
            f'node type {entry_point.name!r} from {where} could not be loaded: {type(exc).__name__}: {exc}'
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, NodeType)):
        raise PluginError(f'node type {entry_point.name!r} from {where} is not a NodeType subclass')
    if getattr(loaded, 'type_name', None) != entry_point.name:
        raise PluginError(
            f'node type {entry_point.name!r} from {where} has type_name {getattr(loaded, "type_name", None)!r}; '
            'the entry point must be named after it'
        )
    if loaded.runs_on not in RUNS_ON:
        raise PluginError(
            f'node type {entry_point.name!r} from {where} has runs_on {loaded.runs_on!r}, not one of {RUNS_ON}'
        )
    return loaded


__all__ = ['ENTRY_POINT_GROUP', 'PluginError', 'load_registry', 'origin']
