"""Fixtures shared by the in-process test layers: settings on a temporary data dir, a started database (with its
history queries and a recorder written to by hand), a started system (the composition root: infrastructure plus the
application layer), loopback webhook receivers, and a throwaway PostgreSQL server for the tests that run on both
dialects (``database_url``: one empty database per test, SQLite or PostgreSQL; ``db``: that database started).

PostgreSQL is not optional: without it the PostgreSQL half of those tests fails, naming what to install
(``make test`` installs it). ``FLOWMON_TEST_POSTGRES=0`` leaves that half out, for a quick run on a machine without it.

This directory is on the import path (pytest puts a rootdir conftest's directory there), so every layer imports the
shared support modules beside this file: waiting, sample_workflows, event_history, fake_clock, flowmon_process,
webhook_receiver, signed_hooks, chromium, postgres_support, store_samples, started, schema_template, preloaded."""

from __future__ import annotations

import contextlib
import gc
import queue
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite.core as aiosqlite_core
import httpx._transports.default as httpx_transports
import pytest
from postgres_support import (
    DIALECTS,
    PostgresMissing,
    create_database,
    create_database_now,
    drop_database,
    throwaway_server,
)
from quiet_examples import quiet_examples
from schema_template import DATABASE_FILE, migrate_to_head, seed, seeded, shared_template
from started import started
from waiting import until
from webhook_receiver import Receiver

from flowmon.bootstrap import System
from flowmon.engine import EventBus
from flowmon.settings import Settings, load_settings
from flowmon.store import Database, EventRecorder, History

REPO_ROOT = Path(__file__).resolve().parents[1]

# The test files that take longest, longest first, by their summed durations on this machine (2 cores): the unit/UI/
# integration layer's, then the browser tests'. pytest-xdist hands whole files to its workers (``--dist loadfile``)
# in the order pytest collected them (``--no-loadscope-reorder``; by default it orders files by their number of
# tests), so these start first and the many short files fill in around them: ordered by number of tests, the
# one-test cluster file (53 s, most of it waiting for a cron minute) started last and ran alone for the last 45 s.
LONGEST_FIRST = (
    'tests/integration/test_process.py',  # 107 s
    'tests/integration/test_secrets_process.py',  # 89 s
    'tests/integration/test_db_command.py',  # 59 s
    'tests/integration/test_webhooks_kill.py',  # 56 s
    'tests/integration/test_cluster_process.py',  # 30-67 s
    'tests/integration/test_api.py',  # 48 s
    'tests/integration/test_workers_process.py',  # 36 s
    'tests/integration/test_operations_process.py',  # 28 s
    'tests/integration/test_dask_process.py',  # 23 s
    'tests/integration/test_backup_process.py',  # 23 s
    'tests/e2e/test_small_screens.py',  # 158 s (measured with three workers)
    'tests/e2e/test_workflow_editor_browser.py',  # 75 s
    'tests/e2e/test_execution_reconnect.py',  # 73 s
    'tests/e2e/test_execution_live.py',  # 70 s
    'tests/e2e/test_markup_markers.py',  # 63 s
    'tests/e2e/test_replay_ui.py',  # 56 s
    'tests/e2e/test_security_headers.py',  # 49 s
    'tests/e2e/test_timeline_window.py',  # 49 s
    'tests/e2e/test_cluster_live.py',  # 36 s
    'tests/e2e/test_bulk_and_shortcuts.py',  # 34 s
    'tests/e2e/test_canvas_zoom.py',  # 29 s
)


def pytest_configure(config: pytest.Config) -> None:
    """A name in LONGEST_FIRST that is no longer a file stops the run (here, where pytest-xdist's controller says why;
    raised in a worker's collection it ends in an internal error that does not)."""
    gone = [path for path in LONGEST_FIRST if not (REPO_ROOT / path).is_file()]
    if gone:
        raise pytest.UsageError(f'tests/conftest.py: LONGEST_FIRST names files that are not there: {gone}')
    gc.disable()  # until the test modules are imported: see pytest_collection_finish


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/e2e is not even imported by a run that leaves the browser tests out (``-m "not e2e"``, as ``make
    test-unit`` runs): every test there is marked e2e (tests/e2e/conftest.py), and importing them (Playwright, their
    helpers) cost every process of that run, the controller and each worker, about half a second of CPU."""
    if collection_path == REPO_ROOT / 'tests' / 'e2e' and config.getoption('markexpr').strip() == 'not e2e':
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of LONGEST_FIRST first, in its order; the others after them, as collected."""
    rank = {REPO_ROOT / path: place for place, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))


