"""The node-type contract and the registry that maps type names to implementations."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.runtime.clock import Clock, SystemClock

if TYPE_CHECKING:
    from .webhook import WebhookPort

RunsOn = Literal['loop', 'worker']
RUNS_ON: tuple[RunsOn, ...] = ('loop', 'worker')

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
UNSENDABLE = 'may hold only printable ASCII characters (a request carrying it could never be sent)'
SHOWN_NAME_CHARS = 40  # what a message quotes of a header name (one may be 8 KiB long)


def quoted_header(name: str) -> str:
    """``name`` as a message quotes it (``repr``, so a line break or a blank shows): its first
    :data:`SHOWN_NAME_CHARS` characters, an ellipsis before the closing quote saying there were more."""
    if len(name) <= SHOWN_NAME_CHARS:
        return repr(name)
    quoted = repr(name[:SHOWN_NAME_CHARS])
    return f'{quoted[:-1]}…{quoted[-1]}'


def sendable(value: str) -> bool:
    """Whether ``value`` can travel in a request header: printable ASCII (httpx encodes header values as ASCII)."""
    return all(' ' <= char <= '~' or char == '\t' for char in value)


def blank_name_problem(name: str) -> str | None:
    """``a header name is empty`` (or blank, quoted) for a name of nothing or of spaces alone, else None: said as such,
    where "header name ''" reads as a quoting slip."""
    if name.strip():
        return None
    return 'a header name is empty' if not name else f'a header name is blank ({quoted_header(name)})'


def http_url(value: str) -> str:
    """``value`` when it is an http(s) URL whose port (if any) is plain digits; raises ValueError naming the problem
    (httpx reads a port such as ``+443`` or ``1_0``; Python's own URL parser, and so the pages, do not)."""
    if not value.startswith(('http://', 'https://')):
        raise ValueError('url must start with http:// or https://')
    try:
        _ = urlsplit(value).port
    except ValueError:
        raise ValueError('the port in the url is not a number from 0 to 65535') from None
    return value


def header_problem(name: str, value: str) -> str | None:
    """Why a request header could never be sent as given, or None: its name must be an HTTP token (h11 refuses
    anything else) and its value printable ASCII."""
    blank = blank_name_problem(name)
    if blank:
        return blank
    if not HEADER_NAME.fullmatch(name):
        return f"header name {quoted_header(name)} is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
    if not sendable(value):
        return f'header {quoted_header(name)}: the value {UNSENDABLE}'
    return None


class NodeConfig(BaseModel):
    """Base for a node type's configuration: unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra='forbid', frozen=True)


class NodeError(Exception):
    """An expected failure of a node's work (shown without a traceback)."""


_NODE_LOG = logging.getLogger('flowmon.node')  # what getLogger returns on every call, looked up once


@dataclass(kw_only=True, slots=True)
class NodeContext:
    """What a node's work may use besides its config and input.

    ``secret_values`` are the values of the secrets the node's config names (resolved for this attempt): a node
    that stores or shows what it sends (the webhook node) uses them to know what to hide. ``log`` then redacts
    them from every line. ``clock`` is the engine's: a node that waits sleeps on it (never ``asyncio.sleep``), so
    a test's clock decides how long the wait takes.
    """

    execution_id: str
    node_id: str
    attempt: int
    http: httpx.AsyncClient | None = None
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] = field(default=_NODE_LOG)
    budget: PayloadBudget = field(default=PayloadBudget())  # what expressions may build (the engine's budget)
    secret_values: tuple[str, ...] = ()
    clock: Clock = field(default_factory=SystemClock)


@dataclass(frozen=True, kw_only=True)
class NodeServices:
    """What the composition root hands node types when it builds the registry (:meth:`NodeType.create`).

    The engine reads no settings: a node type that needs one (the ``python`` type's allow-list) or a port into
    the rest of flowmon (the ``webhook`` type's delivery service) gets it here.
    """

    python_modules: tuple[str, ...] = ()  # module prefixes the ``python`` node type may call (FLOWMON_PYTHON_MODULES)
    webhooks: WebhookPort | None = None  # where ``webhook`` nodes hand their deliveries; None: no such type


class NodeType(ABC):
    """A kind of node. Subclasses set ``type_name`` and ``Config`` and implement ``run``.

    ``run`` must be a function of its config and input (plus the context's resources), so an executor
    may run it elsewhere; it returns the node's output (JSON-compatible) or raises.

    ``runs_on`` says where the work runs: ``'loop'`` (the default) on flowmon's event loop, for work that waits
    on I/O; ``'worker'`` in a worker process (the local pool, or a Dask worker), for work that computes or
    blocks. A worker type's instance, config and input are pickled to the worker and ``run`` is called there
    in an event loop of its own, with a context that has no HTTP client; the type's module must be importable
    on the worker.
    """

    type_name: ClassVar[str]
    Config: ClassVar[type[NodeConfig]] = NodeConfig
    runs_on: ClassVar[RunsOn] = 'loop'

    @classmethod
    def create(cls, services: NodeServices) -> NodeType | None:
        """The instance to register, built with what the composition root provides; None leaves the type out
        (it needs something this process does not have). Types with constructor arguments override this."""
        return cls()

    def parse_config(self, config: Mapping[str, Any]) -> NodeConfig:
        """Validate a node's config (a type whose checks depend on how it was built overrides this)."""
        return self.Config.model_validate(dict(config))

    @abstractmethod
    async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        """Do the node's work and return its output."""


class UnknownNodeType(KeyError):
    """No node type is registered under the name."""


class NodeRegistry:
    """Node types by name: :func:`flowmon.engine.nodes.load_registry` fills one from the installed entry points,
    :func:`flowmon.engine.nodes.default_registry` with the built-in types only."""

    def __init__(self) -> None:
        self._types: dict[str, NodeType] = {}

    def register(self, node_type: type[NodeType] | NodeType) -> None:
        """Register a node type (class or instance) under its ``type_name``; a later one replaces it."""
        instance = node_type() if isinstance(node_type, type) else node_type
        name = getattr(instance, 'type_name', None)
        if not isinstance(name, str) or not name:
            raise ValueError(f'{type(instance).__name__} has no type_name')
        self._types[name] = instance

    def get(self, name: str) -> NodeType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownNodeType(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._types))

    def parse_config(self, name: str, config: Mapping[str, Any]) -> NodeConfig:
        """Validate a node's config for its type; raises ``ValidationError`` or :class:`UnknownNodeType`."""
        return self.get(name).parse_config(config)


__all__ = [
    'RUNS_ON',
    'NodeConfig',
    'NodeContext',
    'NodeError',
    'NodeRegistry',
    'NodeServices',
    'NodeType',
    'RunsOn',
    'UnknownNodeType',
    'ValidationError',
]
