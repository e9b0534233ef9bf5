"""Store contract: the workflow catalog and named secrets (sealed at rest) behave the same on both databases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from store_samples import T0, chain

from flowmon.engine import WorkflowError, default_registry
from flowmon.engine.runtime.secret_refs import SecretMissing
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.store import Database, History, WorkflowCatalog
from flowmon.store import secrets as secrets_module
from flowmon.store.secrets import SecretStore, TooManySecrets
from flowmon.store.tables import SecretRow

SECRETS = SecretRow.__table__  # type: ignore[attr-defined]


async def test_the_catalog_validates_stores_and_follows_changes(db: Database) -> None:
    secrets = SecretStore(db, SecretBox(new_key()))
    catalog = WorkflowCatalog(History(db), default_registry(), known_secrets=secrets.names)
    changes: list[tuple[str, bool]] = []
    announced: list[str] = []
    catalog.listeners.append(lambda workflow_id, workflow: changes.append((workflow_id, workflow is not None)))
    catalog.announce = announced.append

    workflow, created = await catalog.put('w', chain('w', 'a', 'b', 'c'), T0)
    assert created and list(workflow.nodes) == ['a', 'b', 'c']
    with pytest.raises(WorkflowError, match='cycle'):
        await catalog.put(
            'bad', {**chain('bad'), 'edges': [{'source': 'a', 'target': 'b'}, {'source': 'b', 'target': 'a'}]}, T0
        )
    referring = chain('uses')
    referring['nodes'][0]['config'] = {'message': {'$secret': 'api_key'}}
    with pytest.raises(WorkflowError, match="unknown secret 'api_key'"):
        await catalog.put('uses', referring, T0)
    await secrets.put('api_key', 'v')
    await catalog.put('uses', referring, T0 + timedelta(seconds=1))
    assert [w.id for w in await catalog.all()] == ['uses', 'w']  # by name (the same for both), then id
    assert await catalog.delete('w') is True
    assert await catalog.get('w') is None

    # A change made elsewhere (another process on the same database) reaches the listeners on refresh.
    other = WorkflowCatalog(History(db), default_registry(), known_secrets=secrets.names)
    await other.put('x', chain('x'), T0)
    await catalog.refresh('x')
    await catalog.refresh('uses')
    assert changes == [('w', True), ('uses', True), ('w', False), ('x', True), ('uses', True)]
    assert announced == ['w', 'uses', 'w']  # only the changes made here are announced


async def test_secrets_are_sealed_at_rest_and_follow_changes_made_elsewhere(db: Database) -> None:
    box = SecretBox(new_key())
    store = SecretStore(db, box)
    await store.load()
    info, created = await store.put('token', 'sk-live-ünïcode-0123456789')
    assert created and info.created_at.utcoffset() == timedelta(0)
    _, created = await store.put('token', 'sk-live-replaced-9876543210')
    assert not created
    await store.put('other', 'x' * 16384)

    async with db.engine.connect() as conn:
        raw = {row.name: row.value for row in (await conn.execute(select(SECRETS))).all()}
    assert set(raw) == {'token', 'other'}
    assert not any('sk-live' in value or 'xxxx' in value for value in raw.values())  # only sealed text is stored

    elsewhere = SecretStore(db, box)  # another process sharing the database
    await elsewhere.load()
    assert await elsewhere.resolve({'token', 'other'}) == {'token': 'sk-live-replaced-9876543210', 'other': 'x' * 16384}
    assert await elsewhere.delete('other') is True
    assert store.names() == frozenset({'token', 'other'})
    await store.load()  # what the change feed does when the other process announces its change
    assert store.names() == frozenset({'token'})
    assert [s.name for s in store.list()] == ['token']


async def test_a_secret_put_after_another_process_created_or_deleted_it_is_stored(db: Database) -> None:
    """Each process keeps the secrets it read last, until another's announcement of a change is read; a put decided
    from that memory failed (a duplicate key, answered 500) for a secret another process had just created, and for one
    it had just deleted stored nothing while answering 'replaced'."""
    box = SecretBox(new_key())
    here, elsewhere = SecretStore(db, box), SecretStore(db, box)  # two processes sharing the database
    await here.load()
    await elsewhere.load()
    await elsewhere.put('token', 'first-0123456789')
    info, created = await here.put('token', 'second-0123456789')  # before this process reads the change
    assert not created
    assert await elsewhere.delete('token') is True
    _, created = await here.put('token', 'third-0123456789')  # this process still remembers it
    assert created

    fresh = SecretStore(db, box)
    await fresh.load()
    assert await fresh.resolve({'token'}) == {'token': 'third-0123456789'}
    assert fresh.list()[0].created_at > info.created_at


async def test_processes_creating_secrets_together_stop_at_the_limit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number of secrets is bounded for all the processes sharing the database together: six count and create
    at once (without one turn at a time several counts pass together, and the store went past its limit)."""
    monkeypatch.setattr(secrets_module, 'MAX_SECRETS', 4)
    box = SecretBox(new_key())
    stores = [SecretStore(db, box) for _ in range(6)]  # six processes sharing the database
    for store in stores:
        await store.load()
    await stores[0].put('kept', 'value-0123456789')

    outcomes = await asyncio.gather(
        *(store.put(f'p{number}-{index}', 'value-0123456789') for index in range(3) for number, store in
          enumerate(stores)),
        return_exceptions=True,
    )  # fmt: skip
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(refused) == 15 and all(isinstance(error, TooManySecrets) for error in refused), outcomes
    async with db.engine.connect() as conn:
        assert len((await conn.execute(select(SECRETS.c.name))).all()) == 4