def pytest_collection_finish() -> None:
    """What the imports built (pytest, flowmon, NiceGUI, the test modules) lives as long as the test process: it is
    moved out of the garbage collector's sight, as flowmon's own process does after its imports (app.py). Every full
    collection walked it all again, 0.13 s each: 2.6 s of the 17 s of CPU of tests/integration/test_api.py (now
    1.3 s); tests/unit took 46 s of CPU, now 40 s. The collector is off while the test modules are imported (from
    pytest_configure): it walked what they built as it grew, about 1 s of CPU of each collecting process."""
    gc.collect()
    gc.freeze()
    gc.enable()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop() -> None:
    """The collector is on in a process that collected nothing (pytest-xdist's controller) too."""
    gc.enable()


def _one_tls_context() -> None:
    """Every ``httpx.Client`` the tests make (a health poll, ``httpx.get``, a fresh client per test) made a TLS
    context, reading certifi's whole CA bundle each time: about a tenth of the suite's CPU. The tests speak plain
    HTTP to loopback servers; one context with httpx's default settings serves every client."""
    made: dict[bool, ssl.SSLContext] = {}
    original = httpx_transports.create_ssl_context

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in made:
            made[trust_env] = original(verify=verify, cert=cert, trust_env=trust_env)
        return made[trust_env]

    httpx_transports.create_ssl_context = shared


_one_tls_context()


