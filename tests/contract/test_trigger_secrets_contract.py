"""Store contract: a workflow that accepts triggers has its trigger secret from the moment it is stored, one secret
whichever of the processes sharing the database stores it, and a rotation replaces only the secret it read; an
address without a usable trigger is refused alike whatever it lacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from started import started
from store_samples import T0, chain
from waiting import until

from flowmon.automation.triggers import TriggerNotFound, TriggerService
from flowmon.engine import default_registry
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.store import Database, History, WorkflowCatalog
from flowmon.store.codec import from_db_time
from flowmon.store.trigger_secrets import TriggerSecrets
from flowmon.store.webhook_tables import automation

BOX = SecretBox(new_key())
WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def triggered(workflow_id: str, **more: Any) -> dict[str, Any]:
    return {**chain(workflow_id), 'trigger': {'enabled': True}, **more}


def catalog_of(db: Database, *, issuing: bool = True) -> WorkflowCatalog:
    """A process's catalog; ``issuing=False``: one of an earlier flowmon, which stored no secret."""
    return WorkflowCatalog(
        History(db), default_registry(), trigger_secrets=TriggerSecrets(db, BOX) if issuing else None
    )


async def automation_rows(db: Database) -> dict[str, dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(automation))).all()
    return {row.workflow_id: dict(row._mapping) for row in rows}


async def test_a_workflow_gets_its_secret_as_it_is_stored_accepting_triggers_and_keeps_it(db: Database) -> None:
    catalog, secrets = catalog_of(db), TriggerSecrets(db, BOX)
    await catalog.put('plain', chain('plain'), T0)
    await catalog.put('off', triggered('off', trigger={'enabled': False}), T0)
    assert await automation_rows(db) == {}

    await catalog.put('hooked', triggered('hooked'), T0)
    first = await secrets.read('hooked')
    assert first is not None and first.secret is not None and first.secret.startswith('whsec_')
    assert first.previous_secret is None
    await catalog.put('hooked', triggered('hooked', name='Renamed'), T0 + timedelta(minutes=1))
    await catalog.put('hooked', triggered('hooked', name='Renamed'), T0 + timedelta(minutes=2), expected='*')
    assert await secrets.read('hooked') == first  # stored again: the same secret

    await catalog.put('off', triggered('off'), T0 + timedelta(minutes=3))  # now accepting triggers
    issued = await secrets.read('off')
    assert issued is not None and issued.secret not in (None, first.secret)


async def test_the_row_says_whether_the_stored_definition_accepts_triggers_and_keeps_the_secret(
    db: Database, tmp_path: Path
) -> None:
    """Written in the transaction that stores the definition, however it is stored: created, saved (over a version
    expected or not), stored again as it is, loaded from a file; deleted, the row goes."""
    catalog, secrets = catalog_of(db), TriggerSecrets(db, BOX)

    async def marked(workflow_id: str) -> tuple[bool, str | None] | None:
        row = await secrets.read(workflow_id)
        return None if row is None else (row.trigger_enabled, row.secret)

    await catalog.put('hooked', triggered('hooked'), T0)
    issued = await secrets.read('hooked')
    assert issued is not None and issued.secret is not None and issued.trigger_enabled
    secret = issued.secret
    switched_off = triggered('hooked', trigger={'enabled': False})
    for when, (definition, expected) in enumerate(
        [
            (switched_off, None),
            (switched_off, None),  # stored again as it is
            (triggered('hooked'), '*'),
            (triggered('hooked'), '*'),
            (switched_off, '*'),
            (switched_off, '*'),
            (triggered('hooked', trigger={}), None),  # ("enabled" is true when left out)
            (chain('hooked'), None),  # no trigger at all
        ],
        start=1,
    ):
        await catalog.put('hooked', definition, T0 + timedelta(minutes=when), expected=expected)
        stored = await catalog.get('hooked')
        assert stored is not None
        assert await marked('hooked') == (stored.accepts_triggers, secret), (when, definition)

    (tmp_path / 'hooked.json').write_text(json.dumps(triggered('hooked')), encoding='utf-8')
    await catalog.load_directory(tmp_path, T0 + timedelta(hours=1))
    assert await marked('hooked') == (True, secret)
    (tmp_path / 'hooked.json').write_text(json.dumps(switched_off), encoding='utf-8')
    await catalog.load_directory(tmp_path, T0 + timedelta(hours=2))
    assert await marked('hooked') == (False, secret)
    await catalog.load_directory(tmp_path, T0 + timedelta(hours=3))  # the file unchanged
    assert await marked('hooked') == (False, secret)

    assert await catalog.delete('hooked')
    assert await marked('hooked') is None
    await catalog.put('hooked', switched_off, T0 + timedelta(hours=4))  # a new workflow under the id: nothing kept
    assert await marked('hooked') is None
    await catalog.put('plain', chain('plain'), T0)
    assert await automation_rows(db) == {}  # never accepting triggers: no row


