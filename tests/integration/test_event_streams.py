"""The event streams (Server-Sent Events) through the whole app: ``python app.py`` with every middleware (gzip,
security headers, Host check, bearer first, sign-in guard, body cap), read over real HTTP with httpx streaming.

One process serves every test of the module; each test uses workflows of its own id so that the global stream's
filters can tell them apart.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowmon_process import FlowmonProcess, ok
from sample_workflows import chain, delay, log, transform
from waiting import wait_until


def three_steps(workflow_id: str, *, wait: float = 0.0) -> dict[str, Any]:
    """first -> middle (waits ``wait`` seconds) -> last."""
    return chain(workflow_id, workflow_id, transform('first', 'input'), delay('middle', wait), log('last', 'done'))


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_LOG_LEVEL='WARNING')
    process.wait_started()
    return process


def finished(flowmon: FlowmonProcess, execution_id: str) -> list[dict[str, Any]]:
    """Wait for the execution to end; its stored events."""
    flowmon.wait_ended(execution_id)
    return list(ok(flowmon.api('GET', f'/api/executions/{execution_id}/events')))


class Messages:
    """The SSE messages of an open response, parsed as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.comments: list[str] = []
        self._lines = response.iter_lines()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, data)`` per event message, until the server ends the stream."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == '':
                if 'data' in fields:
                    yield fields['id'], json.loads(fields['data'])
                fields = {}
            elif line.startswith(':'):
                self.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(':')
                fields[name] = value.removeprefix(' ')

    def take(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        taken: list[tuple[str, dict[str, Any]]] = []
        for message in self:
            taken.append(message)
            if len(taken) == count:
                break
        return taken


@contextmanager
def stream(
    flowmon: FlowmonProcess, path: str, *, last_event_id: str | None = None, **headers: str
) -> Iterator[Messages]:
    sent = {'Authorization': f'Bearer {flowmon.token}', **headers}
    if last_event_id is not None:
        sent['Last-Event-ID'] = last_event_id
    with httpx.stream('GET', f'{flowmon.base_url}{path}', headers=sent, timeout=httpx.Timeout(20.0)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers['content-type'].startswith('text/event-stream')
        yield Messages(response)


def subscribers(flowmon: FlowmonProcess) -> int:
    return int(flowmon.api('GET', '/api/debug/clients').json()['bus_subscribers'])


def wait_subscribers(flowmon: FlowmonProcess, expected: int) -> None:
    wait_until(
        lambda: subscribers(flowmon) == expected, f'{expected} bus subscribers', seen=lambda: subscribers(flowmon)
    )


def test_an_execution_streams_every_event_in_order_and_the_stream_ends_after_the_last(flowmon: FlowmonProcess) -> None:
    flowmon.put(three_steps('sse-one', wait=0.3))
    baseline = subscribers(flowmon)
    execution_id = flowmon.start('sse-one')
    with stream(flowmon, f'/api/executions/{execution_id}/stream', **{'Accept-Encoding': 'gzip'}) as messages:
        assert 'content-encoding' not in messages.response.headers  # not compressed: gzip would hold it back
        assert messages.response.headers['cache-control'] == 'no-cache'
        assert messages.response.headers['x-content-type-options'] == 'nosniff'  # the security headers are there
        received = list(messages)  # ends by itself after the final event
    stored = finished(flowmon, execution_id)
    assert [message_id for message_id, _ in received] == [f'{execution_id}:{event["seq"]}' for event in stored]
    assert [data['type'] for _, data in received] == [event['type'] for event in stored]
    assert received[-1][1]['type'] == 'execution.completed'
    assert received[0][1]['data']['workflow_id'] == 'sse-one'
    assert all(data['execution_id'] == execution_id for _, data in received)
    wait_subscribers(flowmon, baseline)


def test_events_arrive_while_the_execution_runs_and_the_stream_ends_when_it_is_cancelled(
    flowmon: FlowmonProcess,
) -> None:
    flowmon.put(three_steps('sse-live', wait=60))
    execution_id = flowmon.start('sse-live')
    with stream(flowmon, f'/api/executions/{execution_id}/stream', **{'Accept-Encoding': 'gzip'}) as messages:
        for _, data in messages:  # up to the delay node's start, which arrives while it waits: nothing held back
            if (data['type'], data['node_id']) == ('node.started', 'middle'):
                break
        assert messages.comments == ['flowmon event stream']
        assert flowmon.api('GET', f'/api/executions/{execution_id}').json()['status'] == 'running'
        assert flowmon.api('POST', f'/api/executions/{execution_id}/cancel').status_code == 202
        rest = [data['type'] for _, data in messages]
    assert rest[-1] == 'execution.cancelled'


def test_an_execution_stream_resumes_after_last_event_id_without_gaps_or_duplicates(flowmon: FlowmonProcess) -> None:
    flowmon.put(three_steps('sse-resume', wait=0.5))
    execution_id = flowmon.start('sse-resume')
    with stream(flowmon, f'/api/executions/{execution_id}/stream') as messages:
        first = messages.take(3)
    last_id = first[-1][0]
    with stream(flowmon, f'/api/executions/{execution_id}/stream', last_event_id=last_id) as messages:
        rest = list(messages)
    stored = finished(flowmon, execution_id)
    assert [message_id for message_id, _ in first + rest] == [f'{execution_id}:{e["seq"]}' for e in stored]

    at_end = f'{execution_id}:{stored[-1]["seq"]}'
    response = httpx.get(
        f'{flowmon.base_url}/api/executions/{execution_id}/stream',
        headers={'Authorization': f'Bearer {flowmon.token}', 'Last-Event-ID': at_end},
    )
    assert response.status_code == 204  # nothing left: EventSource stops reconnecting


def test_the_event_stream_filters_by_workflow_and_type(flowmon: FlowmonProcess) -> None:
    flowmon.put(three_steps('sse-wanted'))
    flowmon.put(three_steps('sse-other'))
    path = '/api/events/stream?workflow_id=sse-wanted&types=execution.queued,node.completed,execution.completed'
    with stream(flowmon, path) as messages:
        other = flowmon.start('sse-other')
        wanted = flowmon.start('sse-wanted')
        received = messages.take(5)  # queued, three node.completed, completed
    assert {data['execution_id'] for _, data in received} == {wanted}, other
    types = [data['type'] for _, data in received]
    assert types == ['execution.queued', *['node.completed'] * 3, 'execution.completed']
    assert [data['node_id'] for _, data in received][1:4] == ['first', 'middle', 'last']


def test_the_event_stream_resumes_after_last_event_id_across_executions(flowmon: FlowmonProcess) -> None:
    flowmon.put(three_steps('sse-many', wait=0.2))
    with stream(flowmon, '/api/events/stream?workflow_id=sse-many') as messages:
        ids = [flowmon.start('sse-many') for _ in range(3)]
        first = messages.take(7)
    stored = {execution_id: finished(flowmon, execution_id) for execution_id in ids}
    total = sum(len(events) for events in stored.values())
    with stream(flowmon, '/api/events/stream?workflow_id=sse-many', last_event_id=first[-1][0]) as messages:
        rest = messages.take(total - len(first))  # everything recorded since (all three have ended by now)
    received = [message_id for message_id, _ in first + rest]
    expected = {f'{execution_id}:{event["seq"]}' for execution_id, events in stored.items() for event in events}
    assert len(received) == len(set(received)) == total  # no duplicates
    assert set(received) == expected  # no gaps
    for execution_id in ids:  # each execution's events in order
        seqs = [int(message_id.split(':')[1]) for message_id in received if message_id.startswith(execution_id)]
        assert seqs == sorted(seqs)


def test_refusals_come_before_the_stream(flowmon: FlowmonProcess) -> None:
    flowmon.put(three_steps('sse-refusals'))
    execution_id = flowmon.start('sse-refusals')
    finished(flowmon, execution_id)
    auth = {'Authorization': f'Bearer {flowmon.token}'}

    def get(path: str, **headers: str) -> httpx.Response:
        return httpx.get(f'{flowmon.base_url}{path}', headers={**auth, **headers}, timeout=10.0)

    for path in (f'/api/executions/{execution_id}/stream', '/api/events/stream'):
        refused = httpx.get(f'{flowmon.base_url}{path}', timeout=10.0)
        assert refused.status_code == 401
        assert refused.headers['www-authenticate'] == 'Bearer'
        assert get(path, **{'Last-Event-ID': 'not an id'}).status_code == 400
    assert get('/api/executions/0000000nope/stream').status_code == 404
    other = get(f'/api/executions/{execution_id}/stream', **{'Last-Event-ID': 'abc:1'})
    assert other.status_code == 422 and 'another execution' in other.json()['detail']
    beyond = get(f'/api/executions/{execution_id}/stream', **{'Last-Event-ID': f'{execution_id}:999'})
    assert beyond.status_code == 422
    no_such_form = get('/api/events/stream?workflow_id=two%20words')  # was a stream that could never carry an event
    assert no_such_form.status_code == 422 and "got 'two words'" in no_such_form.json()['detail']
    assert [error['loc'] for error in no_such_form.json()['errors']] == [['query', 'workflow_id']]
    unknown = get('/api/events/stream?types=node.completed,node.exploded')
    assert unknown.status_code == 422 and 'node.exploded' in unknown.json()['detail']
    gone = get('/api/events/stream', **{'Last-Event-ID': '0000000nope:3'})
    assert gone.status_code == 422 and 'no recorded event' in gone.json()['detail']


def test_an_open_stream_does_not_hold_up_a_stop(launch: Callable[..., FlowmonProcess]) -> None:
    process = launch()
    process.wait_started()
    with stream(process, '/api/events/stream') as messages:
        # uvicorn would wait for the open response for ever; stop() fails unless it exits within its timeout
        assert process.stop(signal.SIGTERM) == -signal.SIGTERM
        assert list(messages) == []  # the server ended the stream


def open_tcp_connections() -> set[tuple[int, int]]:
    """(local port, remote port) of this machine's established IPv4 TCP connections (Linux: /proc/net/tcp)."""
    found: set[tuple[int, int]] = set()
    for line in Path('/proc/net/tcp').read_text().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if state == '01':  # ESTABLISHED
            found.add((int(local.rsplit(':', 1)[1], 16), int(remote.rsplit(':', 1)[1], 16)))
    return found


def test_a_client_that_stops_reading_is_cut_off_and_its_stream_let_go(launch: Callable[..., FlowmonProcess]) -> None:
    """A client stops reading (a tiny receive window, nothing read) while big events keep coming: once one write has
    waited ``FLOWMON_STREAM_STALL_SECONDS`` for room, flowmon ends the response and closes the connection, the
    stream lets go of its bus subscription (and its place among the 64), and one warning says so: no server error."""
    big = str(8 << 20)
    process = launch(FLOWMON_STREAM_STALL_SECONDS='2', FLOWMON_MAX_BODY_BYTES=big, FLOWMON_MAX_PAYLOAD_BYTES=big)
    process.wait_started()
    process.put(chain('sse-stall', 'sse-stall', transform('a', 'input'), transform('b', 'a'), transform('c', 'b')))
    baseline = subscribers(process)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window stays small
    client.settimeout(20.0)
    try:
        client.connect(('127.0.0.1', process.port))
        request = (
            f'GET /api/events/stream?workflow_id=sse-stall HTTP/1.1\r\nHost: 127.0.0.1:{process.port}\r\n'
            f'Authorization: Bearer {process.token}\r\n\r\n'
        )
        client.sendall(request.encode())
        assert client.recv(4096).startswith(b'HTTP/1.1 200 ')  # the stream has begun; from now on nothing is read
        wait_subscribers(process, baseline + 1)
        blob = 'x' * 1_000_000  # each run carries it in some ten events: far more than every buffer on the way holds
        for execution_id in [process.start('sse-stall', {'blob': blob, 'n': n}) for n in range(4)]:
            process.wait_ended(execution_id)

        wait_until(lambda: 'read nothing for 2 s' in process.logs(200), 'the stalled stream to be cut off', timeout=60)
        wait_subscribers(process, baseline)
        # the server has let go of the connection, though the client has still read nothing (a plain close would
        # wait for ever to send what the client does not take); what the kernel still holds ends the connection
        server_end = (process.port, client.getsockname()[1])
        wait_until(lambda: server_end not in open_tcp_connections(), 'the server to drop the connection', timeout=10)
        with contextlib.suppress(ConnectionResetError):
            while client.recv(1 << 20):
                pass
    finally:
        client.close()
    logs = process.logs(400)
    assert 'without completing response' not in logs and 'Traceback' not in logs, logs
    with stream(process, '/api/events/stream') as messages:  # a new client is served as before
        assert messages.response.status_code == 200
