"""Structured logs: the JSON formatter, the ids a line carries (explicit or from the task's context), secrets and
tokens kept out of lines in both formats, and the one handler every logger (uvicorn's too) ends at."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from flowmon.engine import Engine, EventBus, default_registry, parse_workflow
from flowmon.engine.core import log_context
from flowmon.infra import logs
from flowmon.infra.logredact import SecretLogFilter
from flowmon.infra.logs import TEXT_FORMAT, JsonFormatter
from flowmon.perimeter.token_gate import TokenGate

TOKEN = 'the-real-token-4b1d9e7a'


class Capture:
    """A logger whose lines go to a string buffer through one handler, as flowmon's handler is set up."""

    def __init__(self, formatter: logging.Formatter, secrets: tuple[str, ...] = ()) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(SecretLogFilter(lambda: secrets))

    def attach(self, name: str) -> logging.Logger:
        logger = logging.getLogger(name)
        logger.addHandler(self.handler)
        logger.setLevel(logging.DEBUG)
        return logger

    def detach(self, name: str) -> None:
        logging.getLogger(name).removeHandler(self.handler)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def capture() -> Iterator[Capture]:
    captured = Capture(JsonFormatter())
    captured.attach('test.logs')
    yield captured
    captured.detach('test.logs')


def test_a_json_line_has_the_fields_in_utc(capture: Capture) -> None:
    logging.getLogger('test.logs').warning('disk %s is %d%% full', '/data', 91)
    (line,) = capture.lines()
    assert set(line) == {'ts', 'level', 'logger', 'msg'}
    assert (line['level'], line['logger'], line['msg']) == ('WARNING', 'test.logs', 'disk /data is 91% full')
    stamp = datetime.fromisoformat(line['ts'].replace('Z', '+00:00'))
    assert line['ts'].endswith('Z') and stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0


def test_one_line_per_record_whatever_the_message_holds(capture: Capture) -> None:
    # a logger outside the logging tree: pytest's capture (which reports to other processes under xdist) cannot
    # carry a lone surrogate
    alone = logging.Logger('test.logs')
    alone.addHandler(capture.handler)
    alone.info('two\nlines and a "quote", \u00e9 and a lone \ud800 surrogate')
    assert len(capture.text.splitlines()) == 1 and capture.text.isascii()
    assert capture.lines()[0]['msg'] == 'two\nlines and a "quote", \u00e9 and a lone \ud800 surrogate'


def test_an_exception_is_one_line_with_its_traceback(capture: Capture) -> None:
    try:
        {}['missing']
    except KeyError:
        logging.getLogger('test.logs').exception('lookup failed')
    (line,) = capture.lines()
    assert line['msg'] == 'lookup failed'
    assert line['exc'].startswith('Traceback (most recent call last):') and "KeyError: 'missing'" in line['exc']


def test_ids_come_from_extra(capture: Capture) -> None:
    about = log_context.about(execution_id='e-1', workflow_id='w-1')
    logging.getLogger('test.logs').info('about one execution', extra=about)
    logging.getLogger('test.logs').info('about one delivery', extra=log_context.about(delivery_id='d-1'))
    logging.getLogger('test.logs').info('about nothing')
    about_execution, about_delivery, about_nothing = capture.lines()
    assert (about_execution['execution_id'], about_execution['workflow_id']) == ('e-1', 'w-1')
    assert 'delivery_id' not in about_execution
    assert about_delivery['delivery_id'] == 'd-1' and 'execution_id' not in about_delivery
    assert not set(log_context.FIELDS) & set(about_nothing)


async def test_ids_come_from_the_task_context_and_reach_the_tasks_it_starts(capture: Capture) -> None:
    logger = logging.getLogger('test.logs')

    async def library_code() -> None:  # knows nothing of executions, as httpx does not
        logger.info('request sent')

    async def execution(execution_id: str) -> None:
        log_context.bind(execution_id=execution_id, workflow_id='orders')
        await asyncio.get_running_loop().create_task(library_code())
        logger.info('explicit wins', extra={'workflow_id': 'other'})

    await asyncio.gather(execution('e-1'), execution('e-2'))
    logger.info('outside')
    lines = capture.lines()
    requests = [line for line in lines if line['msg'] == 'request sent']
    assert sorted(line['execution_id'] for line in requests) == ['e-1', 'e-2']
    assert {line['workflow_id'] for line in requests} == {'orders'}
    assert {line['workflow_id'] for line in lines if line['msg'] == 'explicit wins'} == {'other'}
    assert 'execution_id' not in lines[-1]  # the binding stayed inside its tasks
    assert log_context.current() == log_context.NO_CONTEXT


