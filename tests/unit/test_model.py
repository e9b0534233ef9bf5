"""Workflow validation: every rejection names its culprit; valid graphs get a stable topological order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowmon.engine import Workflow, WorkflowError, default_registry, load_document, parse_workflow
from flowmon.engine.documents import (
    MAX_DEFINITION_BYTES,
    MAX_YAML_BYTES,
    DocumentDuplicateKey,
    DocumentRefused,
    DocumentTooLarge,
)

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / 'data' / 'workflows'
WORKFLOW_SUFFIXES = ('.json', '.yaml', '.yml')  # what the catalog loads from that directory


def node(node_id: str, type_: str = 'log', **extra: Any) -> dict[str, Any]:
    config = extra.pop('config', {'message': node_id} if type_ == 'log' else {})
    return {'id': node_id, 'type': type_, 'config': config, **extra}


def edge(source: str, target: str, when: bool | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {'source': source, 'target': target}
    if when is not None:
        raw['when'] = when
    return raw


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {'id': 'wf', 'name': 'Test workflow', 'nodes': nodes, 'edges': edges or [], **extra}


def parse(raw: Any) -> Workflow:
    return parse_workflow(raw, default_registry())


def rejected(raw: Any) -> str:
    with pytest.raises(WorkflowError) as info:
        parse(raw)
    return str(info.value)


# --- graph errors -----------------------------------------------------------------------------------


def test_cycle_names_the_nodes_on_it() -> None:
    raw = workflow(
        [node('start'), node('a'), node('b'), node('c')],
        [edge('start', 'a'), edge('a', 'b'), edge('b', 'c'), edge('c', 'a')],
    )
    message = rejected(raw)
    assert 'cycle' in message
    assert 'a -> b -> c -> a' in message
    assert 'start' not in message


def test_cycle_found_when_it_is_not_reachable_from_the_first_node() -> None:
    raw = workflow(
        [node('x'), node('y'), node('p'), node('q')],
        [edge('x', 'y'), edge('q', 'p'), edge('p', 'q')],
    )
    message = rejected(raw)
    assert 'cycle' in message
    assert 'p -> q -> p' in message or 'q -> p -> q' in message


def test_self_loop_is_a_cycle() -> None:
    message = rejected(workflow([node('a')], [edge('a', 'a')]))
    assert 'cycle' in message
    assert 'a -> a' in message


def test_unknown_node_type_names_the_type_and_node() -> None:
    message = rejected(workflow([node('a'), {'id': 'b', 'type': 'teleport', 'config': {}}]))
    assert "'teleport'" in message
    assert "'b'" in message
    assert 'delay' in message  # lists the known types


@pytest.mark.parametrize('end', ['source', 'target'])
def test_edge_to_missing_node_names_the_id(end: str) -> None:
    ends = {'source': 'a', 'target': 'a', end: 'ghost'}
    message = rejected(workflow([node('a')], [edge(ends['source'], ends['target'])]))
    assert "'ghost'" in message
    assert 'missing' in message


def test_duplicate_node_ids() -> None:
    message = rejected(workflow([node('a'), node('b'), node('a')]))
    assert 'duplicate' in message
    assert "'a'" in message


def test_duplicate_edge() -> None:
    message = rejected(workflow([node('a'), node('b')], [edge('a', 'b'), edge('a', 'b')]))
    assert 'duplicate edge' in message
    assert 'a -> b' in message


def test_when_on_an_edge_from_a_non_condition_node() -> None:
    message = rejected(workflow([node('a'), node('b')], [edge('a', 'b', when=True)]))
    assert 'when' in message
    assert "'a'" in message
    assert 'condition' in message


def test_when_on_an_edge_from_a_condition_node_is_fine() -> None:
    raw = workflow(
        [node('c', 'condition', config={'expression': 'input.go'}), node('yes'), node('no')],
        [edge('c', 'yes', when=True), edge('c', 'no', when=False)],
    )
    parsed = parse(raw)
    assert [e.when for e in parsed.outgoing['c']] == [True, False]


def test_reserved_id_input() -> None:
    message = rejected(workflow([node('input')]))
    assert "'input'" in message
    assert 'reserved' in message


def test_empty_nodes_list() -> None:
    message = rejected(workflow([]))
    assert 'nodes' in message


@pytest.mark.parametrize('raw', [[], 'a workflow', 42, None])
def test_non_object_input(raw: Any) -> None:
    message = rejected(raw)
    assert 'object' in message
    assert type(raw).__name__ in message


def test_unknown_top_level_key() -> None:
    message = rejected(workflow([node('a')], colour='blue'))
    assert 'colour: unknown key (known: id, name, description, timeout_seconds, nodes, edges, schedule' in message


def test_an_unknown_key_is_said_with_the_keys_its_part_takes_and_the_closest() -> None:
    assert (
        'edegs: unknown key (known: id, name, description, timeout_seconds, nodes, edges, schedule, trigger; did '
        "you mean 'edges'?)" in rejected(workflow([node('a')], edegs=[]))
    )
    typo = {**node('a'), 'timeout': 3}
    assert (
        "nodes[0].timeout (node 'a'): unknown key (known: id, type, name, config, retry, timeout_seconds; did you "
        "mean 'timeout_seconds'?)" in rejected(workflow([typo]))
    )
    assert 'schedule.every: unknown key (known: cron, timezone)' in rejected(
        workflow([node('a')], schedule={'cron': '* * * * *', 'every': 5})
    )


def test_bad_node_id_names_the_field() -> None:
    message = rejected(workflow([node('has space')]))
    assert 'nodes[0].id' in message


# --- node config errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('spec', 'expected'),
    [
        (node('wait', 'delay', config={'seconds': -1}), ['wait', 'delay', 'seconds']),
        (node('wait', 'delay', config={}), ['wait', 'delay', 'seconds']),
        (node('shape', 'transform', config={'expression': 'a.[b'}), ['shape', 'transform', 'expression', 'JMESPath']),
        (node('pick', 'condition', config={'expression': '&&'}), ['pick', 'condition', 'expression', 'JMESPath']),
        (node('say', 'log', config={'message': 'hi', 'expression': '[['}), ['say', 'log', 'expression']),
        (node('say', 'log', config={'message': 'hi', 'level': 'loud'}), ['say', 'log', 'level']),
        (node('wait', 'delay', config={'seconds': 1, 'secnds': 2}), ['wait', 'delay', 'secnds']),
        (node('call', 'http', config={'url': 'ftp://example.com'}), ['call', 'http', 'url']),
        (node('boom', 'fail', config={'times': -2}), ['boom', 'fail', 'times']),
    ],
    ids=[
        'delay-negative',
        'delay-missing',
        'transform-bad-jmespath',
        'condition-bad-jmespath',
        'log-bad-jmespath',
        'log-bad-level',
        'unknown-config-key',
        'http-bad-url',
        'fail-negative-times',
    ],
)
def test_bad_config_names_node_type_and_field(spec: dict[str, Any], expected: list[str]) -> None:
    message = rejected(workflow([spec]))
    for word in expected:
        assert word in message


def test_bad_retry_policy_names_the_node() -> None:
    spec = node('a', retry={'max_attempts': 3, 'backoff_seconds': 5, 'max_backoff_seconds': 1})
    message = rejected(workflow([spec]))
    assert "'a'" in message
    assert 'max_backoff_seconds' in message


def test_non_positive_node_timeout() -> None:
    message = rejected(workflow([node('a', timeout_seconds=0)]))
    assert 'timeout_seconds' in message
    assert "'a'" in message


# --- valid workflows --------------------------------------------------------------------------------


def test_topological_order_respects_edges_and_definition_order() -> None:
    raw = workflow(
        [node('report'), node('fetch'), node('left'), node('right'), node('join'), node('lonely')],
        [
            edge('fetch', 'left'),
            edge('fetch', 'right'),
            edge('left', 'join'),
            edge('right', 'join'),
            edge('join', 'report'),
        ],
    )
    parsed = parse(raw)
    assert parsed.order == ('fetch', 'lonely', 'left', 'right', 'join', 'report')
    assert set(parsed.order) == set(parsed.nodes)
    position = {node_id: index for index, node_id in enumerate(parsed.order)}
    for e in raw['edges']:
        assert position[e['source']] < position[e['target']]
    assert parsed.downstream_of('left') == {'left', 'join', 'report'}
    assert [e.source for e in parsed.incoming['join']] == ['left', 'right']
    assert parsed.outgoing['report'] == ()


def test_valid_workflow_exposes_typed_configs_and_definition() -> None:
    raw = workflow(
        [node('wait', 'delay', config={'seconds': 0.5}, retry={'max_attempts': 2}), node('say')],
        [edge('wait', 'say')],
        timeout_seconds=30,
    )
    parsed = parse(raw)
    assert parsed.id == 'wf'
    assert parsed.name == 'Test workflow'
    assert parsed.configs['wait'].seconds == 0.5  # type: ignore[attr-defined]
    assert parsed.retry_policy('wait').max_attempts == 2
    assert parsed.retry_policy('say').max_attempts == 1
    definition = parsed.definition()
    assert definition['timeout_seconds'] == 30
    assert parse(definition).order == parsed.order  # the stored form parses back


def test_load_document_json_and_yaml() -> None:
    text = """