async def test_start_up_marks_on_the_trigger_of_a_workflow_that_accepts_triggers(db: Database) -> None:
    """A row that says the trigger is off while the stored definition accepts triggers (as written by hand, or left
    by a restore) is put right at the next start, keeping its secret; one that says it is on is left alone."""
    catalog, secrets = catalog_of(db), TriggerSecrets(db, BOX)
    await catalog.put('hooked', triggered('hooked'), T0)
    before = await secrets.read('hooked')
    assert before is not None
    async with db.engine.begin() as conn:
        await conn.execute(automation.update().values(trigger_enabled=False))

    assert await catalog_of(db).issue_missing_trigger_secrets() == []  # no secret issued: it had one

    assert await secrets.read('hooked') == before


@pytest.mark.parametrize('expected', [None, '*'])
async def test_a_definition_stored_as_it_is_while_another_process_switches_the_trigger_on_leaves_the_row_in_step(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch, expected: str | None
) -> None:
    """Processes sharing PostgreSQL: one stores the definition with the trigger off that is stored already (a file
    loaded again at its start, a save of the same text) while another saves it with the trigger on. The first holds
    the workflow's row from finding it unchanged until it has written the trigger off, so the other's save waits and
    its trigger on is the last word, as its definition is. (SQLite serves one process, whose catalog stores one
    definition at a time.)"""
    async with started(Database(postgresql_url)) as db, started(Database(postgresql_url)) as other:
        secrets = TriggerSecrets(db, BOX)
        here = WorkflowCatalog(History(db), default_registry(), trigger_secrets=secrets)
        there = catalog_of(other)
        switched_off = triggered('hooked', trigger={'enabled': False})
        await here.put('hooked', triggered('hooked'), T0)
        await here.put('hooked', switched_off, T0 + timedelta(minutes=1))
        switch_off, saves = secrets.switch_off, []

        async def waiting_on_this_transaction() -> bool:
            if saves[0].done():
                return True
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            async with db.engine.connect() as conn:
                return bool((await conn.exec_driver_sql(query)).scalar_one())

        async def switched_on_meanwhile(conn: Any, workflow_id: str) -> None:
            saves.append(asyncio.create_task(there.put('hooked', triggered('hooked'), T0 + timedelta(minutes=2))))
            await until(waiting_on_this_transaction, 'the other save to wait for this transaction (or be done)')
            await switch_off(conn, workflow_id)

        monkeypatch.setattr(secrets, 'switch_off', switched_on_meanwhile)
        await here.put('hooked', switched_off, T0 + timedelta(minutes=2), expected=expected)  # stored as it is
        await saves[0]

        stored, row = await there.get('hooked'), await TriggerSecrets(db, BOX).read('hooked')
        assert stored is not None and stored.accepts_triggers
        assert row is not None and row.trigger_enabled


async def test_processes_storing_a_workflow_together_issue_one_secret(
    db: Database, open_database: Callable[[], Database]
) -> None:
    catalogs = [catalog_of(open_database()) for _ in range(4)]
    for n in range(5):
        workflow_id = f'hooked-{n}'
        await asyncio.gather(*(catalog.put(workflow_id, triggered(workflow_id), T0) for catalog in catalogs))
    reads = [await TriggerSecrets(db, BOX).read(f'hooked-{n}') for n in range(5)]
    assert all(read is not None and read.secret for read in reads)
    assert len({read.secret for read in reads if read}) == 5


async def test_a_file_loaded_again_unchanged_gets_the_secret_it_lacks(db: Database, tmp_path: Path) -> None:
    (tmp_path / 'hooked.json').write_text(json.dumps(triggered('hooked')), encoding='utf-8')
    await catalog_of(db, issuing=False).load_directory(tmp_path, T0)  # an earlier flowmon: no secret
    assert await automation_rows(db) == {}
    await catalog_of(db).load_directory(tmp_path, T0 + timedelta(days=1))
    row = (await automation_rows(db))['hooked']
    assert row['trigger_secret'] is not None
    assert from_db_time(row['updated_at']) == T0  # dated from the definition, stored unchanged since


