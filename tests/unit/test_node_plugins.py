"""Node types from the ``flowmon.node_types`` entry points: the installed ones (flowmon's built-ins and the example
plugin ``examples/flowmon-demo-nodes``, which ``make install`` installs), and what is refused. Other packages are
made as ``*.dist-info`` directories on ``sys.path``, which is how an installed package looks to importlib."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from flowmon.engine.nodes import (
    BUILTIN_NODE_TYPES,
    ENTRY_POINT_GROUP,
    NodeServices,
    NodeType,
    PluginError,
    default_registry,
    load_registry,
)
from flowmon.engine.nodes.python import PythonNode
from flowmon.engine.nodes.webhook import WebhookNode


class NotANodeType:
    type_name = 'not_a_node'


class Misnamed(NodeType):
    type_name = 'actual_name'

    async def run(self, config: object, input: object, ctx: object) -> None: ...


class Elsewhere(NodeType):
    type_name = 'elsewhere'
    runs_on = 'the moon'  # type: ignore[assignment]

    async def run(self, config: object, input: object, ctx: object) -> None: ...


def install(site: Path, name: str, version: str, **types: str) -> None:
    """Make ``site`` hold a distribution ``name`` offering ``types`` (entry point name -> ``module:Class``)."""
    info = site / f'{name.replace("-", "_")}-{version}.dist-info'
    info.mkdir(parents=True)
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n', encoding='utf-8')
    lines = [f'[{ENTRY_POINT_GROUP}]', *(f'{key} = {value}' for key, value in types.items())]
    (info / 'entry_points.txt').write_text('\n'.join(lines) + '\n', encoding='utf-8')


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_installed_types_load_the_builtins_and_the_example_plugin() -> None:
    registry = load_registry(NodeServices(python_modules=('flowmon_demo_nodes',)))
    assert {'condition', 'delay', 'fail', 'http', 'log', 'python', 'transform'} <= set(registry)
    assert {'count_primes', 'word_count'} <= set(registry)  # from flowmon-demo-nodes
    assert registry.get('count_primes').runs_on == 'worker' and registry.get('word_count').runs_on == 'loop'
    assert 'webhook' not in registry  # it needs a delivery port, which only the composition root has
    python = registry.get('python')
    assert isinstance(python, PythonNode) and python.allowed_modules == ('flowmon_demo_nodes',)


def test_the_webhook_type_is_built_with_the_port_it_is_given() -> None:
    port = object()
    registry = load_registry(NodeServices(webhooks=port))  # type: ignore[arg-type]
    webhook = registry.get('webhook')
    assert isinstance(webhook, WebhookNode) and webhook.port is port


def test_the_builtins_register_through_flowmons_own_entry_points() -> None:
    own = {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.dist and ep.dist.name == 'flowmon'}
    assert own == {node_type.type_name: node_type for node_type in BUILTIN_NODE_TYPES}
    assert set(default_registry()) == set(own) - {'webhook'}


def test_a_name_two_packages_offer_is_refused_naming_both(site: Path) -> None:
    install(site, 'acme-nodes', '2.0', delay='acme_nodes:Delay')
    with pytest.raises(PluginError) as caught:
        load_registry()
    message = str(caught.value)
    assert "node type 'delay' is offered by two packages" in message
    assert 'flowmon 0.1.0 (flowmon.engine.nodes.delay:DelayNode)' in message
    assert 'acme-nodes 2.0 (acme_nodes:Delay)' in message


@pytest.mark.parametrize(
    ('value', 'problem'),
    [
        ('no_such_module_for_flowmon:Type', "could not be loaded: ModuleNotFoundError: No module named 'no_such"),
        (f'{__name__}:NotANodeType', 'is not a NodeType subclass'),
        (f'{__name__}:Misnamed', "has type_name 'actual_name'; the entry point must be named after it"),
        (f'{__name__}:Elsewhere', "has runs_on 'the moon'"),
    ],
)
def test_an_entry_point_that_is_not_a_usable_node_type_is_refused(site: Path, value: str, problem: str) -> None:
    name = value.rsplit(':', 1)[1].lower() if 'Elsewhere' in value else 'broken'
    install(site, 'broken-nodes', '0.3', **{name: value})
    with pytest.raises(PluginError) as caught:
        load_registry()
    assert problem in str(caught.value)
    assert 'broken-nodes 0.3' in str(caught.value)
