"""Workflow definitions and their validation.

A workflow is JSON (or YAML, read by :func:`flowmon.engine.documents.load_document`):
``{"id", "name", "description"?, "timeout_seconds"?, "nodes": [...], "edges": [...], "schedule"?, "trigger"?}``.
:func:`parse_workflow` checks the shape, every node's config against its type, and the graph (duplicate
ids, edges to missing nodes, cycles, branch edges), and raises :class:`WorkflowError` whose message names
the culprit. A config may name secrets (``{"$secret": "<name>"}``, see :mod:`flowmon.engine.runtime.secret_refs`); the
workflow records which nodes name which secrets, and the definition keeps the references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowmon.engine.core.payload import MAX_NESTING, encode_compact
from flowmon.engine.core.payload_values import (
    MAX_INT,
    PayloadError,
    PayloadMeter,
    unstorable_at,
)
from flowmon.engine.core.snapshot import definition_hash
from flowmon.engine.cron import check_crontab
from flowmon.engine.runtime.retry import NO_RETRY, RetryPolicy
from flowmon.engine.runtime.secret_refs import SecretRefError, key_path
from flowmon.engine.runtime.secret_refs import parse_config as parse_node_config

from .core.graph import find_cycle, topological_order
from .core.inputs import NOT_AN_OBJECT, known_keys, schema_problem
from .documents import DocumentRefused, WorkflowError
from .nodes.base import NodeConfig, NodeRegistry

ID_PATTERN = r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$'
RESERVED_NODE_IDS = frozenset({'input'})
MAX_NODES = 2000


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    type: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)


class EdgeSpec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)

    source: str
    target: str
    when: bool | None = None


class ScheduleSpec(BaseModel):
    """``"schedule": {"cron": "*/5 * * * *", "timezone": "UTC"}``: start the workflow on a cron schedule."""

    model_config = ConfigDict(extra='forbid', frozen=True)

    cron: str = Field(min_length=1, max_length=200, examples=['*/5 * * * *', '0 3 * * mon-fri'])
    timezone: str = Field(default='UTC', min_length=1, max_length=64)

    @field_validator('cron')
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            check_crontab(value)
        except ValueError as exc:
            raise ValueError(f'invalid cron expression {value!r} (minute hour day month day-of-week): {exc}') from None
        return value

    @field_validator('timezone')
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone {value!r} (use an IANA name such as "Europe/Berlin")') from None
        return value


class TriggerSpec(BaseModel):
    """``"trigger": {"enabled": true}``: accept signed ``POST /hooks/{workflow_id}`` calls (the secret is not here)."""

    model_config = ConfigDict(extra='forbid', frozen=True)

    enabled: bool = True


class WorkflowSpec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 86_400)
    nodes: list[NodeSpec] = Field(min_length=1, max_length=MAX_NODES)
    edges: list[EdgeSpec] = Field(default_factory=list)
    schedule: ScheduleSpec | None = None
    trigger: TriggerSpec | None = None


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node of a workflow as the engine runs it."""

    type: str
    config: NodeConfig
    secrets: frozenset[str] | None  # the secrets its config names, if any
    retry: RetryPolicy
    timeout_seconds: float | None