async def test_a_definition_naming_a_secret_another_process_just_created_is_saved(db: Database) -> None:
    """A script behind a load balancer creates a secret through one process and saves a workflow naming it through
    another at once: that one refused it (422 'unknown secret') until it had read the first one's announcement."""
    box = SecretBox(new_key())
    here, elsewhere = SecretStore(db, box), SecretStore(db, box)
    await here.load()
    catalog = WorkflowCatalog(
        History(db),
        default_registry(),
        known_secrets=here.names,
        read_names_again=lambda _kind, names: here.read_again_if_stored(names),
    )
    referring = chain('uses')
    referring['nodes'][0]['config'] = {'message': {'$secret': 'api_key'}}
    await elsewhere.put('api_key', 'sk-0123456789')
    workflow, created = await catalog.put('uses', referring, T0)
    assert created and workflow.id == 'uses'
    # a name the database does not hold either is refused after one small read: the secrets are not read again (each
    # reading again would redraw every open secrets page of the process)
    version = here.version
    referring['nodes'][0]['config'] = {'message': {'$secret': 'nowhere'}}
    with pytest.raises(WorkflowError, match="unknown secret 'nowhere'"):
        await catalog.put('uses', referring, T0)
    assert here.version == version


async def test_a_secret_another_process_just_created_is_resolved_for_a_run(db: Database) -> None:
    """A script creates a secret through one process, then starts a workflow naming it through another at once: the
    node failed 'secret does not exist' until that process had read the first one's announcement."""
    box = SecretBox(new_key())
    here, elsewhere = SecretStore(db, box), SecretStore(db, box)
    await here.load()
    await elsewhere.put('api_key', 'sk-0123456789')
    assert await here.resolve({'api_key'}) == {'api_key': 'sk-0123456789'}
    with pytest.raises(SecretMissing, match="secret 'nowhere' does not exist"):
        await here.resolve({'api_key', 'nowhere'})


async def as_far_as_it_goes(save: asyncio.Task[Any]) -> None:
    """Let ``save`` go as far as it can while a read is held up: to its end (the defect), or up to the lock."""
    for _ in range(200):
        if save.done():
            return
        await asyncio.sleep(0.01)


class _SlowReads:
    """The database as a store sees it, but each read's rows come back only once ``gate`` opens (after the SELECT
    ran: as when the rows travel back while the event loop serves other work)."""

    def __init__(self, db: Database, gate: asyncio.Event) -> None:
        self._db = db
        self._gate = gate
        self.read = asyncio.Event()

    @property
    def engine(self) -> _SlowReads:
        return self

    def begin(self) -> Any:
        return self._db.engine.begin()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        async with self._db.engine.connect() as conn:
            yield _SlowConnection(conn, self)


class _SlowConnection:
    def __init__(self, conn: Any, owner: _SlowReads) -> None:
        self._conn = conn
        self._owner = owner

    async def execute(self, statement: Any) -> Any:
        rows = (await self._conn.execute(statement)).all()
        self._owner.read.set()
        await self._owner._gate.wait()
        return SimpleNamespace(all=lambda: rows)


async def test_a_secret_saved_here_while_the_secrets_are_read_again_is_kept(db: Database) -> None:
    """Another process's change makes this one read every secret again; a secret saved here meanwhile (after that
    read's SELECT) must not be undone when the older read is installed."""
    gate = asyncio.Event()
    slow = _SlowReads(db, gate)
    store = SecretStore(slow, SecretBox(new_key()))  # type: ignore[arg-type]
    gate.set()
    await store.load()
    gate.clear()
    reload = asyncio.create_task(store.load())  # what the change feed does on another process's announcement
    await slow.read.wait()  # its SELECT ran: the secret below is not in its rows
    save = asyncio.create_task(store.put('api_key', 'sk-new-0123456789'))
    await as_far_as_it_goes(save)
    gate.set()
    await asyncio.gather(reload, save)
    assert store.names() == frozenset({'api_key'})
    assert await store.resolve({'api_key'}) == {'api_key': 'sk-new-0123456789'}


class _SlowHistory(History):
    """The history as the catalog sees it, but a read of a workflow comes back only once ``gate`` opens."""

    def __init__(self, db: Database, gate: asyncio.Event) -> None:
        super().__init__(db)
        self._gate = gate
        self.read = asyncio.Event()

    async def get_workflow(self, workflow_id: str) -> Any:
        stored = await super().get_workflow(workflow_id)
        self.read.set()
        await self._gate.wait()
        return stored


async def test_a_definition_saved_here_while_another_change_is_read_is_the_one_the_listeners_keep(
    db: Database,
) -> None:
    """Another process saved a workflow and this one reads it again; meanwhile it is saved here anew. The listeners
    (the schedules) must end with the definition saved here, not the older one read before it."""
    gate = asyncio.Event()
    history = _SlowHistory(db, gate)
    catalog = WorkflowCatalog(history, default_registry())
    told: list[list[str] | None] = []
    catalog.listeners.append(lambda _id, workflow: told.append(None if workflow is None else list(workflow.nodes)))
    await WorkflowCatalog(History(db), default_registry()).put('x', chain('x', 'a'), T0)  # saved elsewhere
    refresh = asyncio.create_task(catalog.refresh('x'))  # what the change feed does on the announcement
    await history.read.wait()  # it has read the definition saved elsewhere
    save = asyncio.create_task(catalog.put('x', chain('x', 'a', 'b'), T0 + timedelta(seconds=1)))
    await as_far_as_it_goes(save)
    gate.set()
    await asyncio.gather(refresh, save)
    assert told[-1] == ['a', 'b']
    assert list((await catalog.get('x') or pytest.fail('gone')).nodes) == ['a', 'b']
