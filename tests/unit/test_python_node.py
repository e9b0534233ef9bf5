"""The ``python`` node type: the allow-list and its messages, when the module is imported, and the call itself;
plus :func:`run_task`, what a worker does with a task (here in this process)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from flowmon.engine import Engine, Event, EventBus, NodeConfig, NodeContext, NodeType, WorkflowError, fold
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.model import parse_workflow
from flowmon.engine.nodes import NodeError, NodeServices, default_registry
from flowmon.engine.nodes.python import PythonConfig, PythonNode, module_allowed
from flowmon.engine.runtime.executor import WorkerError, WorkerTask, run_task

DEMO = 'flowmon_demo_nodes.work'


def workflow(callable_: str, allowed: tuple[str, ...], **node: Any) -> Any:
    registry = default_registry(NodeServices(python_modules=allowed))
    raw = {'id': 'wf', 'name': 'W', 'nodes': [{'id': 'p', 'type': 'python', 'config': {'callable': callable_}, **node}]}
    return parse_workflow(raw, registry), registry


def refusal(callable_: str, allowed: tuple[str, ...]) -> str:
    with pytest.raises(WorkflowError) as caught:
        workflow(callable_, allowed)
    return str(caught.value)


@pytest.mark.parametrize(
    ('module', 'allowed', 'expected'),
    [
        ('reports', ('reports',), True),
        ('reports.monthly', ('reports',), True),
        ('reports_old', ('reports',), False),  # a prefix is a whole dotted name, not a string prefix
        ('reports', ('reports.monthly',), False),
        ('acme.jobs.x', ('other', 'acme.jobs'), True),
        ('anything', (), False),
    ],
)
def test_module_prefixes(module: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert module_allowed(module, allowed) is expected


def test_saving_a_module_outside_the_allow_list_names_the_module_and_the_variable() -> None:
    message = refusal('os:system', ('flowmon_demo_nodes',))
    assert "node 'p' (python): callable: " in message
    assert "module 'os' is not allowed" in message and 'FLOWMON_PYTHON_MODULES' in message
    assert 'flowmon_demo_nodes' in message  # what is allowed now
    assert 'FLOWMON_PYTHON_MODULES (now empty)' in refusal(f'{DEMO}:spin', ())  # the default allows nothing


def test_a_module_is_not_imported_unless_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / 'noisy_module_for_flowmon.py').write_text('raise RuntimeError("imported!")\n', encoding='utf-8')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert 'is not allowed' in refusal('noisy_module_for_flowmon:f', ('elsewhere',))
    assert 'noisy_module_for_flowmon' not in sys.modules
    message = refusal('noisy_module_for_flowmon:f', ('noisy_module_for_flowmon',))  # allowed: imported, and it fails
    assert "module 'noisy_module_for_flowmon' could not be imported: RuntimeError: imported!" in message


def test_a_missing_module_or_function_is_refused_when_saving() -> None:
    assert "module 'flowmon_demo_nodes.nothing_here' could not be imported: ModuleNotFoundError" in refusal(
        'flowmon_demo_nodes.nothing_here:f', ('flowmon_demo_nodes',)
    )
    assert f"module '{DEMO}' has no function 'missing'" in refusal(f'{DEMO}:missing', ('flowmon_demo_nodes',))
    assert 'is not "package.module:function"' in refusal('not a reference', ('flowmon_demo_nodes',))


def test_a_config_validated_without_an_allow_list_allows_nothing() -> None:
    with pytest.raises(ValueError, match='is not allowed'):
        PythonConfig.model_validate({'callable': f'{DEMO}:spin'})


def test_a_secret_reference_cannot_stand_for_the_callable() -> None:
    registry = default_registry(NodeServices(python_modules=('flowmon_demo_nodes',)))
    raw = {'id': 'wf', 'name': 'W', 'nodes': [{'id': 'p', 'type': 'python', 'config': {'callable': {'$secret': 's'}}}]}
    with pytest.raises(WorkflowError, match='callable'):
        parse_workflow(raw, registry)


async def test_on_the_loop_sync_and_async_functions_are_called_with_the_node_input() -> None:
    """Without a worker pool (embedding, tests) the engine runs the type in process: same call, same output."""
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    registry = default_registry(NodeServices(python_modules=('flowmon_demo_nodes',)))
    raw = {
        'id': 'wf',
        'name': 'W',
        'nodes': [
            {'id': 'sync', 'type': 'python', 'config': {'callable': f'{DEMO}:spin'}},
            {'id': 'async', 'type': 'python', 'config': {'callable': f'{DEMO}:pause'}},
        ],
    }
    engine = Engine(bus=bus, registry=registry)
    engine.submit(parse_workflow(raw, registry), {'seconds': 0})
    await asyncio.wait_for(engine.wait_idle(), 10)
    state = fold(events)
    assert state is not None and state.status == 'succeeded'
    assert state.nodes['sync'].output['rounds'] >= 0
    assert state.nodes['async'].output['echo'] == {'seconds': 0}


def task(node_type: NodeType, config: NodeConfig, input: Mapping[str, Any], **extra: Any) -> WorkerTask:
    fields: dict[str, Any] = {
        'key': 'x-n-1',
        'node_type': node_type,
        'config': config,
        'input': input,
        'execution_id': 'x',
        'node_id': 'n',
        'attempt': 1,
        'budget': PayloadBudget(),
    }
    fields.update(extra)
    return WorkerTask(**fields)


class Returns(NodeType):
    type_name = 'returns'
    runs_on = 'worker'

    class Config(NodeConfig):
        kind: str

    async def run(self, config: Any, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        ctx.log.warning('working with %s', input.get('input'))
        if config.kind == 'expected':
            raise NodeError('no such order')
        if config.kind == 'crash':
            return {}['missing']
        if config.kind == 'set':
            return {'items': {1}}
        if config.kind == 'big':
            return 'x' * 5000
        return {'ctx': [ctx.execution_id, ctx.node_id, ctx.attempt, ctx.http is None]}


def test_run_task_returns_the_worker_and_the_output_with_a_context_of_its_own() -> None:
    config = Returns.Config(kind='ok')
    assert run_task(task(Returns(), config, {'input': 1}), 'local:1') == ('local:1', {'ctx': ['x', 'n', 1, True]})


def test_run_task_sends_failures_back_as_text() -> None:
    with pytest.raises(NodeError, match='no such order'):
        run_task(task(Returns(), Returns.Config(kind='expected'), {}), 'w')
    with pytest.raises(WorkerError) as caught:
        run_task(task(Returns(), Returns.Config(kind='crash'), {}), 'w')
    assert caught.value.error == "KeyError: 'missing'"
    assert caught.value.traceback is not None and 'Traceback' in caught.value.traceback
    assert str(caught.value) == "KeyError: 'missing'"


def test_run_task_makes_the_output_plain_data_within_the_budget() -> None:
    assert run_task(task(Returns(), Returns.Config(kind='set'), {}), 'w') == ('w', {'items': '{1}'})
    small = PayloadBudget(max_bytes=1024)
    with pytest.raises(NodeError, match='over FLOWMON_MAX_PAYLOAD_BYTES'):
        run_task(task(Returns(), Returns.Config(kind='big'), {}, budget=small), 'w')


def test_run_task_hides_secret_values_from_the_node_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger='flowmon.node'):
        run_task(task(Returns(), Returns.Config(kind='ok'), {'input': 'hunter2'}, secret_values=('hunter2',)), 'w')
    assert 'working with ***' in caplog.text and 'hunter2' not in caplog.text


def test_the_python_node_checks_the_allow_list_again_where_it_runs() -> None:
    config = PythonConfig.model_validate(
        {'callable': f'{DEMO}:spin'}, context={'python_modules': ('flowmon_demo_nodes',)}
    )
    with pytest.raises(NodeError, match='is not allowed'):
        run_task(task(PythonNode(()), config, {'input': {'seconds': 0}}), 'w')
    _, output = run_task(task(PythonNode(['flowmon_demo_nodes']), config, {'input': {'seconds': 0}}), 'w')
    assert output['rounds'] >= 0
