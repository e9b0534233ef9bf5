"""JMESPath on a budget: compile-time limits, a step count and a size for every value an expression builds.

The bomb from the security review (``[@,@]|`` repeated 19 times) is refused by the budget, not by a clock:
the interpreter counts and measures, and nothing expands.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Mapping
from typing import Any

import pytest

from flowmon.engine import Engine, EventBus, fold
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.model import WorkflowError, parse_workflow
from flowmon.engine.nodes import default_registry
from flowmon.engine.nodes.expressions import (
    MAX_EXPRESSION_CHARS,
    BudgetedInterpreter,
    ExpressionBudgetExceeded,
    compile_expression,
    evaluate,
)

BOMB = '[@,@]|' * 19 + '@'
INPUT = {'input': {'order_id': 'A-1001', 'items': [{'sku': f'S{i}', 'qty': i} for i in range(40)]}}


def test_the_doubling_bomb_is_refused_by_the_size_budget_without_expanding_anything() -> None:
    interpreter = BudgetedInterpreter(PayloadBudget())
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionBudgetExceeded, match=r'over FLOWMON_MAX_PAYLOAD_BYTES \(1 MiB\)'):
            interpreter.visit(compile_expression(BOMB).parsed, INPUT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert interpreter.steps < 100  # refused after a handful of steps: by measuring, not by running long
    assert peak < 512 * 1024  # the would-be gigabytes were never built


def test_evaluate_names_the_expression_and_the_limit() -> None:
    with pytest.raises(ValueError, match=r"expression '\[@,@\]\|.*' stopped: the value it built is at least"):
        evaluate(BOMB, INPUT)


def test_every_step_counts_against_the_step_budget() -> None:
    data = {'xs': list(range(1000))}
    assert evaluate('xs[*].[@, @]', data, max_steps=10_000)[3] == [3, 3]
    with pytest.raises(ExpressionBudgetExceeded, match='more than 1,000 steps'):
        evaluate('xs[*].[@, @]', data, max_steps=1_000)


def test_functions_and_projections_are_measured_against_the_budget_they_are_given() -> None:
    small = PayloadBudget(max_bytes=4096)
    data = {'s': 'x' * 1000}
    assert len(evaluate("join(',', [s, s, s])", data, small)) == 3002
    with pytest.raises(ExpressionBudgetExceeded, match=r'over FLOWMON_MAX_PAYLOAD_BYTES \(4 KiB\)'):
        evaluate("join(',', [s, s, s, s, s])", data, small)
    deep: Any = 'leaf'
    for _ in range(60):
        deep = [deep]
    assert evaluate('[[@]]', deep, small)
    with pytest.raises(ExpressionBudgetExceeded, match='nested more than 64 levels deep'):
        evaluate('[[[[[[@]]]]]]', deep, small)


def test_ordinary_expressions_still_work() -> None:
    assert evaluate('input.items[?qty > `37`].sku', INPUT) == ['S38', 'S39']
    assert evaluate('{id: input.order_id, n: length(input.items)}', INPUT) == {'id': 'A-1001', 'n': 40}
    assert evaluate('sort_by(input.items, &qty)[-1].sku', INPUT) == 'S39'
    assert evaluate('input.missing', INPUT) is None


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('a' * (MAX_EXPRESSION_CHARS + 1), 'characters long'),
        ('(' * 2000 + '@' + ')' * 2000, 'nested too deeply'),
        ('!' * 600 + '@', 'nested too deeply'),
        ('[' * 70 + '@' + ']' * 70, 'levels deep'),
        ('a.[', 'invalid JMESPath expression'),
    ],
)
def test_expressions_are_bounded_when_compiled(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_expression(text)


def test_a_workflow_with_an_unbounded_expression_is_refused_when_saved() -> None:
    with pytest.raises(WorkflowError, match='nested too deeply'):
        parse_workflow(
            {
                'id': 'w',
                'name': 'w',
                'nodes': [{'id': 't', 'type': 'transform', 'config': {'expression': '!' * 600 + '@'}}],
            },
            default_registry(),
        )


@pytest.mark.parametrize(
    ('node_type', 'config'),
    [
        ('transform', {'expression': BOMB}),
        ('condition', {'expression': BOMB}),
        ('log', {'message': 'm', 'expression': BOMB}),
    ],
)
async def test_the_bomb_fails_the_node_and_the_retry_policy_applies(node_type: str, config: Mapping[str, Any]) -> None:
    bus = EventBus()
    events: list[Any] = []
    bus.subscribe(events.append)
    registry = default_registry()
    engine = Engine(bus=bus, registry=registry, rand=lambda: 0.5)
    workflow = parse_workflow(
        {
            'id': 'w',
            'name': 'w',
            'nodes': [
                {
                    'id': 'bomb',
                    'type': node_type,
                    'config': dict(config),
                    'retry': {'max_attempts': 2, 'backoff_seconds': 0},
                }
            ],
        },
        registry,
    )
    engine.submit(workflow, {'order_id': 'A-1'})
    await engine.wait_idle()
    state = fold(events)
    assert state is not None and state.status == 'failed'
    node = state.nodes['bomb']
    assert node.status == 'failed' and node.attempts == 2
    assert 'over FLOWMON_MAX_PAYLOAD_BYTES (1 MiB)' in (node.error or '')
    assert [event.type for event in events].count('node.retrying') == 1