id: yaml-wf
name: From YAML
nodes:
  - {id: first, type: delay, config: {seconds: 0}}
  - id: second
    type: transform
    config: {expression: 'first.waited_seconds'}
edges:
  - {source: first, target: second}
"""
    raw = load_document(text, yaml_allowed=True)
    parsed = parse(raw)
    assert parsed.id == 'yaml-wf'
    assert parsed.order == ('first', 'second')

    assert load_document(json.dumps({'a': 1}).encode()) == {'a': 1}
    with pytest.raises(WorkflowError, match='not valid JSON'):
        load_document(text)  # YAML is refused unless allowed
    with pytest.raises(WorkflowError, match='YAML'):
        load_document('nodes: [unclosed', yaml_allowed=True)


def test_a_key_given_twice_is_refused_in_json_and_in_yaml_at_any_depth() -> None:
    text = '{"id": "w", "nodes": [{"id": "a", "config": {"seconds": 0, "seconds": 5}}]}'
    with pytest.raises(
        DocumentDuplicateKey, match=r'names the key "seconds" twice in one object \(in nodes\[0\]\.config\)'
    ) as refused:
        load_document(text, yaml_allowed=True)  # not tried again as YAML
    assert refused.value.where == ('nodes', 0, 'config')
    nested_yaml = 'id: w\nnodes:\n  - id: a\n    config: {seconds: 0, seconds: 5}\n'
    with pytest.raises(DocumentDuplicateKey, match=r"names the key 'seconds' twice in one mapping \(line 4\)"):
        load_document(nested_yaml, yaml_allowed=True)
    with pytest.raises(DocumentDuplicateKey, match="key 'id' twice"):
        load_document('id: w\nname: n\nid: v\n', yaml_allowed=True)
    # a merge's keys may be overridden (its purpose)
    assert load_document('m: {<<: {a: 1, b: 2}, a: 3}\n', yaml_allowed=True) == {'m': {'a': 3, 'b': 2}}


@pytest.mark.parametrize(
    ('text', 'refusal'),
    [
        ('id: w\nbody: !!binary YQBi\n', r'YAML tag !!binary is not accepted \(line 2\)'),  # bytes, a NUL among them
        ('id: w\nb: {? !!binary /w== : a}\n', r'YAML tag !!binary is not accepted \(line 2\)'),
        ('x: !!set {a, b}\n', r'YAML tag !!set is not accepted'),
        ('x: !!omap [a: 1]\n', r'YAML tag !!omap is not accepted'),
        ('x: !!timestamp 2024-01-01\n', r'YAML tag !!timestamp is not accepted'),
        ('x: !local value\n', r'YAML tag !local is not accepted'),
        ('? [a, b]\n: c\n', r'a YAML key must be text; the key on line 1 is a list or a mapping'),
        ('m: {<<: {? {a: 1} : b}}\n', r'a YAML key must be text; the key on line 1 is a list or a mapping'),
        # an integer past 64 bits (a hex one of thousands of digits read, then could not be written out)
        ('id: w\nt: 0x' + 'f' * 4000 + '\n', r'^the integer on line 2 is outside the 64-bit range$'),
        ('t: ' + '9' * 5000 + '\n', r'^the integer on line 1 is outside the 64-bit range$'),
        ('t: -18446744073709551616\n', r'^the integer on line 1 is outside the 64-bit range$'),
    ],
)
def test_yaml_is_held_to_what_json_holds(text: str, refusal: str) -> None:
    with pytest.raises(DocumentRefused, match=refusal):
        load_document(text, yaml_allowed=True)


def test_yaml_integers_within_64_bits_are_read_in_any_of_its_notations() -> None:
    text = 't: [18446744073709551615, -0b1010, 0x_ff, 1_000, 0o17]\n'
    assert load_document(text, yaml_allowed=True) == {'t': [2**64 - 1, -10, 255, 1000, '0o17']}


def test_yaml_dates_and_keys_stay_the_text_they_are_written_as_and_json_tags_are_kept() -> None:
    text = 'd: 2024-01-01\nt: 2024-01-01 10:00:00\ns: !!str 123\nn: !!int "12"\n"q": quoted\n'
    assert load_document(text, yaml_allowed=True) == {
        'd': '2024-01-01',
        't': '2024-01-01 10:00:00',
        's': '123',
        'n': 12,
        'q': 'quoted',
    }
    keys = 'on: push\n1: one\nnull: none\n2024-01-01: day\nm: {<<: {200: ok, yes: y}, 404: missing}\n'
    assert load_document(keys, yaml_allowed=True) == {
        'on': 'push',
        '1': 'one',
        'null': 'none',
        '2024-01-01': 'day',
        'm': {'200': 'ok', 'yes': 'y', '404': 'missing'},
    }
    with pytest.raises(DocumentDuplicateKey, match=r"names the key '1' twice in one mapping \(line 2\)"):
        load_document('1: a\n"1": b\n', yaml_allowed=True)  # the same text, written two ways


def alias_bomb() -> str:
    """A few hundred bytes of YAML: 7 levels of 10 aliases, 10**8 list items once expanded."""
    lines = ['id: bomb', 'name: bomb', 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for previous, name in zip('abcdefg', 'bcdefgh', strict=True):
        lines.append(f'{name}: &{name} [' + ', '.join([f'*{previous}'] * 10) + ']')
    lines.append('nodes: *h')
    return '\n'.join(lines) + '\n'


def test_yaml_anchors_and_aliases_are_refused_before_anything_expands() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 600
    with pytest.raises(DocumentRefused, match=r'YAML anchors are not accepted \(found &a on line 3\)'):
        load_document(bomb, yaml_allowed=True)
    with pytest.raises(DocumentRefused, match=r'YAML aliases are not accepted \(found \*x on line 2\)'):
        load_document('name: x\nnodes: *x\n', yaml_allowed=True)  # an alias of nothing is refused the same way
    with pytest.raises(DocumentRefused, match='anchors'):
        load_document('id: &id wf\n', yaml_allowed=True)  # an anchor alone too: there is no use for one


def test_yaml_and_json_are_bounded_in_size_and_depth_before_they_are_parsed() -> None:
    with pytest.raises(DocumentTooLarge, match='a YAML workflow document may be at most 256 KiB'):
        load_document('description: ' + 'x' * MAX_YAML_BYTES, yaml_allowed=True)
    assert load_document(json.dumps({'description': 'x' * MAX_YAML_BYTES}), yaml_allowed=True)  # JSON: 2 MiB
    with pytest.raises(DocumentTooLarge, match='at most 2 MiB'):
        load_document(b' ' * (MAX_DEFINITION_BYTES + 1))
    for deep in ('[' * 100_000, '[' * 65 + ']' * 65):
        with pytest.raises(DocumentRefused, match='nested more than 64 levels deep'):
            load_document(deep)
        with pytest.raises(DocumentRefused, match='nested more than 64 levels deep'):
            load_document(deep, yaml_allowed=True)
    block = ''.join('  ' * level + f'k{level}:\n' for level in range(70)) + '  ' * 70 + 'leaf\n'
    with pytest.raises(DocumentRefused, match='nested more than 64 levels deep'):
        load_document(block, yaml_allowed=True)
    with pytest.raises(DocumentRefused, match='outside the 64-bit range'):
        load_document('n: ' + '1' * 5000, yaml_allowed=True)  # an integer no conversion accepts: 422, not 500


def test_a_yaml_syntax_error_says_what_and_where_in_the_documents_lines_and_columns() -> None:
    """Not the parser's own words for its input: 'in "<byte string>", line 2, column 4' and a copy of the line."""
    for text in ('a: [b\nc: 1\n', b'a: [b\nc: 1\n'):
        with pytest.raises(WorkflowError) as refused:
            load_document(text, yaml_allowed=True)
        message = str(refused.value)
        assert message.startswith('not valid JSON or YAML: ') and '<' not in message and '^' not in message
        assert 'at line 2, column 2 (while parsing a flow sequence at line 1, column 4)' in message
    with pytest.raises(
        WorkflowError, match=r'^not valid JSON or YAML: mapping values are not allowed .* line 1, column 5$'
    ):
        load_document('a: b: c', yaml_allowed=True)