@dataclass(frozen=True, eq=False)
class Workflow:
    """A validated workflow with its graph worked out."""

    spec: WorkflowSpec
    configs: Mapping[str, NodeConfig]
    order: tuple[str, ...]  # topological, stable in definition order
    incoming: Mapping[str, tuple[EdgeSpec, ...]]
    outgoing: Mapping[str, tuple[EdgeSpec, ...]]
    # node id -> the secrets its config names (only nodes that name any); their ``configs`` entries hold
    # placeholders and the engine builds the real config when the node runs
    secrets: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def secret_names(self) -> frozenset[str]:
        """Every secret the workflow's nodes name."""
        return frozenset().union(*self.secrets.values())

    @property
    def accepts_triggers(self) -> bool:
        """Whether signed ``POST /hooks/{workflow_id}`` calls start it (``"trigger": {"enabled": true}``)."""
        return bool(self.spec.trigger and self.spec.trigger.enabled)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def nodes(self) -> Mapping[str, NodeSpec]:
        return {node.id: node for node in self.spec.nodes}

    def node(self, node_id: str) -> NodeSpec:
        try:
            return self._nodes_by_id[node_id]
        except KeyError:
            raise KeyError(node_id) from None

    @cached_property
    def _nodes_by_id(self) -> dict[str, NodeSpec]:
        # The engine looks nodes up for every node it runs: index them once (ids are unique, see parse_workflow).
        return {node.id: node for node in self.spec.nodes}

    def retry_policy(self, node_id: str) -> RetryPolicy:
        return self.node(node_id).retry or NO_RETRY

    @cached_property
    def run_plans(self) -> Mapping[str, NodePlan]:
        """What running each node needs, looked up once per workflow (the engine runs every node of every run)."""
        return {
            node.id: NodePlan(
                type=node.type,
                config=self.configs[node.id],
                secrets=self.secrets.get(node.id),
                retry=node.retry or NO_RETRY,
                timeout_seconds=node.timeout_seconds,
            )
            for node in self.spec.nodes
        }

    def downstream_of(self, node_id: str) -> set[str]:
        """``node_id`` and every node reachable from it."""
        seen = {node_id}
        stack = [node_id]
        while stack:
            for edge in self.outgoing.get(stack.pop(), ()):
                if edge.target not in seen:
                    seen.add(edge.target)
                    stack.append(edge.target)
        return seen

    def definition(self) -> dict[str, Any]:
        """The definition as plain JSON-compatible data (what is stored and exported)."""
        return self.spec.model_dump(mode='json', exclude_none=True)

    @cached_property
    def definition_hash(self) -> str:
        """The content hash of :meth:`definition` (what ``execution.queued`` names it by), worked out once."""
        return definition_hash(self.definition())

    @cached_property
    def snapshot(self) -> tuple[Mapping[str, Any], str, str]:
        """What every execution's first event carries, made once per workflow: the definition, the definition
        as compact JSON, and the node ids as compact JSON. (The mapping is shared by those events: read only.)"""
        definition = self.definition()
        return definition, encode_compact(definition), encode_compact([node.id for node in self.spec.nodes])