async def test_binding_replaces_every_id_and_unbinding_restores_them() -> None:
    log_context.bind(execution_id='e-1', workflow_id='w-1')
    token = log_context.bind(delivery_id='d-1')
    assert log_context.current().fields() == {'delivery_id': 'd-1'}
    log_context.unbind(token)
    assert log_context.current().fields() == {'execution_id': 'e-1', 'workflow_id': 'w-1'}


async def test_the_engine_binds_its_executions_for_the_nodes_log_lines() -> None:
    workflow = parse_workflow(
        {
            'id': 'logging-flow',
            'name': 'Logging',
            'nodes': [{'id': 'say', 'type': 'log', 'config': {'message': 'hello from the node'}}],
        },
        default_registry(),
    )
    captured = Capture(JsonFormatter())
    captured.attach('flowmon.node')
    engine = Engine(bus=EventBus(), registry=default_registry())
    try:
        execution_id = engine.submit(workflow)
        await engine.wait_idle()
    finally:
        captured.detach('flowmon.node')
    (line,) = [line for line in captured.lines() if 'hello from the node' in line['msg']]
    assert (line['execution_id'], line['workflow_id']) == (execution_id, 'logging-flow')


@pytest.mark.parametrize('formatter', [JsonFormatter(), logging.Formatter(TEXT_FORMAT)], ids=['json', 'text'])
def test_secret_values_never_reach_a_line_in_either_format(formatter: logging.Formatter) -> None:
    captured = Capture(formatter, secrets=('sk-value-91c2', TOKEN))
    logger = captured.attach('test.secrets')
    try:
        logger.info('HTTP Request: GET https://api.example/?key=%s', 'sk-value-91c2')
        try:
            raise RuntimeError('header X-Key: sk-value-91c2 refused')
        except RuntimeError:
            logger.exception('call failed with Bearer %s', TOKEN)
    finally:
        captured.detach('test.secrets')
    assert 'sk-value-91c2' not in captured.text and TOKEN not in captured.text
    assert captured.text.count('***') >= 3


@pytest.mark.parametrize('formatter', [JsonFormatter(), logging.Formatter(TEXT_FORMAT)], ids=['json', 'text'])
def test_a_failed_token_check_logs_the_address_and_path_but_no_token(formatter: logging.Formatter) -> None:
    captured = Capture(formatter)  # no redaction: the gate itself must leave the tokens out
    captured.attach('flowmon.auth')
    try:
        gate = TokenGate(TOKEN)
        scope = {'type': 'http', 'path': '/api/workflows', 'client': ('203.0.113.9', 5000), 'headers': []}
        assert not gate.check('guessed-token-77f0', scope).accepted
    finally:
        captured.detach('flowmon.auth')
    assert 'failed token check from 203.0.113.9 on /api/workflows' in captured.text
    assert 'guessed-token-77f0' not in captured.text and TOKEN not in captured.text


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    servers = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in logs.SERVER_LOGGERS
    }
    monkeypatch.setattr(sys, 'excepthook', sys.excepthook)
    monkeypatch.setattr(threading, 'excepthook', threading.excepthook)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (server_handlers, propagate) in servers.items():
        logging.getLogger(name).handlers[:] = server_handlers
        logging.getLogger(name).propagate = propagate
    logging.captureWarnings(False)


@pytest.mark.usefixtures('restore_logging')
def test_configure_puts_one_handler_on_the_root_that_uvicorns_loggers_reach() -> None:
    stray = logging.StreamHandler(io.StringIO())
    logging.getLogger('uvicorn.access').addHandler(stray)  # what uvicorn's own log config would add
    first = logs.configure('INFO', 'text', stream=io.StringIO())
    stream = io.StringIO()
    handler = logs.configure('INFO', 'json', stream=stream)  # a second call replaces the first handler
    root = logging.getLogger()
    assert handler in root.handlers and first not in root.handlers
    assert logging.getLogger('uvicorn.access').handlers == []
    logging.getLogger('uvicorn.access').info('%s - "%s %s HTTP/%s" %d', '127.0.0.1:5000', 'GET', '/metrics', '1.1', 200)
    logging.getLogger('uvicorn.error').warning('server warning')
    sys.excepthook(ValueError, ValueError('boom'), None)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line['logger'], line['msg']) for line in lines] == [
        ('uvicorn.access', '127.0.0.1:5000 - "GET /metrics HTTP/1.1" 200'),
        ('uvicorn.error', 'server warning'),
        ('flowmon', 'uncaught exception'),
    ]
    assert 'ValueError: boom' in lines[-1]['exc']


@pytest.mark.usefixtures('restore_logging')
def test_text_stays_the_plain_format() -> None:
    stream = io.StringIO()
    logs.configure('WARNING', 'text', stream=stream)
    logging.getLogger('flowmon.test').info('below the level')
    logging.getLogger('flowmon.test').warning('shown', extra=log_context.about(execution_id='e-9'))
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(' WARNING flowmon.test: shown')


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match='text, json'):
        logs.configure('INFO', 'xml')