def test_a_definition_with_numbers_beyond_64_bits_or_too_deep_is_refused() -> None:
    deep: Any = 'leaf'
    for _ in range(70):
        deep = {'k': deep}
    with pytest.raises(DocumentRefused, match='nested more than 64 levels deep'):
        parse(workflow([node('a', 'http', config={'url': 'https://example.com/', 'body': deep})]))
    with pytest.raises(DocumentRefused, match='64-bit'):
        parse(workflow([node('a', 'http', config={'url': 'https://example.com/', 'body': {'n': 2**80}})]))


# --- the shipped example workflows ------------------------------------------------------------------


def _workflow_files() -> list[Path]:
    if not WORKFLOWS_DIR.is_dir():
        return []
    return sorted(path for path in WORKFLOWS_DIR.iterdir() if path.is_file() and path.suffix in WORKFLOW_SUFFIXES)


@pytest.mark.parametrize('path', _workflow_files(), ids=lambda path: path.name)
def test_shipped_workflow_parses(path: Path) -> None:
    parsed = parse_workflow(load_document(path.read_text(encoding='utf-8'), yaml_allowed=True), default_registry())
    assert parsed.order
    assert len(parsed.order) == len(parsed.spec.nodes)


def test_shipped_workflow_ids_are_unique() -> None:
    ids = [
        parse_workflow(load_document(path.read_text(encoding='utf-8'), yaml_allowed=True), default_registry()).id
        for path in _workflow_files()
    ]
    assert len(ids) == len(set(ids))


