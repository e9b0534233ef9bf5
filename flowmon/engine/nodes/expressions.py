"""JMESPath expressions for node configs: compiled once at validation, never ``eval``, evaluated on a budget.

A short expression can ask for a lot: ``[@,@]|`` repeated twenty times builds a value that doubles at every
step (cheap to build, since both halves are the same object, but a million copies of the input once anything
encodes it), and a projection over a large input visits every element. So an expression is limited when it is
compiled (length, and depth of its syntax tree, which bounds the interpreter's recursion) and while it runs:
every step of the interpreter is counted, and every value it builds (lists, objects, function results) is
measured against the payload budget as it is built. Past a limit the evaluation stops with a ``ValueError``
that the node turns into a node failure, so the retry policy applies and the event loop is never held for
long.

A step is about a microsecond of CPU: the visit of one node of the syntax tree, or the measuring of one
element of a list or object the interpreter builds. Work that is not a visit is charged in steps too, before it
is done (see :func:`function_cost`): a function such as ``sort`` is one node however long its argument is, so
it is charged for the elements it will walk, copy or sort. A list or object the interpreter assembles (a
multi-select, a projection) is measured as each part is added, so one that outgrows the payload budget stops
there rather than once it is complete.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError, LexerError, ParseError
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter, _is_comparable
from pydantic import field_validator

from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.payload_values import PayloadError

from .base import NodeConfig, NodeContext, NodeError

MAX_EXPRESSION_CHARS = 4096
MAX_EXPRESSION_DEPTH = 64  # of the syntax tree
MAX_EXPRESSION_STEPS = 100_000  # interpreter steps per evaluation: about 0.1 s of CPU
# What a function costs beyond its own step, in steps (about a microsecond each; measured on jmespath 1.1).
# Copying a list or object into a new one costs a step per element: the meter then measures the copy element by
# element in Python (0.3-0.7 µs each). Only reading one (jmespath's per-element type check, then C code: sum,
# max, contains, join, ...) costs about 0.1 µs an element, a comparison in a sort about 15 ns, and a character
# of a string (copied, searched or compared in C) about a nanosecond.
READS_PER_STEP = 8  # elements of a list or object read without being copied
COMPARISONS_PER_STEP = 64  # comparisons of a sort: n·log2(n) of them for n elements
CHARS_PER_STEP = 1024  # characters of a string read, searched, copied or compared
ENCODED_CHARS_PER_STEP = 32  # characters to_string() wrote (json.dumps: about 40 ns a character)
# Bytes (as measured: about their compact JSON) of nested lists and objects compared for equality: Python walks
# every level, about 4 ns a byte.
COMPARED_BYTES_PER_STEP = 256
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
        raise ValueError(f'invalid JMESPath expression {_short(text)!r}: {syntax_problem(exc)}') from None
    except RecursionError:
        raise ValueError(f'expression {_short(text)!r} is nested too deeply') from None
    depth = syntax_depth(parsed.parsed)
    if depth > MAX_EXPRESSION_DEPTH:
        raise ValueError(
            f'expression {_short(text)!r} nests {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are allowed'
        )
    return parsed


def syntax_problem(exc: JMESPathError) -> str:
    """What jmespath found wrong, on one line and where (its own text spans three lines: the problem, the expression
    again and a caret under the spot)."""
    if isinstance(exc, IncompleteExpressionError):
        return 'it ends too early'
    if isinstance(exc, LexerError):
        problem, position = str(exc.message), exc.lexer_position
    elif isinstance(exc, ParseError):
        problem, position = str(exc.msg), exc.lex_position
        if exc.token_value is not None and str(exc.token_value) not in problem:
            problem += f' ({exc.token_value!r})'
    else:
        return str(exc).splitlines()[0]
    where = f' at character {position + 1}' if isinstance(position, int) else ''
    return problem[:1].lower() + problem[1:] + where


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
    """jmespath's interpreter, counting its steps and measuring every value it builds.

    Every visit of a node is a step; a function call is charged beforehand for the work it will do with its
    arguments (:func:`function_cost`), a comparison for the elements it may compare, and the lists and objects
    the interpreter assembles are measured part by part as they grow.
    """

    def __init__(self, budget: PayloadBudget, *, max_steps: int = MAX_EXPRESSION_STEPS) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.steps = 0
        self._meter = budget.meter()
        self._max_bytes = budget.max_bytes

    def charge(self, steps: int, what: str = '') -> None:
        """Count ``steps`` more; past the limit raise :class:`ExpressionBudgetExceeded` (naming ``what``)."""
        self.steps += steps
        if self.steps > self.max_steps:
            detail = f': {what} is charged {steps:,} of them' if what else ''
            raise ExpressionBudgetExceeded(
                f'it took more than {self.max_steps:,} steps (the expression step limit){detail}'
            )

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.charge(1)
        result = super().visit(node, *args, **kwargs)
        if node['type'] in _BUILDS:
            self._measure(result)
        return result

    def visit_function_expression(self, node: dict[str, Any], value: Any) -> Any:
        name = node['value']
        resolved = [self.visit(child, value) for child in node['children']]
        cost = function_cost(name, resolved)
        if cost:
            self.charge(cost, f'{name}() over {_extent(resolved)}')
        if name == 'contains' and len(resolved) == 2 and type(resolved[0]) is list:
            sought = resolved[1]
            if isinstance(sought, list | dict):  # each element may be compared with it all the way down
                subject = resolved[0]
                compared = min(self._measure(subject), len(subject) * self._measure(sought))
                self.charge(compared // COMPARED_BYTES_PER_STEP, f'contains() comparing {compared:,} bytes')
        result = self._functions.call_function(name, resolved)
        if name == 'to_string' and type(result) is str and resolved and type(resolved[0]) is not str:
            self.charge(len(result) // ENCODED_CHARS_PER_STEP, f'to_string() writing {len(result):,} characters')
        return result

    def visit_comparator(self, node: dict[str, Any], value: Any) -> Any:
        left = self.visit(node['children'][0], value)
        right = self.visit(node['children'][1], value)
        kind = type(left)
        if kind is str and type(right) is str:
            cost = min(len(left), len(right)) // CHARS_PER_STEP  # compared character by character (in C)
            if cost:
                self.charge(cost, 'a comparison')
        elif (kind is list or kind is dict) and kind is type(right):
            # Two lists or objects are compared all the way down (in C): charge the smaller one's measured size, not
            # its length (two objects of one key each can hold a megabyte under it).
            compared = min(self._measure(left), self._measure(right))
            cost = max(min(len(left), len(right)) // READS_PER_STEP, compared // COMPARED_BYTES_PER_STEP)
            if cost:
                self.charge(cost, f'a comparison of {compared:,} bytes')
        operator = node['value']
        if operator in self._EQUALITY_OPS:
            return self.COMPARATOR_FUNC[operator](left, right)
        # Ordering operators are only valid for numbers (and strings); anything else is null.
        if not (_is_comparable(left) and _is_comparable(right)) or (type(left) is str) != (type(right) is str):
            return None  # (jmespath's own check lets a number and a string through, and Python then raises)
        return self.COMPARATOR_FUNC[operator](left, right)

    def visit_flatten(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node['children'][0], value)
        if not isinstance(base, list):
            return None
        self.charge(len(base), f'flattening {len(base):,} elements')
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    def visit_multi_select_list(self, node: dict[str, Any], value: Any) -> Any:
        if value is None:
            return None
        collected: list[Any] = []
        grown = _Growth(self, collected)
        for child in node['children']:
            grown.add(self.visit(child, value))
        return collected

    def visit_multi_select_dict(self, node: dict[str, Any], value: Any) -> Any:
        if value is None:
            return None
        collected: dict[str, Any] = self._dict_cls()
        grown = _Growth(self, collected)
        for child in node['children']:
            grown.add(self.visit(child, value), child['value'])
        return collected

    def visit_projection(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node['children'][0], value)
        if not isinstance(base, list):
            return None
        return self._project(base, node['children'][1])

    def visit_value_projection(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node['children'][0], value)
        if not isinstance(base, Mapping):
            return None
        return self._project(base.values(), node['children'][1])

    def visit_filter_projection(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node['children'][0], value)
        if not isinstance(base, list):
            return None
        return self._project(base, node['children'][1], node['children'][2])

    def _project(self, base: Any, rhs: dict[str, Any], condition: dict[str, Any] | None = None) -> list[Any]:
        collected: list[Any] = []
        grown = _Growth(self, collected)
        for element in base:
            if condition is not None and not self._is_true(self.visit(condition, element)):
                continue
            current = self.visit(rhs, element)
            if current is not None:
                grown.add(current)
        return collected

    def _measure(self, value: Any) -> int:
        """The size of ``value`` (a lower bound of its compact JSON); over the payload budget it raises."""
        try:
            return self._meter.measure(value, 'the value it built')[0]
        except PayloadError as exc:
            raise ExpressionBudgetExceeded(str(exc)) from None


class _Growth:
    """A list or object the interpreter is assembling, measured as each part is added.

    The running total of the parts' sizes is what the meter would count for the whole; once it is over the
    payload budget the parts so far are measured as a whole (which raises, naming the size), so nothing more is
    evaluated.
    """

    def __init__(self, interpreter: BudgetedInterpreter, collected: list[Any] | dict[str, Any]) -> None:
        self._interpreter = interpreter
        self._collected = collected
        self._size = 1  # as the meter counts: the opening bracket, then each part and its comma (or the closing one)

    def add(self, part: Any, key: str | None = None) -> None:
        interpreter = self._interpreter
        kind = type(part)
        if kind is str:
            size = len(part) + 2
        elif kind is list or kind is dict or isinstance(part, dict | list | tuple):
            size = interpreter._measure(part)  # once: the meter remembers what it measured
        else:
            size = 1  # at least; numbers are checked when the whole is measured
        collected = self._collected
        if isinstance(collected, list):
            collected.append(part)
            self._size += size + 1
        else:
            key = str(key)
            collected[key] = part
            self._size += size + len(key) + 4  # "key": and a comma
        if self._size > interpreter._max_bytes:
            # A new container of measured parts: measuring it looks each part up once, and raises.
            interpreter._measure(list(collected) if isinstance(collected, list) else dict(collected))


# Functions whose work does not grow with their arguments (length() reads a stored size, to_array() wraps).
_CONSTANT = frozenset({'abs', 'ceil', 'floor', 'length', 'not_null', 'to_array', 'type'})
# Functions that return a new list or object of their argument's elements (measured element by element).
_COPIES = frozenset({'keys', 'values', 'merge', 'map', 'reverse'})
_SORTS = frozenset({'sort', 'sort_by'})


def function_cost(name: str, args: list[Any]) -> int:
    """The steps a call of function ``name`` is charged beyond its own node, before it runs.

    * ``sort``, ``sort_by``: n + n·log2(n) / :data:`COMPARISONS_PER_STEP` for a list of n elements (it is
      copied, and sorted);
    * ``keys``, ``values``, ``merge``, ``map``, ``reverse``: one step per element (or key) of their list and
      object arguments, which they copy into a new list or object;
    * ``abs``, ``ceil``, ``floor``, ``length``, ``not_null``, ``to_array``, ``type``: nothing;
    * any other (``sum``, ``avg``, ``max``, ``min``, ``max_by``, ``min_by``, ``contains``, ``join``,
      ``to_string``, ...): one step per :data:`READS_PER_STEP` elements of their list and object arguments;
    * in every case, one step per :data:`CHARS_PER_STEP` characters of string arguments.

    The expression a ``map``, ``sort_by``, ``max_by`` or ``min_by`` applies is charged by its own visits, one
    per element at least. ``to_string`` is also charged for the text it wrote, once it has written it (bounded by
    the payload budget, as its argument is).
    """
    if name in _CONSTANT:
        return 0
    chars = sum(len(arg) for arg in args if type(arg) is str) // CHARS_PER_STEP
    elements = sum(len(arg) for arg in args if isinstance(arg, list | dict))
    if name in _SORTS:
        n = len(args[0]) if args and isinstance(args[0], list) else 0
        return chars + n + n * n.bit_length() // COMPARISONS_PER_STEP
    if name in _COPIES:
        return chars + elements
    return chars + elements // READS_PER_STEP


def _extent(args: list[Any]) -> str:
    """How big a call's arguments are, for a message: '500,000 elements' or '2,000,000 characters'."""
    elements = sum(len(arg) for arg in args if isinstance(arg, list | dict))
    chars = sum(len(arg) for arg in args if type(arg) is str)
    parts = [f'{elements:,} elements'] if elements or not chars else []
    if chars:
        parts.append(f'{chars:,} characters')
    return ' and '.join(parts)


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