def parse_workflow(raw: Mapping[str, Any] | Any, registry: NodeRegistry) -> Workflow:
    """Validate a workflow definition (already parsed from JSON/YAML) against the node registry."""
    if not isinstance(raw, Mapping):
        raise WorkflowError(f'a workflow must be a JSON object, got {type(raw).__name__}')
    try:  # depth and 64-bit integers, before anything walks the definition recursively
        PayloadMeter(MAX_INT, MAX_NESTING).measure(raw, 'the workflow definition')
    except PayloadError as exc:
        raise DocumentRefused(str(exc)) from None
    unstorable = unstorable_at(raw)  # a NUL character, a lone surrogate: no database stores either
    if unstorable is not None:
        held, what = unstorable
        raise _at(WorkflowError(f'{key_path(held)}: {what} cannot be stored in a workflow definition'), *held)
    try:
        spec = WorkflowSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise _at(WorkflowError(_describe(exc, prefix='', raw=raw)), *_first_loc(exc)) from None

    ids = [node.id for node in spec.nodes]
    seen: set[str] = set()
    for place, node_id in enumerate(ids):
        if node_id in seen:
            raise _at(WorkflowError(f'duplicate node id {node_id!r}'), 'nodes', place, 'id')
        if node_id in RESERVED_NODE_IDS:
            reserved = WorkflowError(f'node id {node_id!r} is reserved (it names the execution input)')
            raise _at(reserved, 'nodes', place, 'id')
        seen.add(node_id)

    configs: dict[str, NodeConfig] = {}
    secrets: dict[str, frozenset[str]] = {}
    for place, node in enumerate(spec.nodes):
        if node.type not in registry:
            known = ', '.join(registry)
            unknown = WorkflowError(f'node {node.id!r} has unknown type {node.type!r} (known types: {known})')
            raise _at(unknown, 'nodes', place, 'type')
        try:
            configs[node.id], names = parse_node_config(registry, node.type, node.config)
        except ValidationError as exc:
            config_error = WorkflowError(describe_config_error(exc, node, registry))
            raise _at(config_error, 'nodes', place, 'config', *_first_loc(exc, typo_first=True)) from None
        except SecretRefError as exc:
            secret_error = WorkflowError(_said(_node_label(node.id, node.type), key_path(exc.path), exc.problem))
            raise _at(secret_error, 'nodes', place, 'config', *exc.path) from None
        if names:
            secrets[node.id] = names

    types = {node.id: node.type for node in spec.nodes}
    incoming: dict[str, list[EdgeSpec]] = {node_id: [] for node_id in ids}
    outgoing: dict[str, list[EdgeSpec]] = {node_id: [] for node_id in ids}
    pairs: set[tuple[str, str]] = set()
    pairs_in_order: list[tuple[str, str]] = []
    for index, edge in enumerate(spec.edges):
        for end in (edge.source, edge.target):
            if end not in seen:
                missing = WorkflowError(f'edges[{index}] refers to missing node {end!r}')
                raise _at(missing, 'edges', index, 'source' if end == edge.source else 'target')
        if edge.source == edge.target:
            raise _at(WorkflowError(f'cycle: {edge.source} -> {edge.source}'), 'edges', index)
        if (edge.source, edge.target) in pairs:
            raise _at(WorkflowError(f'duplicate edge {edge.source} -> {edge.target}'), 'edges', index)
        if edge.when is not None and types[edge.source] != 'condition':
            not_a_condition = WorkflowError(
                f'edges[{index}] ({edge.source} -> {edge.target}) has "when" but {edge.source!r} is not a condition'
            )
            raise _at(not_a_condition, 'edges', index, 'when')
        pairs.add((edge.source, edge.target))
        pairs_in_order.append((edge.source, edge.target))
        incoming[edge.target].append(edge)
        outgoing[edge.source].append(edge)

    order, cyclic = topological_order(ids, pairs_in_order)
    if cyclic:
        raise WorkflowError('cycle: ' + ' -> '.join(find_cycle(ids, pairs_in_order, order)))
    return Workflow(
        spec=spec,
        configs=configs,
        order=order,
        incoming={key: tuple(value) for key, value in incoming.items()},
        outgoing={key: tuple(value) for key, value in outgoing.items()},
        secrets=secrets,
    )


_SPEC_AT: dict[tuple[str, ...], type[BaseModel]] = {  # the part of a definition at a place (list indexes left out)
    (): WorkflowSpec,
    ('nodes',): NodeSpec,
    ('edges',): EdgeSpec,
    ('schedule',): ScheduleSpec,
    ('trigger',): TriggerSpec,
    ('nodes', 'retry'): RetryPolicy,
}


def describe_config_error(exc: ValidationError, node: NodeSpec, registry: NodeRegistry | None = None) -> str:
    """A node config's validation errors, naming the node and each field (``node 'x' (http): timeout_seconds:
    Input should be greater than 0``). A key the config does not have is said as such, with the keys its type knows
    (from ``registry``) and the closest of them; a missing key as required."""
    prefix = _node_label(node.id, node.type)
    known = config_keys(registry, node.type) if registry is not None else ()
    errors = sorted(exc.errors(), key=lambda error: error['type'] != 'extra_forbidden')  # a typo explains the rest
    parts = [_config_problem(prefix, error, known) for error in errors[:5]]
    if len(errors) > 5:
        parts.append(f'... and {len(errors) - 5} more')
    return '; '.join(parts)


def config_keys(registry: NodeRegistry, type_name: str) -> tuple[str, ...]:
    """The keys a node type's config takes, as written in a definition (an alias where a field has one)."""
    if type_name not in registry:
        return ()
    fields = registry.get(type_name).Config.model_fields
    return tuple(info.alias or name for name, info in fields.items())