def test_a_config_key_the_type_does_not_have_is_named_with_the_keys_it_has() -> None:
    assert rejected(workflow([node('x', 'transform', config={'expresion': 'a'})])) == (
        "node 'x' (transform): unknown config key 'expresion' (known: expression; did you mean 'expression'?); "
        "node 'x' (transform): expression is required"
    )
    message = rejected(workflow([node('h', 'http', config={'url': 'https://example.com/', 'colour': 'red'})]))
    assert message.startswith("node 'h' (http): unknown config key 'colour' (known: method, url, headers, ")
    assert 'did you mean' not in message and 'Extra inputs' not in message


@pytest.mark.parametrize(
    ('raw', 'expected'),
    [
        (
            workflow([node('x', 'transform', config={'expression': 'a.['})]),
            "node 'x' (transform): expression: invalid JMESPath expression 'a.[': ",
        ),
        (
            workflow([node('c', 'condition', config={'expression': 'x' * 5000})]),
            "node 'c' (condition): expression: expression is 5000 characters long; at most ",
        ),
        (workflow([node('h', 'http', config={'url': 'ftp://a'})]), "node 'h' (http): url: url must start with http"),
        (  # httpx would connect to 443; the pages could not show it
            workflow([node('h', 'http', config={'url': 'https://a.example.com:+443/'})]),
            "node 'h' (http): url: the port in the url is not a number from 0 to 65535",
        ),
        (
            workflow([node('p', 'python', config={'callable': 'os.path'})]),
            "node 'p' (python): callable: 'os.path' is not \"package.module:function\"",
        ),
        (
            workflow([node('x', retry={'max_attempts': 2, 'backoff_seconds': 5, 'max_backoff_seconds': 1})]),
            "nodes[0].retry (node 'x'): max_backoff_seconds must be at least backoff_seconds",
        ),
        (workflow([node('x')], schedule={'cron': 'bad'}), "schedule.cron: invalid cron expression 'bad' "),
        (
            workflow([node('x')], schedule={'cron': '* * * * *', 'timezone': 'Mars/Base'}),
            "schedule.timezone: unknown time zone 'Mars/Base' (use an IANA name",
        ),
    ],
    ids=['jmespath', 'long', 'http-url', 'http-port', 'callable', 'retry', 'cron', 'zone'],
)
def test_a_check_of_a_node_type_or_of_the_workflow_is_said_in_its_own_words(raw: Any, expected: str) -> None:
    message = rejected(raw)
    assert message.startswith(expected), message
    assert 'Value error' not in message


