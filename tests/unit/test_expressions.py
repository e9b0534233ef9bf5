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
    COMPARED_BYTES_PER_STEP,
    MAX_EXPRESSION_CHARS,
    BudgetedInterpreter,
    ExpressionBudgetExceeded,
    compile_expression,
    evaluate,
    function_cost,
)

BOMB = '[@,@]|' * 19 + '@'
INPUT = {'input': {'order_id': 'A-1001', 'items': [{'sku': f'S{i}', 'qty': i} for i in range(40)]}}


def refused(expression: str, data: object, match: str) -> tuple[BudgetedInterpreter, int]:
    """Evaluate ``expression`` over ``data``, which the budget must refuse with ``match``: the interpreter (its steps)
    and the peak of memory allocated meanwhile."""
    interpreter = BudgetedInterpreter(PayloadBudget())
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionBudgetExceeded, match=match):
            interpreter.visit(compile_expression(expression).parsed, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return interpreter, peak


def test_the_doubling_bomb_is_refused_by_the_size_budget_without_expanding_anything() -> None:
    interpreter, peak = refused(BOMB, INPUT, r'over FLOWMON_MAX_PAYLOAD_BYTES \(1 MiB\)')
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


# A function is one node of the syntax tree however much it does, so it is charged for its arguments before it
# runs. The defect this guards against: 100 sorts of a 1 MB list (each within the payload budget) held the event
# loop for 40 s, one step each, and only the finished 95 MiB list was refused.
HALF_MILLION = {'input': {'a': [i % 10 for i in range(500_000)]}}  # 1 MB as JSON: within the payload budget
HUNDRED_SORTS = '[' + ','.join(['sort(input.a)'] * 100) + ']'


def test_a_sort_is_charged_for_its_elements_before_it_sorts() -> None:
    assert len(HUNDRED_SORTS) < MAX_EXPRESSION_CHARS
    # 500,000 elements copied (one step each), and 500,000 * 19 comparisons at 64 a step.
    assert function_cost('sort', [HALF_MILLION['input']['a']]) == 500_000 + 500_000 * 19 // 64 == 648_437
    interpreter, peak = refused(
        HUNDRED_SORTS, HALF_MILLION, r'more than 100,000 steps .*sort\(\) over 500,000 elements'
    )
    # The list, the call and `input.a` (3 nodes) were visited, then the first sort was charged and refused.
    assert interpreter.steps == 1 + 1 + 3 + 648_437
    assert peak < 512 * 1024  # nothing was sorted (a sorted copy alone is 4 MB of pointers)


def test_evaluate_names_the_function_that_was_over_the_step_budget() -> None:
    with pytest.raises(
        ExpressionBudgetExceeded,
        match=r"expression '\[sort.*' stopped: it took more than 100,000 steps \(the expression step limit\): "
        r'sort\(\) over 500,000 elements is charged 648,437 of them',
    ):
        evaluate(HUNDRED_SORTS, HALF_MILLION)


def test_one_sort_of_50_000_numbers_fits_the_budget_and_a_second_does_not() -> None:
    # Sorting 50,000 numbers (jmespath's type check, the sort, and measuring the sorted copy) takes about 40 ms:
    # it is charged 50,000 + 50,000 * 16 / 64 = 62,500 steps, so one fits in the 100,000 and two do not.
    numbers = [(i * 7919) % 50_000 for i in range(50_000)]
    interpreter = BudgetedInterpreter(PayloadBudget())
    assert interpreter.visit(compile_expression('sort(xs)').parsed, {'xs': numbers}) == list(range(50_000))
    assert interpreter.steps == 2 + 62_500  # the call and `xs`, then the sort
    with pytest.raises(ExpressionBudgetExceeded, match=r'sort\(\) over 50,000 elements is charged 62,500'):
        evaluate('[sort(xs), sort(xs)]', {'xs': numbers})


@pytest.mark.parametrize(
    ('text', 'data', 'charged'),
    [
        ('length(xs)', {'xs': [0] * 8000}, 0),  # a stored size
        ('to_array(xs)', {'xs': [0] * 8000}, 0),
        ('sum(xs)', {'xs': [0] * 8000}, 1000),  # read: 8 elements a step
        ('max(xs)', {'xs': [0] * 8000}, 1000),
        ('contains(xs, `1`)', {'xs': [0] * 8000}, 1000),
        ("join(',', ss)", {'ss': ['a'] * 8000}, 1000),
        ('reverse(xs)', {'xs': [0] * 8000}, 8000),  # copied: 1 element a step
        ('keys(o)', {'o': {f'k{i}': i for i in range(8000)}}, 8000),
        ('merge(o, o)', {'o': {f'k{i}': i for i in range(8000)}}, 16_000),
        ('map(&@, xs)', {'xs': [0] * 8000}, 8000 + 8000),  # the copy, and a visit of `@` for each element
        ('sort_by(xs, &@)', {'xs': [0] * 8000}, 8000 + 8000 * 13 // 64 + 1 + 8000),  # `@` visited 1 + 8000 times
        ('max_by(xs, &@)', {'xs': [0] * 8000}, 1000 + 8000),
        ("contains(s, 'b')", {'s': 'a' * 8192}, 8),  # 1,024 characters a step
        ('reverse(s)', {'s': 'a' * 8192}, 8),
    ],
)
def test_functions_are_charged_for_the_work_they_do(text: str, data: Mapping[str, Any], charged: int) -> None:
    interpreter = BudgetedInterpreter(PayloadBudget())
    interpreter.visit(compile_expression(text).parsed, data)
    assert interpreter.steps == _visited_once(compile_expression(text).parsed) + charged


def _visited_once(node: dict[str, Any]) -> int:
    """The nodes of a syntax tree the interpreter visits once (an expref's expression is visited per element)."""
    if node['type'] == 'expref':
        return 1
    return 1 + sum(_visited_once(child) for child in node.get('children', ()) if isinstance(child, dict))


def test_to_string_is_charged_for_the_text_it_wrote() -> None:
    data = {'xs': [{'n': 1000 + i} for i in range(4000)]}  # 44,001 characters as compact JSON
    interpreter = BudgetedInterpreter(PayloadBudget())
    assert len(interpreter.visit(compile_expression('to_string(xs)').parsed, data)) == 44_001
    assert interpreter.steps == 2 + 4000 // 8 + 44_001 // 32  # the nodes, reading xs, then writing its text


def test_comparing_lists_and_strings_is_charged_for_their_elements() -> None:
    data = {'xs': list(range(80_000)), 'ys': list(range(80_000))}
    interpreter = BudgetedInterpreter(PayloadBudget())
    assert interpreter.visit(compile_expression('xs == ys').parsed, data) is True
    assert interpreter.steps == 3 + 80_000 // 8
    with pytest.raises(ExpressionBudgetExceeded, match=r'a comparison of [\d,]+ bytes is charged 10,000'):
        evaluate('[' + ','.join(['xs == ys'] * 10) + ']', data)


def test_comparing_nested_objects_is_charged_for_all_they_hold_not_their_length() -> None:
    """Two objects of one key each, with 30,000 keys under it: Python compares them all the way down (about 1.8 ms a
    comparison of a megabyte), so their measured size is charged, not their length of one."""
    deep = {f'key{i:05d}': i for i in range(30_000)}
    data = {'a': {'x': deep}, 'b': {'x': dict(deep)}}
    interpreter = BudgetedInterpreter(PayloadBudget())
    assert interpreter.visit(compile_expression('a == b').parsed, data) is True
    size = interpreter._measure(data['a'])
    assert size > 400_000 and interpreter.steps == 3 + size // COMPARED_BYTES_PER_STEP
    with pytest.raises(ExpressionBudgetExceeded, match=r'a comparison of [\d,]+ bytes is charged'):
        evaluate('[' + ','.join(['a==b'] * 800) + ']', data)  # held the event loop 1.5 s before


def test_contains_is_charged_for_comparing_a_list_or_object_it_looks_for() -> None:
    record = {'id': 1, 'tags': [f't{i}' for i in range(200)]}
    data = {'rows': [dict(record, id=i) for i in range(2_000)], 'wanted': record}
    interpreter = BudgetedInterpreter(PayloadBudget(max_bytes=8 * 1024 * 1024))
    assert interpreter.visit(compile_expression('contains(rows, wanted)').parsed, data) is True
    compared = min(interpreter._measure(data['rows']), 2_000 * interpreter._measure(record))
    # the call, `rows` and `wanted`; reading 2,000 elements; comparing at most every byte of the rows
    assert interpreter.steps == 3 + 2_000 // 8 + compared // COMPARED_BYTES_PER_STEP


def test_ordering_a_number_against_a_string_is_null_not_an_error() -> None:
    assert evaluate('a < b', {'a': 1, 'b': 'x'}) is None
    assert evaluate('b >= a', {'a': 1, 'b': 'x'}) is None
    assert evaluate('a < b', {'a': 1, 'b': 2}) is True and evaluate('a < b', {'a': 'x', 'b': 'y'}) is True


def test_flatten_is_charged_for_the_elements_it_walks() -> None:
    data = {'xs': [[i] for i in range(40_000)]}
    interpreter = BudgetedInterpreter(PayloadBudget())
    assert interpreter.visit(compile_expression('xs[]').parsed, data) == list(range(40_000))
    # The projection, `xs`, flattening its 40,000 lists, and the projection's visit of each element.
    assert interpreter.steps == 3 + 40_000 + 40_000


def test_a_list_being_assembled_stops_as_soon_as_it_outgrows_the_budget() -> None:
    small = PayloadBudget(max_bytes=4096)
    data = {'xs': list(range(1000))}  # 3,891 characters as JSON: within the budget once, not twice
    interpreter = BudgetedInterpreter(small, max_steps=10**9)
    expression = '[' + ','.join(['sort(xs)'] * 50) + ']'
    with pytest.raises(ExpressionBudgetExceeded, match=r'the value it built is at least 6.7 KiB, over .* \(4 KiB\)'):
        interpreter.visit(compile_expression(expression).parsed, data)
    # The list, then two sorts (2 nodes and 1000 + 1000 * 10 / 64 steps each), not fifty.
    assert interpreter.steps == 1 + 2 * (2 + 1000 + 1000 * 10 // 64)


STRING = 'y' * 1000  # 1,002 characters as JSON: four fit in 4 KiB, five do not


@pytest.mark.parametrize(
    ('text', 'data', 'steps'),
    [
        ('[*]', [STRING] * 8, 1 + 1 + 5),  # the projection, its base, then five of its eight parts
        ('*', {str(i): STRING for i in range(8)}, 1 + 1 + 5),  # over an object's values
        ("[?@ != 'x']", [STRING] * 8, 1 + 1 + 5 * 4),  # a filter: the condition is 3 nodes
        ('[@, @, @, @, @, @, @, @]', STRING, 1 + 5),
        ('{a: @, b: @, c: @, d: @, e: @, f: @, g: @, h: @}', STRING, 1 + 5 * 2),  # a key and its value
    ],
)
def test_projections_and_multi_selects_stop_as_soon_as_they_outgrow_the_budget(
    text: str, data: Any, steps: int
) -> None:
    interpreter = BudgetedInterpreter(PayloadBudget(max_bytes=4096))
    with pytest.raises(ExpressionBudgetExceeded, match=r'at least 4.9 KiB, over FLOWMON_MAX_PAYLOAD_BYTES \(4 KiB\)'):
        interpreter.visit(compile_expression(text).parsed, data)
    assert interpreter.steps == steps  # the last three parts were never evaluated


SYNTAX_ERRORS = {  # an expression, and what is wrong with it, as the message says it
    'a.[': 'it ends too early',
    'a ||| b': "invalid token ('|') at character 5",
    '"a': 'unclosed " delimiter at character 1',
    'a b': 'unexpected token: b at character 3',
}


@pytest.mark.parametrize('text', list(SYNTAX_ERRORS))
def test_a_syntax_error_is_said_on_one_line_with_where_it_is(text: str) -> None:
    with pytest.raises(ValueError) as info:
        compile_expression(text)
    assert str(info.value) == f'invalid JMESPath expression {text!r}: {SYNTAX_ERRORS[text]}'
