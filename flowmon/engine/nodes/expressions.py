"""JMESPath expressions for node configs: compiled once at validation, never ``eval``, evaluated on a budget.

A short expression can ask for a lot: ``[@,@]|`` repeated twenty times builds a value that doubles at every
step (cheap to build, since both halves are the same object, but a million copies of the input once anything
encodes it), and a projection over a large input visits every element. So an expression is limited when it is
compiled (length, and depth of its syntax tree, which bounds the interpreter's recursion) and while it runs:
every step of the interpreter is counted, and every value it builds (lists, objects, function results) is
measured against the payload budget as it is built. Past a limit the evaluation stops with a ``ValueError``
that the node turns into a node failure, so the retry policy applies and the event loop is never held for
long.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter
from pydantic import field_validator

from flowmon.engine.core.payload import PayloadBudget, PayloadError

from .base import NodeConfig, NodeContext, NodeError

MAX_EXPRESSION_CHARS = 4096
MAX_EXPRESSION_DEPTH = 64  # of the syntax tree
MAX_EXPRESSION_STEPS = 100_000  # interpreter steps per evaluation: about 0.1 s of CPU
# Node types whose result is a value the interpreter builds (rather than a part of its input).
_BUILDS = frozenset(
    {
        'multi_select_list',
        'multi_select_dict',
        'projection',
        'value_projection',
        'filter_projection',
        'flatten',
        'slice',
        'function_expression',
    }
)
_DEFAULT_BUDGET = PayloadBudget()


class ExpressionBudgetExceeded(ValueError):
    """The evaluation took too many steps or built a value over the payload budget."""


@functools.lru_cache(maxsize=512)
def compile_expression(text: str) -> ParsedResult:
    """Compile a JMESPath expression; raises ``ValueError`` naming the problem (syntax, length, nesting)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f'expression is {len(text)} characters long; at most {MAX_EXPRESSION_CHARS} are allowed')
    try:
        parsed = jmespath.compile(text)
    except JMESPathError as exc:
        raise ValueError(f'invalid JMESPath expression {_short(text)!r}: {exc}') from None
    except RecursionError:
        raise ValueError(f'expression {_short(text)!r} is nested too deeply') from None
    depth = syntax_depth(parsed.parsed)
    if depth > MAX_EXPRESSION_DEPTH:
        raise ValueError(
            f'expression {_short(text)!r} nests {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are allowed'
        )
    return parsed


def syntax_depth(tree: dict[str, Any]) -> int:
    """The depth of a JMESPath syntax tree (iterative)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.get('children', ()) if isinstance(child, dict))
    return deepest


def evaluate(
    text: str, data: Any, budget: PayloadBudget | None = None, *, max_steps: int = MAX_EXPRESSION_STEPS
) -> Any:
    """Evaluate a JMESPath expression over ``data`` within ``budget``; raises ``ValueError`` naming the problem."""
    parsed = compile_expression(text)
    interpreter = BudgetedInterpreter(budget or _DEFAULT_BUDGET, max_steps=max_steps)
    try:
        return interpreter.visit(parsed.parsed, data)
    except ExpressionBudgetExceeded as exc:
        raise ExpressionBudgetExceeded(f'expression {_short(text)!r} stopped: {exc}') from None
    except JMESPathError as exc:
        raise ValueError(f'expression {_short(text)!r} failed: {exc}') from None


class BudgetedInterpreter(TreeInterpreter):
    """jmespath's interpreter, counting its steps and measuring every value it builds."""

    def __init__(self, budget: PayloadBudget, *, max_steps: int = MAX_EXPRESSION_STEPS) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.steps = 0
        self._meter = budget.meter()

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.steps += 1
        if self.steps > self.max_steps:
            raise ExpressionBudgetExceeded(f'it took more than {self.max_steps:,} steps (the expression step limit)')
        result = super().visit(node, *args, **kwargs)
        if node['type'] in _BUILDS:
            try:
                self._meter.measure(result, 'the value it built')
            except PayloadError as exc:
                raise ExpressionBudgetExceeded(str(exc)) from None
        return result


def evaluate_input(text: str, input: Mapping[str, Any], ctx: NodeContext) -> Any:
    """Evaluate a node config's expression over the node's input on the run's payload budget.

    Any problem (a JMESPath error, a budget exceeded) is a :class:`NodeError`, so the node fails and its retry
    policy applies.
    """
    try:
        return evaluate(text, dict(input), ctx.budget)
    except ValueError as exc:
        raise NodeError(str(exc)) from None


def optional_expression(value: str | None) -> str | None:
    """Check an optional JMESPath config field in its validator: it must compile when it is given."""
    if value is not None:
        compile_expression(value)
    return value


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, empty string, list and object are false; 0 is true."""
    return not (value is None or value is False or value in ('', [], {}))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + '…'


class ExpressionConfig(NodeConfig):
    """A config whose ``expression`` is JMESPath, checked when the workflow is saved."""

    expression: str

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value
