"""Reading a workflow document: JSON, or YAML where it is allowed, within its budgets.

:func:`load_document` turns the text of a definition into plain values (what JSON holds) before anything else
looks at it: the size first, then the nesting, then for YAML the parser's events (anchors, aliases and tags other
than JSON's are refused while nothing is built yet); a key named twice in one object is refused rather than
silently replaced. What it returns is checked as a workflow by :func:`flowmon.engine.model.parse_workflow`. The
errors here are :class:`WorkflowError`'s family, whose messages name the problem and its line or place.
"""

from __future__ import annotations

from typing import Any

import yaml

from flowmon.engine.core.payload import MAX_NESTING, DuplicateKey, json_text_depth, loads_unique
from flowmon.engine.core.payload_values import MAX_INT, MAX_KEY_CHARS_SHOWN, bounded_text, human_size

MAX_DEFINITION_BYTES = 2 * 1024 * 1024
MAX_YAML_BYTES = 256 * 1024  # YAML costs far more to parse than JSON: larger workflows are sent as JSON
_YAML_LOADER: Any = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


class WorkflowError(ValueError):
    """A workflow definition that cannot be accepted; the message names what is wrong, ``where`` the place in the
    definition of the first problem it names when it is known (``('nodes', 2, 'config', 'url')``; else empty)."""

    where: tuple[str | int, ...] = ()


class DocumentRefused(WorkflowError):
    """A well-formed document over a limit (nesting, YAML anchors and aliases): HTTP 422."""


class DocumentTooLarge(DocumentRefused):
    """A document over the size limit: HTTP 413."""


class DocumentDuplicateKey(WorkflowError):
    """A document with an object (a YAML mapping) that names one key twice: read, its last value would replace the
    others unseen. ``where`` is the place of that object (empty for the document itself, and in YAML, whose message
    says the line instead)."""

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.where = where


_YAML_TAG = 'tag:yaml.org,2002:'
# The explicit tags a document may use: those of values JSON has (a definition is stored as JSON); ``!!binary``,
# ``!!set``, ``!!timestamp`` and the like build values no JSON holds (bytes that are not text, a NUL among them).
_JSON_TAGS = frozenset(_YAML_TAG + name for name in ('str', 'int', 'float', 'bool', 'null', 'seq', 'map'))


