"""A SIGKILL loses no webhook delivery: the real app process is killed and restarted on the same data directory.

At-least-once with a stable id: after the restart the pending retry (or the attempt the kill interrupted) is sent
again with the same ``webhook-id``, and the delivery completes exactly once more.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flowmon_process import FlowmonProcess, ok
from postgres_support import Storage
from standardwebhooks.webhooks import Webhook
from waiting import wait_until
from webhook_receiver import Reply

TOKEN = 'kill-test-token-0123'
StartApp = Callable[[str], FlowmonProcess]


@pytest.fixture
def start_app(launch: Callable[..., FlowmonProcess], tmp_path: Path, storage: Storage) -> StartApp:
    """``start_app(schedule)``: flowmon on the test's one data directory (no workflows) and its database, on SQLite
    and on PostgreSQL (``storage``: the kill and the restart lose nothing on either), loopback receivers allowed,
    retries after ``schedule`` without jitter; started and healthy."""
    (tmp_path / 'no-workflows').mkdir()

    def start(schedule: str) -> FlowmonProcess:
        flowmon = launch(
            FLOWMON_TOKEN=TOKEN,
            FLOWMON_WORKFLOWS_DIR=str(tmp_path / 'no-workflows'),
            FLOWMON_OUTBOUND_ALLOW='127.0.0.1',
            FLOWMON_WEBHOOK_RETRY_SCHEDULE=schedule,
            FLOWMON_WEBHOOK_JITTER='0',
            **storage.env,
        )
        flowmon.wait_started(token=TOKEN)
        return flowmon

    return start


def kill(app: FlowmonProcess) -> None:
    app.process.send_signal(signal.SIGKILL)
    app.process.wait(timeout=10)


def test_sigkill_while_a_retry_is_pending_loses_nothing(start_app: StartApp, receivers: Any) -> None:
    receiver = receivers([Reply(503)])
    app = start_app('0,3')
    queued = ok(app.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'order': 1}}), 202)
    receiver.wait_hits(1)
    pending = app.wait_delivery(queued['id'], 'retrying')  # the outcome is committed, the retry armed
    due = datetime.fromisoformat(pending['next_attempt_at'])
    kill(app)

    # the wake-up comes due while nothing runs
    wait_until(lambda: datetime.now(due.tzinfo) >= due, f'the retry to come due at {due}')
    assert len(receiver.hits) == 1
    app = start_app('0,3')
    detail = app.wait_delivery(queued['id'], 'succeeded')
    hits = receiver.hits
    assert len(hits) == 2  # exactly once more
    assert [a['status_code'] for a in detail['attempts']] == [503, 200]
    assert {hit.headers['webhook-id'] for hit in hits} == {queued['webhook_id']}
    for hit in hits:
        assert Webhook(queued['secret']).verify(hit.body, hit.headers) == {'order': 1}


def test_sigkill_during_an_attempt_marks_it_interrupted_and_sends_again(start_app: StartApp, receivers: Any) -> None:
    receiver = receivers([Reply(200, delay=20)])
    app = start_app('0,0.3')
    queued = ok(app.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'n': 2}}), 202)
    receiver.wait_hits(1)  # the attempt is in flight: the receiver holds the response
    kill(app)

    app = start_app('0,0.3')
    detail = app.wait_delivery(queued['id'], 'succeeded')
    hits = receiver.hits
    assert len(hits) == 2
    assert [a['error_class'] for a in detail['attempts']] == ['interrupted', None]
    assert [a['trigger'] for a in detail['attempts']][1] in ('retry', 'recovery')
    assert {hit.headers['webhook-id'] for hit in hits} == {queued['webhook_id']}
    Webhook(queued['secret']).verify(hits[1].body, hits[1].headers)
