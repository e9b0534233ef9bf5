"""``{"$secret": "<name>"}`` in node configs: validation with placeholders, resolution when the node runs, and the
redaction of every resolved value from outputs, errors, tracebacks and log lines."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from fake_clock import FakeClock

from flowmon.engine import (
    Engine,
    Event,
    EventBus,
    NodeConfig,
    NodeContext,
    NodeType,
    WorkflowError,
    default_registry,
    parse_workflow,
)
from flowmon.engine.nodes import NodeError
from flowmon.engine.nodes.webhook import WebhookNode
from flowmon.engine.runtime.secret_refs import SecretMissing, redact, redact_text, secret_names

pytestmark = pytest.mark.looptime  # virtual time: the engine's waits take no wall-clock time

VALUE = 'sk-live-7f3a9c2e'
OTHER = 'pw-b81d'


class LeakConfig(NodeConfig):
    token: str
    mode: str = 'echo'


class LeakNode(NodeType):
    """Does everything a careless node could do with a secret: returns it, logs it, fails or crashes with it."""

    type_name = 'leak'
    Config = LeakConfig

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def run(self, config: LeakConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        self.seen.append(config.token)
        ctx.log.info('calling with %s', config.token)
        if config.mode == 'fail':
            raise NodeError(f'the server refused {config.token}')
        if config.mode == 'crash':
            raise RuntimeError(f'boom {config.token}')
        return {
            'echo': config.token,
            'nested': [{config.token: f'Bearer {config.token}'}],
            'secrets': ctx.secret_values,
        }


def registry_with_leak() -> tuple[Any, LeakNode]:
    registry = default_registry()
    node = LeakNode()
    registry.register(node)
    return registry, node


def full_registry() -> Any:
    """The built-in types and the webhook node (whose port validation never uses)."""
    registry = default_registry()
    registry.register(WebhookNode(port=None))  # type: ignore[arg-type]
    return registry


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {'id': 'wf', 'name': 'Secrets', 'nodes': nodes, 'edges': edges or []}


# --- validation -----------------------------------------------------------------------------------------------


def test_references_validate_in_string_positions_and_stay_in_the_definition() -> None:
    raw = workflow(
        [
            {
                'id': 'call',
                'type': 'http',
                'config': {
                    'url': {'$secret': 'endpoint_url'},  # the url validator needs http(s): the url placeholder fits
                    'headers': {'X-Api-Key': {'$secret': 'api_key'}},
                    'body': {'nested': [{'$secret': 'api_key'}]},
                },
            },
            {
                'id': 'notify',
                'type': 'webhook',
                'config': {
                    'url': 'https://hooks.example.com/x',
                    'auth': {'type': 'bearer', 'token': {'$secret': 'tok'}},
                },
            },
            {'id': 'plain', 'type': 'log', 'config': {'message': 'no secrets here'}},
        ]
    )
    parsed = parse_workflow(raw, full_registry())
    assert parsed.secrets == {'call': {'endpoint_url', 'api_key'}, 'notify': {'tok'}}
    assert parsed.secret_names == {'endpoint_url', 'api_key', 'tok'}
    definition = parsed.definition()
    assert definition['nodes'][0]['config']['headers'] == {'X-Api-Key': {'$secret': 'api_key'}}
    assert secret_names(definition) == {'endpoint_url', 'api_key', 'tok'}


@pytest.mark.parametrize(
    ('config', 'message'),
    [
        ({'url': 'https://x.example', 'timeout_seconds': {'$secret': 'n'}}, '(http): timeout_seconds: a {"$secret"'),
        (
            {'url': 'https://x.example', 'headers': {'A': {'$secret': 'n', 'x': 1}}},
            '(http): headers.A: a secret reference is {"$secret": "<name>"} and nothing else',
        ),
        (
            {'url': 'https://x.example', 'headers': {'A': {'$secret': 'bad name'}}},
            '(http): headers.A: \'bad name\' is not a secret name: 1 to 64 letters, digits, "_", "." or "-"',
        ),
        (
            {'url': 'https://x.example', 'headers': {'A': {'$secret': 7}}},
            '(http): headers.A: "$secret" takes the name of a secret: 1 to 64 letters, digits',
        ),
        ({'url': 'https://x.example', 'method': {'$secret': 'n'}}, '(http): method: a {"$secret"'),
        ({'$secret': 'n'}, '(http): config must be an object, not a {"$secret": ...} reference'),
        (
            {'url': 'https://x.example', 'headers': {'A': {'$secret': 'name\n'}}},
            "(http): headers.A: 'name\\n' is not a secret name",
        ),
    ],
    ids=['number', 'more-keys', 'bad-name', 'name-not-text', 'choice', 'whole-config', 'line-break-after-name'],
)
def test_a_reference_where_it_cannot_go_is_refused_naming_the_place(config: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowError, match="node 'call' \\(http\\)") as caught:
        parse_workflow(workflow([{'id': 'call', 'type': 'http', 'config': config}]), default_registry())
    assert message in str(caught.value)


def test_the_other_checks_still_apply_with_references() -> None:
    config = {'endpoint': 'ep_1', 'auth': {'type': 'bearer', 'token': {'$secret': 'tok'}}}
    with pytest.raises(WorkflowError, match='"auth" applies to "url" only'):
        parse_workflow(workflow([{'id': 'n', 'type': 'webhook', 'config': config}]), full_registry())


# --- redaction ------------------------------------------------------------------------------------------------


def test_redact_replaces_every_occurrence_longest_first() -> None:
    assert redact_text(f'a {VALUE} b {VALUE}', [VALUE]) == 'a *** b ***'
    assert redact_text('token=abcdef', ['abc', 'abcdef']) == 'token=***'
    value = {'k': [VALUE, {'x': f'pre{VALUE}'}], VALUE: 1, 'n': 3}
    assert redact(value, [VALUE]) == {'k': ['***', {'x': 'pre***'}], '***': 1, 'n': 3}
    assert redact(value, []) is value


# --- running --------------------------------------------------------------------------------------------------


async def run(
    raw: dict[str, Any], values: Mapping[str, str] | None, registry: Any
) -> tuple[list[Event], list[frozenset[str]]]:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    asked: list[frozenset[str]] = []

    async def resolve(names: frozenset[str]) -> Mapping[str, str]:
        asked.append(names)
        assert values is not None
        missing = sorted(name for name in names if name not in values)
        if missing:
            raise SecretMissing(f'secret {missing[0]!r} does not exist')
        return {name: values[name] for name in names}

    engine = Engine(bus=bus, registry=registry, clock=FakeClock(), secrets=resolve if values is not None else None)
    engine.submit(parse_workflow(raw, registry), {'order': 1})
    await engine.wait_idle()
    return events, asked


async def test_the_node_gets_the_value_and_every_event_shows_stars(caplog: pytest.LogCaptureFixture) -> None:
    registry, node = registry_with_leak()
    raw = workflow(
        [
            {'id': 'leak', 'type': 'leak', 'config': {'token': {'$secret': 'api_key'}}},
            {'id': 'next', 'type': 'transform', 'config': {'expression': 'leak'}},
        ],
        [{'source': 'leak', 'target': 'next'}],
    )
    with caplog.at_level(logging.INFO, logger='flowmon.node'):
        events, asked = await run(raw, {'api_key': VALUE}, registry)
    assert node.seen == [VALUE] and asked == [frozenset({'api_key'})]
    completed = [event for event in events if event.type == 'node.completed']
    assert completed[0].data['output'] == {'echo': '***', 'nested': [{'***': 'Bearer ***'}], 'secrets': ['***']}
    assert completed[1].data['output']['echo'] == '***'  # downstream nodes get the redacted output
    assert events[-1].type == 'execution.completed'
    assert VALUE not in repr(events)
    queued = events[0].data['workflow']
    assert queued['nodes'][0]['config'] == {'token': {'$secret': 'api_key'}}  # the snapshot keeps the reference
    lines = [record.getMessage() for record in caplog.records if record.name == 'flowmon.node']
    assert lines == ['calling with ***']


@pytest.mark.parametrize('mode', ['fail', 'crash'])
async def test_errors_and_tracebacks_show_stars(mode: str) -> None:
    registry, _ = registry_with_leak()
    raw = workflow([{'id': 'leak', 'type': 'leak', 'config': {'token': {'$secret': 'api_key'}, 'mode': mode}}])
    events, _ = await run(raw, {'api_key': VALUE}, registry)
    failed = next(event for event in events if event.type == 'node.failed')
    assert '***' in failed.data['error']
    assert events[-1].type == 'execution.failed'
    assert VALUE not in repr(events)
    if mode == 'crash':
        assert '***' in failed.data['traceback']


async def test_a_deleted_secret_fails_the_node_naming_it() -> None:
    registry, node = registry_with_leak()
    raw = workflow([{'id': 'leak', 'type': 'leak', 'config': {'token': {'$secret': 'gone'}}}])
    events, _ = await run(raw, {}, registry)
    failed = next(event for event in events if event.type == 'node.failed')
    assert failed.data['error'] == "secret 'gone' does not exist"
    assert node.seen == []


async def test_without_a_secret_store_the_node_fails_clearly() -> None:
    registry, node = registry_with_leak()
    raw = workflow([{'id': 'leak', 'type': 'leak', 'config': {'token': {'$secret': 'api_key'}}}])
    events, _ = await run(raw, None, registry)
    failed = next(event for event in events if event.type == 'node.failed')
    assert 'no secret store is configured' in failed.data['error']
    assert node.seen == []


async def test_a_value_that_does_not_fit_the_field_fails_without_showing_it() -> None:
    raw = workflow([{'id': 'call', 'type': 'http', 'config': {'url': {'$secret': 'url'}}}])
    registry = default_registry()
    events, _ = await run(raw, {'url': f'ftp://{OTHER}.example'}, registry)
    failed = next(event for event in events if event.type == 'node.failed')
    assert (
        'url must start with http' in failed.data['error'] and 'with the values of its secrets' in failed.data['error']
    )
    assert OTHER not in repr(events)


def test_the_log_filter_hides_values_in_messages_arguments_and_tracebacks() -> None:
    from flowmon.infra.logredact import SecretLogFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))
    handler.addFilter(SecretLogFilter(lambda: (VALUE,)))
    logger = logging.getLogger('test.logredact')
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('HTTP Request: GET %s "200 OK"', f'https://api.example/?key={VALUE}')
        try:
            raise RuntimeError(f'refused {VALUE}')
        except RuntimeError:
            logger.exception('call failed')
        logger.warning('nothing secret: %d', 3)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert VALUE not in text
    assert 'GET https://api.example/?key=*** "200 OK"' in text and 'RuntimeError: refused ***' in text
    assert 'nothing secret: 3' in text
