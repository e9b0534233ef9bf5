"""What search finds an execution by: the text of its input, its node outputs and its error messages.

Search matches a query as a case-insensitive substring of one value: a key or a string of the input or of a node's
output (numbers and booleans as JSON writes them), or an error message (of a node's attempt or of the execution).
:func:`execution_text` lists those values, each once, one a line, so a query never matches across two of them; the
store indexes that text (SQLite FTS5 trigrams, PostgreSQL ``pg_trgm``), and a live page matches queued and running
executions against the same text (:func:`text_contains`).

Bounds: a value counts with its first :data:`MAX_VALUE_CHARS` characters and an execution's text stops at
:data:`MAX_TEXT_CHARS` (input first, then errors, then outputs), so indexing one execution costs a bounded amount,
whatever its payloads weigh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .payload_values import LONE_SURROGATE, unstorable
from .state import ExecutionState

MAX_VALUE_CHARS = 4_000  # like error messages in events: a longer string counts with its beginning
MAX_TEXT_CHARS = 262_144  # an execution's searchable text at the most
MIN_QUERY_CHARS = 3  # trigram indexes find substrings of three characters or more
MAX_QUERY_CHARS = 200


def input_text(value: Any) -> str:
    """The searchable text of an execution input (all that is known of an execution before it ends)."""
    return _joined(_values(value))


def execution_text(state: ExecutionState) -> str:
    """The searchable text of an execution: its input, every error message, then every node output."""
    return _joined(_all_values(state))


def text_contains(text: str, query: str) -> bool:
    """Whether ``query`` (normalised by :func:`normalise_query`) is a case-insensitive substring of a line of
    ``text``: what the index answers, for values that are not stored yet."""
    folded = query.casefold()
    return any(folded in line.casefold() for line in text.split('\n'))


def normalise_query(query: str) -> str:
    """``query`` without surrounding white space; raises ValueError (naming the rule) when it cannot be searched
    for: shorter than :data:`MIN_QUERY_CHARS` or longer than :data:`MAX_QUERY_CHARS` characters, or holding a
    control character (a line break would look across two values) or a lone surrogate."""
    text = query.strip()
    if len(text) < MIN_QUERY_CHARS:
        raise ValueError(f'q must be at least {MIN_QUERY_CHARS} characters (got {len(text)})')
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f'q must be at most {MAX_QUERY_CHARS} characters (got {len(text)})')
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError('q must not contain control characters (line breaks, tabs, ...)')
    if unstorable(text) is not None:  # a lone surrogate: no text holds one, nor can the database compare it
        raise ValueError(f'q must not contain {LONE_SURROGATE}')
    return text


def _all_values(state: ExecutionState) -> Iterator[str]:
    """The values in text order, lazily: :func:`_joined` stops walking at its budget, whatever the payloads weigh."""
    yield from _values(state.input)
    if state.error:
        yield state.error
    nodes = state.nodes.values()
    for node in nodes:
        for attempt in node.attempt_log:
            if attempt.error:
                yield attempt.error
        if node.error:
            yield node.error
    # every output in one walk, in node order (the first one's values first: its own are pushed above the others')
    outputs = [node.output for node in nodes if node.output is not None]
    outputs.reverse()
    yield from _walk(outputs)


def _values(value: Any) -> Iterator[str]:
    """Every key and scalar of a JSON value, as text, depth first (without recursion: payloads nest 64 levels);
    lazily, so a walk that reaches the text's budget goes no further."""
    return _walk([value])


def _walk(stack: list[Any]) -> Iterator[str]:
    """The values of :func:`_values` of what ``stack`` holds, the last item's first (``stack`` is used up)."""
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)  # (the exact JSON types first: most values are; subclasses go the way of isinstance)
        if kind is str:
            yield item
        elif kind is float:
            yield repr(item)
        elif kind is int:
            yield str(item)
        elif isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                push(inner)
                push(key if type(key) is str else str(key))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif item is True:
            yield 'true'
        elif item is False:
            yield 'false'
        elif isinstance(item, int | float):
            yield repr(item) if isinstance(item, float) else str(item)


def _joined(values: Iterable[str]) -> str:
    """Distinct values, each cut to :data:`MAX_VALUE_CHARS` and on a line of its own (line breaks inside a value
    become spaces), up to :data:`MAX_TEXT_CHARS` in all."""
    seen: dict[str, None] = {}
    size = 0
    for value in values:
        if value in seen:  # (most repeats are short values seen as they are: skip them before any work)
            continue
        line = value[:MAX_VALUE_CHARS]
        if '\n' in line or '\r' in line:
            line = line.replace('\r', ' ').replace('\n', ' ')
        if not line or line in seen:
            continue
        if size + len(line) + 1 > MAX_TEXT_CHARS:
            break
        seen[line] = None
        size += len(line) + 1
    return '\n'.join(seen)