async def test_start_up_issues_the_secrets_an_earlier_flowmon_left_out_once(
    db: Database, open_database: Callable[[], Database]
) -> None:
    old = catalog_of(db, issuing=False)
    await old.put('hooked', triggered('hooked'), T0)
    await old.put('paused', triggered('paused'), T0)
    await old.put('plain', chain('plain'), T0)
    async with db.engine.begin() as conn:  # its schedule was paused an hour later: the row is there, no secret
        await conn.execute(
            automation.insert().values(workflow_id='paused', schedule_paused=True, updated_at=T0 + timedelta(hours=1))
        )

    issued = await asyncio.gather(*(catalog_of(open_database()).issue_missing_trigger_secrets() for _ in range(3)))

    assert sorted(workflow_id for ids in issued for workflow_id in ids) == ['hooked', 'paused']  # once each
    rows = await automation_rows(db)
    assert sorted(rows) == ['hooked', 'paused']
    assert all(row['trigger_secret'] for row in rows.values())
    assert from_db_time(rows['hooked']['updated_at']) == T0
    assert from_db_time(rows['paused']['updated_at']) == T0 + timedelta(hours=1) and rows['paused']['schedule_paused']
    before = {workflow_id: await TriggerSecrets(db, BOX).read(workflow_id) for workflow_id in rows}
    assert await catalog_of(db).issue_missing_trigger_secrets() == []
    assert {workflow_id: await TriggerSecrets(db, BOX).read(workflow_id) for workflow_id in rows} == before


async def test_a_rotation_that_read_a_secret_rotated_meanwhile_answers_with_that_rotation(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await catalog_of(db).put('hooked', triggered('hooked'), T0)
    here, elsewhere = TriggerSecrets(db, BOX), TriggerSecrets(db, BOX)
    original = await here.read('hooked')
    assert original is not None
    stale = await here._raw('hooked')  # what this rotation read before the other one wrote

    won = await elsewhere.rotate('hooked', T0, T0 + timedelta(hours=24))
    assert won is not None and won.previous_secret == original.secret

    async def read_before(_workflow_id: str) -> dict[str, Any] | None:
        monkeypatch.undo()  # its first read only
        return stale

    monkeypatch.setattr(here, '_raw', read_before)
    lost = await here.rotate('hooked', T0, T0 + timedelta(hours=24))
    assert lost == won == await here.read('hooked')  # one rotation: the original secret keeps its grace
    assert await here.rotate('plain', T0, T0) is None  # nothing to rotate


async def test_every_address_without_a_usable_trigger_is_refused_alike_after_the_same_reads(db: Database) -> None:
    """``POST /hooks/{id}`` is public: no such workflow, one that does not accept triggers (never did, or no longer
    does) and one without a secret get the same refusal, before any signature work, after the same one read (the
    definition is not read: its size, or reading it at all, would tell a stored workflow from an unknown id). A
    workflow whose trigger was switched off keeps its secret, and its row says the trigger is off."""
    catalog = catalog_of(db)
    await catalog.put('plain', chain('plain'), T0)
    await catalog.put('was-hooked', triggered('was-hooked'), T0)
    await catalog.put('was-hooked', triggered('was-hooked', trigger={'enabled': False}), T0 + timedelta(seconds=1))
    await catalog.put('secretless', triggered('secretless'), T0)
    async with db.engine.begin() as conn:  # (as an earlier flowmon left it, until the next start)
        await conn.execute(automation.delete().where(automation.c.workflow_id == 'secretless'))

    async def start(*_: Any, **__: Any) -> str:
        raise AssertionError('nothing may start')

    service = TriggerService(db, catalog, start, TriggerSecrets(db, BOX))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0])

    event.listen(db.engine.sync_engine, 'before_cursor_execute', seen)
    try:
        answers = {}
        for workflow_id in ('nope', 'plain', 'was-hooked', 'secretless'):
            statements.clear()
            with pytest.raises(TriggerNotFound) as refused:
                await service.receive(workflow_id, {}, b'{}')
            answers[workflow_id] = (str(refused.value), tuple(statements))
    finally:
        event.remove(db.engine.sync_engine, 'before_cursor_execute', seen)
    assert {refusal for refusal, _ in answers.values()} == {'no trigger at this address'}, answers
    assert {reads for _, reads in answers.values()} == {('SELECT',)}, answers


async def test_a_rotation_that_stops_the_old_secret_stops_it_also_when_another_rotation_won(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a leak: a rotation with no grace that loses to a rotation made meanwhile with a grace period still stops
    the secret both replaced at once (the shorter grace stands), instead of leaving it working for 24 h."""
    await catalog_of(db).put('hooked', triggered('hooked'), T0)
    here, elsewhere = TriggerSecrets(db, BOX), TriggerSecrets(db, BOX)
    stale = await here._raw('hooked')  # what the revoking rotation read before the other one wrote

    won = await elsewhere.rotate('hooked', T0, T0 + timedelta(hours=24))
    assert won is not None

    async def read_before(_workflow_id: str) -> dict[str, Any] | None:
        monkeypatch.undo()  # its first read only
        return stale

    monkeypatch.setattr(here, '_raw', read_before)
    lost = await here.rotate('hooked', T0, T0)
    assert lost is not None and lost.secret == won.secret  # still one rotation
    assert lost.previous_expires_at == T0  # the leaked secret stops now, not in 24 h
    assert await here.read('hooked') == lost
