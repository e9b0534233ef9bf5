"""Inbound triggers (``POST /hooks/{workflow_id}``) and cron schedules through the API of a started flowmon."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signed_hooks import signed
from webhook_app import App, running_app

from flowmon.store.tables import WorkflowRow
from flowmon.store.webhook_tables import automation as AUTOMATION

WORKFLOWS = WorkflowRow.__table__  # type: ignore[attr-defined]

TRIGGERED = {
    'id': 'triggered',
    'name': 'Triggered',
    'trigger': {'enabled': True},
    'nodes': [{'id': 'echo', 'type': 'transform', 'config': {'expression': 'input'}}],
}


async def _setup(app: App) -> str:
    assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
    info = (await app.api.get('/api/workflows/triggered/trigger')).json()
    assert info == {'workflow_id': 'triggered', 'enabled': True, 'path': '/hooks/triggered', 'has_secret': True}
    secret = (await app.api.get('/api/workflows/triggered/trigger/secret')).json()['secret']
    assert secret.startswith('whsec_')
    return str(secret)


async def test_a_valid_signature_starts_a_run_and_a_replay_returns_the_same_execution(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        secret = await _setup(app)
        body = json.dumps({'order': 42}).encode()
        headers = signed(secret, body)

        first = await app.public.post('/hooks/triggered', content=body, headers=headers)
        assert first.status_code == 202, first.text
        execution_id = first.json()['execution_id']
        assert first.json()['replayed'] is False
        summary = await app.wait_execution(execution_id)
        assert summary['status'] == 'succeeded' and summary['input'] == {'order': 42}

        again = await app.public.post('/hooks/triggered', content=body, headers=headers)
        assert again.status_code == 202
        assert again.json() == {'execution_id': execution_id, 'workflow_id': 'triggered', 'replayed': True}
        listed = (await app.api.get('/api/executions', params={'workflow_id': 'triggered'})).json()
        assert listed['total'] == 1


async def test_bad_signatures_get_401_never_500(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        secret = await _setup(app)
        body = b'{"order":1}'
        good = signed(secret, body)
        cases: list[tuple[str, bytes, dict[str, str]]] = [
            ('tampered body', b'{"order":2}', good),
            ('stale timestamp', body, signed(secret, body, timestamp=time.time() - 600)),
            ('future timestamp', body, signed(secret, body, timestamp=time.time() + 600)),
            ('missing headers', body, {'content-type': 'application/json'}),
            ('missing signature', body, {k: v for k, v in good.items() if k != 'webhook-signature'}),
            ('other secret', body, signed('whsec_' + 'A' * 43 + '=', body)),
            ('no comma in signature', body, {**good, 'webhook-signature': 'garbage'}),
            ('timestamp not a number', body, {**good, 'webhook-timestamp': 'soon'}),
            ('non-UTF-8 body', b'\xff\xfe\x00', good),
        ]
        for name, content, headers in cases:
            response = await app.public.post('/hooks/triggered', content=content, headers=headers)
            assert response.status_code == 401, (name, response.status_code, response.text)
        listed = (await app.api.get('/api/executions', params={'workflow_id': 'triggered'})).json()
        assert listed['total'] == 0


async def test_size_json_and_enablement_rules(tmp_path: Path) -> None:
    async with running_app(tmp_path, env={'FLOWMON_MAX_PAYLOAD_BYTES': str(64 * 1024)}) as app:
        secret = await _setup(app)
        big = json.dumps({'blob': 'x' * (64 * 1024)}).encode()
        response = await app.public.post('/hooks/triggered', content=big, headers=signed(secret, big))
        assert response.status_code == 413 and 'FLOWMON_MAX_PAYLOAD_BYTES' in response.json()['detail']
        text = b'not json'
        response = await app.public.post('/hooks/triggered', content=text, headers=signed(secret, text))
        assert response.status_code == 422 and 'JSON' in response.json()['detail']
        assert [error['loc'] for error in response.json()['errors']] == [['body']]  # as for a body not an object
        for deep in (b'[' * 60_000, json.dumps({'a': json.loads('[' * 70 + ']' * 70)}).encode()):
            response = await app.public.post('/hooks/triggered', content=deep, headers=signed(secret, deep))
            assert response.status_code == 422 and 'nested more than 64 levels' in response.json()['detail']
            assert [error['loc'] for error in response.json()['errors']] == [['body']]
        assert (await app.public.post('/hooks/nope', content=b'{}', headers=signed(secret, b'{}'))).status_code == 404
        disabled = {**TRIGGERED, 'trigger': {'enabled': False}}
        await app.api.put('/api/workflows/triggered', json=disabled)
        response = await app.public.post('/hooks/triggered', content=b'{}', headers=signed(secret, b'{}'))
        assert response.status_code == 404
        no_trigger: dict[str, Any] = {key: value for key, value in TRIGGERED.items() if key != 'trigger'}
        await app.api.put('/api/workflows/triggered', json=no_trigger)
        assert (
            await app.public.post('/hooks/triggered', content=b'{}', headers=signed(secret, b'{}'))
        ).status_code == 404


async def test_a_method_a_trigger_does_not_take_is_named_with_post(tmp_path: Path) -> None:
    """``GET /hooks/{id}`` answered 405 ``Method Not Allowed`` alone: now it names the method and the one the address
    takes, as an ``/api/`` path does, the same whether a workflow of that id exists and accepts triggers or not."""
    async with running_app(tmp_path) as app:
        await _setup(app)
        for method in ('GET', 'PUT', 'PATCH', 'DELETE'):
            for path in ('/hooks/triggered', '/hooks/no-such-workflow'):
                response = await app.public.request(method, path)
                assert response.status_code == 405, response.text
                assert response.json() == {'detail': f'{method} is not allowed on {path} (allowed: POST)'}
                assert response.headers['allow'] == 'POST'


async def test_rotation_accepts_the_previous_secret_during_the_grace_period(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        old = await _setup(app)
        before = datetime.now(UTC)
        rotated = (await app.api.post('/api/workflows/triggered/trigger/secret/rotate')).json()
        assert rotated['previous_secret'] == old and rotated['secret'] != old
        expires = datetime.fromisoformat(rotated['previous_secret_expires_at'])  # as an endpoint's rotation says it
        assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24)
        assert (await app.api.get('/api/workflows/triggered/trigger/secret')).json() == rotated
        for secret in (old, rotated['secret']):
            assert await _call(app, secret) == 202


async def _call(app: App, secret: str) -> int:
    """The status of a trigger call signed with ``secret``."""
    body = b'{}'
    response = await app.public.post('/hooks/triggered', content=body, headers=signed(secret, body))
    return response.status_code


async def test_a_rotation_with_no_grace_refuses_the_old_secret_at_once(tmp_path: Path) -> None:
    """After a leak: ``grace_seconds=0`` stops the old secret now, and a previous one still in its grace period with
    it; a grace period asked for keeps the old one working until it ends."""
    async with running_app(tmp_path) as app:
        first = await _setup(app)
        rotate = '/api/workflows/triggered/trigger/secret/rotate'
        before = datetime.now(UTC)
        kept = (await app.api.post(rotate, params={'grace_seconds': 600})).json()
        expires = datetime.fromisoformat(kept['previous_secret_expires_at'])
        assert kept['previous_secret'] == first
        assert before + timedelta(seconds=600) <= expires <= datetime.now(UTC) + timedelta(seconds=600)
        assert await _call(app, first) == 202  # within its grace period

        revoked = await app.api.post(rotate, params={'grace_seconds': 0})
        assert revoked.status_code == 200, revoked.text
        answer = revoked.json()
        assert answer['previous_secret'] is None and answer['previous_secret_expires_at'] is None
        assert answer['secret'] not in (first, kept['secret'])
        assert await _call(app, kept['secret']) == 401  # the one it replaced: refused right away
        assert await _call(app, first) == 401  # and the one before it, whose grace period had not ended
        assert await _call(app, answer['secret']) == 202
        assert (await app.api.get('/api/workflows/triggered/trigger/secret')).json() == answer


async def test_a_grace_period_out_of_range_is_a_422_naming_it_and_rotates_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        secret = await _setup(app)
        for value in ('-1', '86401', 'soon', '1.5'):
            response = await app.api.post(
                '/api/workflows/triggered/trigger/secret/rotate', params={'grace_seconds': value}
            )
            assert response.status_code == 422, response.text
            assert 'grace_seconds' in response.json()['detail']
        assert (await app.api.get('/api/workflows/triggered/trigger/secret')).json()['secret'] == secret
        assert await _call(app, secret) == 202


async def test_invalid_cron_is_a_422_naming_the_field(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        for schedule, field in (
            ({'cron': '61 * * * *'}, 'schedule.cron'),
            ({'cron': 'every day'}, 'schedule.cron'),
            ({'cron': '* * * * *', 'timezone': 'Mars/Olympus'}, 'schedule.timezone'),
        ):
            response = await app.api.put(
                '/api/workflows/cronned', json={**TRIGGERED, 'id': 'cronned', 'schedule': schedule}
            )
            assert response.status_code == 422, response.text
            assert field in response.json()['detail']


async def test_schedule_pause_resume_and_next_run_time(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        workflow = {**TRIGGERED, 'id': 'cronned', 'schedule': {'cron': '0 3 * * *', 'timezone': 'Europe/Berlin'}}
        assert (await app.api.put('/api/workflows/cronned', json=workflow)).status_code == 201
        info = (await app.api.get('/api/workflows/cronned/schedule')).json()
        assert info['cron'] == '0 3 * * *' and info['paused'] is False
        next_run = datetime.fromisoformat(info['next_run_at'])
        assert next_run > datetime.now(UTC) and next_run.utcoffset() is not None
        assert next_run.astimezone(UTC).hour in (1, 2)  # 03:00 in Berlin is 01:00 or 02:00 UTC

        paused = (await app.api.post('/api/workflows/cronned/schedule/pause')).json()
        assert paused['paused'] is True and paused['next_run_at'] is None
        resumed = (await app.api.post('/api/workflows/cronned/schedule/resume')).json()
        assert resumed['paused'] is False and resumed['next_run_at'] == info['next_run_at']

        assert (await app.api.get('/api/workflows/triggered/schedule')).status_code == 404
        await app.api.delete('/api/workflows/cronned')
        assert (await app.api.get('/api/workflows/cronned/schedule')).status_code == 404


async def test_a_deleted_workflow_takes_its_trigger_secret_and_schedule_pause_along(tmp_path: Path) -> None:
    """A new workflow under a deleted one's id starts clean: the old secret starts nothing (it has a secret of its
    own), and its schedule is active."""
    scheduled = {**TRIGGERED, 'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'}}
    async with running_app(tmp_path) as app:
        assert (await app.api.put('/api/workflows/triggered', json=scheduled)).status_code == 201
        old_secret = (await app.api.get('/api/workflows/triggered/trigger/secret')).json()['secret']
        assert (await app.api.post('/api/workflows/triggered/schedule/pause')).status_code == 200
        assert (await app.api.delete('/api/workflows/triggered')).status_code == 204

        replaced = {**scheduled, 'schedule': {'cron': '0 9 * * *', 'timezone': 'UTC'}}
        assert (await app.api.put('/api/workflows/triggered', json=replaced)).status_code == 201
        new_secret = (await app.api.get('/api/workflows/triggered/trigger/secret')).json()
        assert new_secret['secret'] != old_secret and new_secret['previous_secret'] is None
        body = b'{"order":1}'
        refused = await app.public.post('/hooks/triggered', content=body, headers=signed(old_secret, body))
        assert refused.status_code == 401, refused.text
        schedule = (await app.api.get('/api/workflows/triggered/schedule')).json()
        assert schedule['paused'] is False and schedule['next_run_at'] is not None
        listed = (await app.api.get('/api/executions', params={'workflow_id': 'triggered'})).json()
        assert listed['total'] == 0


async def test_a_pause_racing_the_workflows_deletion_is_not_inherited_by_a_new_workflow_of_its_id(
    tmp_path: Path,
) -> None:
    """A pause sent as the workflow is deleted either pauses it before it goes (and goes with it) or answers 404
    having stored nothing: a pause stored after the deletion was inherited by the next workflow of that id while its
    request answered 404."""
    scheduled = {**TRIGGERED, 'schedule': {'cron': '0 3 * * *', 'timezone': 'UTC'}}
    async with running_app(tmp_path) as app:
        for _ in range(8):  # (before, most rounds left the pause behind)
            assert (await app.api.put('/api/workflows/triggered', json=scheduled)).status_code in (200, 201)
            deleted, paused = await asyncio.gather(
                app.api.delete('/api/workflows/triggered'), app.api.post('/api/workflows/triggered/schedule/pause')
            )
            assert deleted.status_code == 204 and paused.status_code in (200, 404), paused.text
            assert (await app.api.put('/api/workflows/triggered', json=scheduled)).status_code == 201
            schedule = (await app.api.get('/api/workflows/triggered/schedule')).json()
            assert schedule['paused'] is False, paused.status_code
            assert (await app.api.delete('/api/workflows/triggered')).status_code == 204


async def test_a_tick_that_fell_while_flowmon_was_stopped_runs_at_the_next_start(tmp_path: Path) -> None:
    """The workflow's hourly tick of the last hour fell while flowmon was stopped: the next start runs it, once."""
    hourly = {**TRIGGERED, 'id': 'hourly', 'trigger': None, 'schedule': {'cron': '0 * * * *', 'timezone': 'UTC'}}
    async with running_app(tmp_path) as app:
        assert (await app.api.put('/api/workflows/hourly', json=hourly)).status_code == 201
        async with app.system.db.engine.begin() as conn:  # stored two hours ago: before the last tick
            two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
            stored = {'created_at': two_hours_ago, 'updated_at': two_hours_ago}
            await conn.execute(WORKFLOWS.update().where(WORKFLOWS.c.id == 'hourly').values(**stored))
    for restart in range(2):  # the second start finds the tick's run: nothing more
        async with running_app(tmp_path) as app:
            listed = (await app.api.get('/api/executions', params={'workflow_id': 'hourly'})).json()
            scheduled = (await app.api.get('/api/executions', params={'trigger': 'schedule'})).json()
            assert (listed['total'], scheduled['total']) == (1, 1), restart
            await app.wait_execution(listed['items'][0]['id'])