class _UniqueKeyLoader(_YAML_LOADER):
    """The safe loader, refusing a mapping that names one key twice (PyYAML keeps the last value). A key is the text
    it is written as, as JSON has text keys alone (``1:``, ``on:``, ``null:`` and ``2024-01-01:`` are the keys "1",
    "on", "null" and "2024-01-01"); a list or a mapping as a key is refused. A date is read as the text it is written
    as too."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            _keys_as_text(node)
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # a merge's keys may be overridden: that is what it is for
                key = self.construct_object(key_node, deep=deep)  # kept: not built again for the mapping
                if key in seen:
                    shown = bounded_text(str(key), MAX_KEY_CHARS_SHOWN)
                    line = key_node.start_mark.line + 1
                    raise DocumentDuplicateKey(
                        f'the document names the key {shown!r} twice in one mapping (line {line}); '
                        'each key may appear once'
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_MERGE = _YAML_TAG + 'merge'


def _keys_as_text(node: yaml.MappingNode) -> None:
    """Make every key of ``node`` (and of the mappings it merges) text, as written; refuse one that is no scalar."""
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for part in merged:
                if isinstance(part, yaml.MappingNode):
                    _keys_as_text(part)
        elif isinstance(key_node, yaml.ScalarNode):
            key_node.tag = _YAML_TAG + 'str'
        else:
            line = key_node.start_mark.line + 1
            raise DocumentRefused(f'a YAML key must be text; the key on line {line} is a list or a mapping')


_UniqueKeyLoader.add_constructor(_YAML_TAG + 'timestamp', yaml.SafeLoader.construct_yaml_str)
_MAX_INT_TEXT = 200  # characters: any 64-bit integer as YAML writes one (0b and 64 digits, underscores among them)


def _bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """A YAML integer within 64 bits, as a definition holds (JSON's are checked so too): a longer one is refused
    before Python reads it (a hex or binary one of thousands of digits reads, and then cannot be written out)."""
    text = str(node.value)
    value = None if len(text) > _MAX_INT_TEXT else yaml.SafeLoader.construct_yaml_int(loader, node)
    if value is None or abs(value) > MAX_INT:
        line = node.start_mark.line + 1
        raise DocumentRefused(f'the integer on line {line} is outside the 64-bit range')
    return value


_UniqueKeyLoader.add_constructor(_YAML_TAG + 'int', _bounded_int)


def load_document(text: str | bytes, *, yaml_allowed: bool = False) -> Any:
    """Parse a JSON (or, when allowed, YAML) workflow document within its budget.

    Raises :class:`DocumentTooLarge` (over :data:`MAX_DEFINITION_BYTES`, or :data:`MAX_YAML_BYTES` for YAML),
    :class:`DocumentRefused` (nested more than :data:`MAX_NESTING` levels; YAML anchors, aliases or a tag other
    than JSON's) before anything is built from the text, :class:`DocumentRefused` for a YAML key that is a list or a
    mapping, :class:`DocumentDuplicateKey` for an object or mapping that names a key twice, and
    :class:`WorkflowError` for bad syntax. A YAML key or date is the text it is written as. YAML is parsed by the
    C parser when PyYAML has it, which is several times faster than the pure-Python one.
    """
    size = len(text.encode('utf-8', 'surrogatepass') if isinstance(text, str) else text)
    if size > MAX_DEFINITION_BYTES:
        raise DocumentTooLarge(
            f'the workflow document is {human_size(size)}; at most {human_size(MAX_DEFINITION_BYTES)} are accepted'
        )
    too_deep = json_text_depth(text, stop_above=MAX_NESTING) > MAX_NESTING
    if too_deep and not yaml_allowed:
        raise DocumentRefused(f'the workflow definition is nested more than {MAX_NESTING} levels deep')
    if not too_deep:
        try:
            return loads_unique(text, 'the document')
        except DuplicateKey as exc:
            raise DocumentDuplicateKey(str(exc), exc.path) from None
        except ValueError as exc:
            if not yaml_allowed:
                raise WorkflowError(f'not valid JSON: {exc}') from None
    if size > MAX_YAML_BYTES:
        raise DocumentTooLarge(
            f'a YAML workflow document may be at most {human_size(MAX_YAML_BYTES)} (this one is {human_size(size)}); '
            'send larger workflows as JSON'
        )
    try:
        _check_yaml_events(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a safe loader; aliases were refused above
    except yaml.YAMLError as exc:
        if too_deep:  # e.g. libyaml's own limit on flow nesting: the depth is the problem to name
            raise DocumentRefused(f'the workflow definition is nested more than {MAX_NESTING} levels deep') from None
        raise WorkflowError(f'not valid JSON or YAML: {_yaml_problem(exc)}') from None
    except (ValueError, OverflowError) as exc:  # WorkflowError, or a scalar no Python value can hold
        if isinstance(exc, WorkflowError):
            raise
        raise WorkflowError(f'not valid YAML: {exc}') from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error in the document's terms: what is wrong and where, lines and columns from 1 as an editor
    counts them ("did not find expected ',' or ']' at line 3, column 1 (while parsing a flow sequence at line 2,
    column 6)"), without the parser's name for its input (``in "<byte string>"``) or its copy of the line."""
    if not isinstance(exc, yaml.MarkedYAMLError) or not exc.problem:
        return str(exc)

    def at(mark: Any) -> str:
        return '' if mark is None else f' at line {mark.line + 1}, column {mark.column + 1}'

    context = f' ({exc.context}{at(exc.context_mark)})' if exc.context else ''
    return f'{exc.problem}{at(exc.problem_mark)}{context}'


def _check_yaml_events(text: str | bytes) -> None:
    """Refuse anchors, aliases and deep nesting while only the parser's events exist.

    An alias makes a reference to an earlier node, so a few hundred bytes of aliases to aliases describe a
    document of billions of nodes, which building (or encoding) would expand; refusing them as the parser
    reports them stops that before anything is built.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise DocumentRefused(
                f'YAML aliases are not accepted (found *{event.anchor} on line {_line(event)}); write the value out'
            )
        anchor = getattr(event, 'anchor', None)
        if anchor is not None:
            raise DocumentRefused(f'YAML anchors are not accepted (found &{anchor} on line {_line(event)})')
        tag = getattr(event, 'tag', None)
        if tag is not None and tag != '!' and tag not in _JSON_TAGS:
            shown = '!!' + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
            raise DocumentRefused(
                f'YAML tag {bounded_text(shown, MAX_KEY_CHARS_SHOWN)} is not accepted (line {_line(event)}): '
                'a workflow holds what JSON holds'
            )
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise DocumentRefused(f'the workflow definition is nested more than {MAX_NESTING} levels deep')
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1


def _line(event: yaml.Event) -> int | str:
    mark = getattr(event, 'start_mark', None)
    return mark.line + 1 if mark is not None else '?'