def _sqlite_threads_outlive_a_closed_loop() -> None:
    """aiosqlite's connection thread hands each call's result to the loop of the call's future. A test's loop that
    closes while a query of one of its (cancelled) tasks still runs makes that hand-over raise, and the thread dies
    with its connection open; when SQLAlchemy later collects that connection it closes it from a task of whichever
    loop runs then, queued to a thread that is gone, and the task waits for ever: that test's loop never closes (a
    hang seen once in ``make test``, and once an "Event loop is closed" warning of the dying thread). Here the thread
    drops a result nobody can receive any more and goes on. (flowmon's own loop closes only as its process exits.)

    The other way to a call queued to a thread that is gone: a connection stopped (SQLAlchemy's forced close of a
    connection terminated while its task was cancelled) and closed before its thread took the stop. The close's own
    stop is queued behind the first, which ends the thread, and waits for ever: a test's loop stuck in its teardown
    (seen once in ``make test``, after a UI test). Here a call queued to a thread that has stopped is answered at once:
    a stop asked again is done, anything else finds the connection closed, as aiosqlite says when it knows."""
    stop = aiosqlite_core._STOP_RUNNING_SENTINEL

    def hand_over(future: Any, outcome: Callable[..., None], value: Any) -> None:
        try:
            future.get_loop().call_soon_threadsafe(outcome, future, value)
        except RuntimeError:  # its loop has closed
            pass

    def answer_late(item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        if future is None:
            return
        if getattr(function, '__name__', '') == 'close_and_stop':  # (aiosqlite's stop)
            hand_over(future, aiosqlite_core.set_result, stop)
        else:
            hand_over(future, aiosqlite_core.set_exception, ValueError('Connection closed'))

    class Calls(queue.SimpleQueue):  # type: ignore[type-arg]
        """The calls queued to one connection's thread; once the thread has stopped, answered as they come."""

        def __init__(self) -> None:
            super().__init__()
            self._lock = threading.Lock()
            self._stopped = False

        def put_nowait(self, item: Any) -> None:
            with self._lock:
                if not self._stopped:
                    super().put_nowait(item)
                    return
            answer_late(item)

        def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
            self.put_nowait(item)

        def thread_stopped(self) -> None:
            with self._lock:
                self._stopped = True
                late = []
                with contextlib.suppress(queue.Empty):
                    while True:
                        late.append(self.get_nowait())
            for item in late:
                answer_late(item)

    def worker(tx: Any) -> None:
        while True:
            future, function = tx.get()
            try:
                result = function()
            except BaseException as exc:  # (handed to the caller, as aiosqlite does)
                if future:
                    hand_over(future, aiosqlite_core.set_exception, exc)
                continue
            if future:
                hand_over(future, aiosqlite_core.set_result, result)
            if result is stop:
                tx.thread_stopped()
                break

    aiosqlite_core.SimpleQueue = Calls  # type: ignore[misc]
    aiosqlite_core._connection_worker_thread = worker


_sqlite_threads_outlive_a_closed_loop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the data dir (SQLite file, secrets) under ``tmp_path`` and the shipped example workflows (without
    their schedules: :mod:`quiet_examples`)."""
    return load_settings({'FLOWMON_DATA_DIR': str(tmp_path / 'data'), 'FLOWMON_WORKFLOWS_DIR': str(quiet_examples())})


@pytest.fixture(scope='session')
def schema_template() -> Path:
    """An empty SQLite database at the schema's head, migrated once per test process (see :mod:`schema_template`)."""
    return shared_template()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A started database (schema at head) in the temporary data dir; disposed after the test."""
    async with started(Database(seeded(settings).db_url)) as db:
        yield db


@pytest.fixture
def history(database: Database) -> History:
    """The stored history's queries on ``database``."""
    return History(database)


@pytest.fixture
def recorder(database: Database) -> EventRecorder:
    """A recorder on ``database`` used only through ``write`` (never started): the test decides what is written."""
    return EventRecorder(database, EventBus())


@pytest.fixture
def token() -> str:
    """The access token of :func:`system` (override the fixture to choose another)."""
    return 'test-token'


@pytest.fixture
async def system(settings: Settings, token: str) -> AsyncIterator[System]:
    """A started flowmon without the web layer: its ``application`` is what routes and pages are given."""
    system = System.build(seeded(settings), token=token)
    await system.start()
    try:
        # The start-up pruning runs in the background: done before the test, it cannot delete at an unknown moment
        # what the test writes (histories dated 2025 are past the 30 days kept) nor stand in for a pruning it asks for.
        first = await until(lambda: system.application.retention.last, 'the start-up pruning')
        assert first.error is None, f'the start-up pruning failed: {first.error}'
        yield system
    finally:
        await system.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """``receivers(replies)`` starts a loopback webhook receiver (see :class:`Receiver`); all stop after the test."""
    started: list[Receiver] = []

    def make(replies: Any = ()) -> Receiver:
        receiver = Receiver(replies).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    """One loopback webhook receiver that answers 200 to everything."""
    return receivers()


@pytest.fixture(scope='session')
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a free port for the whole run; yields 'host:port' (see :func:`throwaway_server`)."""
    try:
        with throwaway_server() as server:
            yield server
    except PostgresMissing as exc:
        pytest.fail(f'{exc}; FLOWMON_TEST_POSTGRES=0 runs the tests on SQLite only', pytrace=False)


@pytest.fixture(scope='session')
def postgres_schema_template(postgres_server: str) -> str:
    """A database on the throwaway PostgreSQL server at the schema's head, migrated once per test process; its URL."""
    url = create_database_now(postgres_server)
    migrate_to_head(url)
    return url


@pytest.fixture(params=DIALECTS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database for the store contract, one per test: a SQLite file, or a fresh database on the throwaway PostgreSQL
    server (dropped after the test). Empty; for a test that takes ``db`` or ``system`` (which start it, migrating it
    to head), a copy of a database migrated once (``schema_template``, ``postgres_schema_template``), the state their
    start brings an empty one to. (Every migration run per test cost test_stats.py a third of its CPU.)"""
    migrated = not {'db', 'system'}.isdisjoint(request.fixturenames)
    if request.param == 'sqlite':
        if migrated:
            seed(tmp_path, request.getfixturevalue('schema_template'))
        yield f'sqlite+aiosqlite:///{tmp_path}/{DATABASE_FILE}'
        return
    template = request.getfixturevalue('postgres_schema_template') if migrated else None
    url = await create_database(request.getfixturevalue('postgres_server'), template)
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A started database (schema at head) of the dialect under test (``database_url``); disposed after the test."""
    async with started(Database(database_url)) as database:
        yield database


@pytest.fixture
async def postgresql_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database on the throwaway PostgreSQL server, for what exists only there (processes sharing it)."""
    if 'postgresql' not in DIALECTS:
        pytest.skip('FLOWMON_TEST_POSTGRES=0: the PostgreSQL tests are left out')
    url = await create_database(request.getfixturevalue('postgres_server'))
    try:
        yield url
    finally:
        await drop_database(url)