async def test_a_retry_whose_execution_was_deleted_starts_a_new_one(tmp_path: Path) -> None:
    """Deleting an execution forgets the webhook id that started it: a retry is never answered with a deleted id."""
    async with running_app(tmp_path) as app:
        secret = await _setup(app)
        body = json.dumps({'order': 7}).encode()
        first = await app.public.post('/hooks/triggered', content=body, headers=signed(secret, body, message_id='m7'))
        execution_id = first.json()['execution_id']
        await app.wait_execution(execution_id)
        assert (await app.api.delete(f'/api/executions/{execution_id}')).status_code == 204

        again = await app.public.post('/hooks/triggered', content=body, headers=signed(secret, body, message_id='m7'))
        assert again.status_code == 202, again.text
        assert again.json()['replayed'] is False and again.json()['execution_id'] != execution_id
        assert (await app.wait_execution(again.json()['execution_id']))['status'] == 'succeeded'
        replayed = await app.public.post(
            '/hooks/triggered', content=body, headers=signed(secret, body, message_id='m7')
        )
        assert replayed.json() == {**again.json(), 'replayed': True}


async def test_a_cron_line_that_never_fires_is_refused_on_saving(tmp_path: Path) -> None:
    never = {**TRIGGERED, 'id': 'never', 'schedule': {'cron': '0 0 30 2 *', 'timezone': 'UTC'}}
    async with running_app(tmp_path) as app:
        refused = await app.api.put('/api/workflows/never', json=never)
        assert refused.status_code == 422, refused.text
        assert refused.json()['detail'].startswith(
            "schedule.cron: invalid cron expression '0 0 30 2 *': it never fires"
        )
        assert (await app.api.get('/api/workflows/never')).status_code == 404


async def test_a_workflow_stored_by_an_earlier_flowmon_without_a_secret_gets_one_at_start(tmp_path: Path) -> None:
    """An earlier flowmon issued the secret on the first read: a workflow nobody read the secret of has none stored,
    and the next start issues it, so a read is a read."""
    async with running_app(tmp_path) as app:
        assert (await app.api.put('/api/workflows/triggered', json=TRIGGERED)).status_code == 201
        async with app.system.db.engine.begin() as conn:
            await conn.execute(AUTOMATION.delete())
        assert (await app.api.get('/api/workflows/triggered/trigger')).json()['has_secret'] is False
        read = await app.api.get('/api/workflows/triggered/trigger/secret')
        assert read.status_code == 404 and 'no trigger secret yet' in read.json()['detail'], read.text
        assert (await app.api.get('/api/workflows/triggered/trigger')).json()['has_secret'] is False  # not issued
    async with running_app(tmp_path) as app:
        for workflow_id in ('triggered', 'inbound-order'):  # stored through the API; loaded from its file
            assert (await app.api.get(f'/api/workflows/{workflow_id}/trigger')).json()['has_secret'] is True