@pytest.mark.parametrize(
    ('spec', 'expected'),
    [
        (
            node('h', 'http', config={'url': 'https://example.com/', 'timeout_seconds': 'soon'}),
            "node 'h' (http): timeout_seconds: Input should be a valid number, unable to parse string as a number",
        ),
        (node('h', 'http', config={}), "node 'h' (http): url is required"),
        (
            node('h', 'http', config={'url': 'https://example.com/', 'timeout_seconds': 0}),
            "node 'h' (http): timeout_seconds: Input should be greater than 0",
        ),
        (
            node('h', 'http', config={'url': 'https://example.com/', 'timeout_seconds': {'$secret': 'wait'}}),
            'node \'h\' (http): timeout_seconds: a {"$secret": ...} reference stands for a string, which this field '
            'does not take',
        ),
        (
            node('h', 'http', config={'url': 'https://example.com/', 'headers': {'A': {'$secret': 'a b'}}}),
            'node \'h\' (http): headers.A: \'a b\' is not a secret name: 1 to 64 letters, digits, "_", "." or "-"',
        ),
        (
            node('h', 'http', config={'url': 'https://example.com/', 'headers': ['A']}),
            "node 'h' (http): headers: Input should be an object",
        ),
        (node('h', 'http', config=['url']), "node 'h' (http): config must be an object"),
        (node('h', 'http', config='https://example.com/'), "node 'h' (http): config must be an object"),
        (  # as the webhook endpoints say it ("header name '' is not an HTTP header name" read as a quoting slip)
            node('h', 'http', config={'url': 'https://example.com/', 'headers': {'': 'v'}}),
            "node 'h' (http): headers: a header name is empty",
        ),
        (
            node('h', 'http', config={'url': 'https://example.com/', 'headers': {'  ': 'v'}}),
            "node 'h' (http): headers: a header name is blank ('  ')",
        ),
        (  # the rest keeps its wording
            node('h', 'http', config={'url': 'https://example.com/', 'headers': {'X Y': 'v'}}),
            "node 'h' (http): headers: header name 'X Y' is not an HTTP header name (letters, digits and "
            "!#$%&'*+-.^_`|~)",
        ),
        (  # quoted up to 40 characters (the name was quoted whole, however long)
            node('h', 'http', config={'url': 'https://example.com/', 'headers': {'X\n' + 'y' * 8000: 'v'}}),
            "node 'h' (http): headers: header name 'X\\nyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy…' is not an HTTP header "
            "name (letters, digits and !#$%&'*+-.^_`|~)",
        ),
    ],
    ids=[
        'type',
        'missing',
        'range',
        'secret-reference',
        'secret-name',
        'not-an-object',
        'config-list',
        'config-text',
        'empty-header-name',
        'blank-header-name',
        'header-name',
        'long-header-name',
    ],
)
def test_a_config_value_pydantic_refuses_reads_like_a_check_of_the_node_type(
    spec: dict[str, Any], expected: str
) -> None:
    """One shape for every problem of a node's config: ``node 'h' (http): <key>: <problem>``."""
    assert rejected(workflow([spec])) == expected