def _config_problem(prefix: str, error: Mapping[str, Any], known: tuple[str, ...]) -> str:
    loc = tuple(error['loc'])
    key = key_path(loc)
    if error['type'] == 'extra_forbidden' and len(loc) == 1:
        key = str(loc[0])[:60]
        if not known:
            return f'{prefix}: unknown config key {key!r}'
        return f'{prefix}: unknown config key {key!r} ({known_keys(key, known)})'
    if error['type'] == 'missing':
        return f'{prefix}: {key} is required' if key else f'{prefix}: required'
    return _said(prefix, key, schema_problem(error))


def _node_label(node_id: Any, type_name: Any) -> str:
    return f'node {node_id!r} ({type_name})'


def _said(prefix: str, key: str, problem: str) -> str:
    """``prefix: key: problem``, the one shape of a node config's problems (without ``key`` when it is about the
    whole config)."""
    return f'{prefix}: {key}: {problem}' if key else f'{prefix}: {problem}'


def _at(error: WorkflowError, *where: str | int) -> WorkflowError:
    """``error`` about the place ``where`` in the definition."""
    error.where = where
    return error


def _first_loc(exc: ValidationError, *, typo_first: bool = False) -> tuple[str | int, ...]:
    """Where the first problem that the message names is (a node config's message names an unknown key first)."""
    errors = exc.errors()
    if typo_first:
        errors = sorted(errors, key=lambda error: error['type'] != 'extra_forbidden')
    return tuple(part for part in errors[0]['loc'] if isinstance(part, str | int)) if errors else ()


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the part of a definition that holds the place ``loc`` takes (none when that part is not known), for
    a key it has no place for to be said with them and the closest of them (a typo such as ``edegs``)."""
    spec = _SPEC_AT.get(tuple(part for part in loc[:-1] if isinstance(part, str)))
    return [] if spec is None or not loc else [info.alias or name for name, info in spec.model_fields.items()]


def _describe(exc: ValidationError, *, prefix: str, raw: Mapping[str, Any] | None = None) -> str:
    """Turn pydantic errors into short messages that name the field (and the node, when known)."""
    parts = []
    for error in exc.errors()[:5]:
        match tuple(error['loc']):
            case ('nodes', int(index), 'config') if error['type'] in NOT_AN_OBJECT:  # as a node config's problems read
                parts.append(f'{_node_at(index, raw)}: config must be an object')
                continue
        location = _location(error['loc'], raw)
        where = f'{prefix}.{location}' if prefix and location else (prefix or location)
        problem = schema_problem(error, _keys_at(tuple(error['loc'])))
        parts.append(f'{where}: {problem}' if where else problem)
    more = len(exc.errors()) - 5
    if more > 0:
        parts.append(f'... and {more} more')
    return '; '.join(parts)


def _node_at(index: int, raw: Mapping[str, Any] | None) -> str:
    """The node at ``index`` of the definition's nodes as a node config's problems name it (``node 'x' (http)``),
    or by its place when its id or type is not text."""
    nodes = raw.get('nodes') if raw is not None else None
    node = nodes[index] if isinstance(nodes, list) and index < len(nodes) else None
    if isinstance(node, Mapping) and isinstance(node.get('id'), str) and isinstance(node.get('type'), str):
        return _node_label(node['id'], node['type'])
    return _location(('nodes', index), raw)


def _location(loc: tuple[Any, ...], raw: Mapping[str, Any] | None) -> str:
    text = ''
    for part in loc:
        text += f'[{part}]' if isinstance(part, int) else (f'.{part}' if text else str(part))
    if raw is not None and len(loc) >= 2 and loc[0] == 'nodes' and isinstance(loc[1], int):
        nodes = raw.get('nodes')
        if isinstance(nodes, list) and loc[1] < len(nodes) and isinstance(nodes[loc[1]], Mapping):
            node_id = nodes[loc[1]].get('id')
            if node_id is not None:
                text += f' (node {node_id!r})'
    return text
