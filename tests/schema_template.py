"""An empty SQLite database at the schema's head, made once per test process and copied into a test's data directory
before its flowmon starts (and, on PostgreSQL, a database at head that tests/conftest.py copies for the ``db``
fixture's tests).

Every start of flowmon on a new data directory runs every migration (about 0.4 s here); a test that only needs a
flowmon to start is given a copy of a database migrated once instead, the state a restarted flowmon finds (the
``schema_template`` fixture of tests/conftest.py, and :func:`seeded` for a system a test builds itself). The tests
of the migrations themselves (tests/unit/test_migrations.py, tests/integration/test_db_command.py) and the process
tests still start from nothing.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
import threading
from pathlib import Path

from started import started

from flowmon.settings import Settings
from flowmon.store import Database

DATABASE_FILE = 'flowmon.db'  # the SQLite file of a data directory (flowmon.settings: the default database URL)


@functools.cache
def shared_template() -> Path:
    """The template of this test process: made at its first use, in a temporary directory removed at its exit."""
    directory = Path(tempfile.mkdtemp(prefix='flowmon-schema-'))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_template(directory)


def seeded(settings: Settings) -> Settings:
    """``settings`` with the template copied in as the data directory's database (see :func:`seed`), when that is
    where the database is (SQLite, the default file)."""
    if settings.db_url == f'sqlite+aiosqlite:///{settings.data_dir / DATABASE_FILE}':
        seed(settings.data_dir, shared_template())
    return settings


def make_template(directory: Path) -> Path:
    """Migrate a new SQLite database in ``directory`` to head (see :func:`migrate_to_head`); returns its path."""
    path = directory / DATABASE_FILE
    migrate_to_head(f'sqlite+aiosqlite:///{path}')
    leftovers = sorted(p.name for p in directory.iterdir() if p.name != DATABASE_FILE)
    if leftovers:  # a -wal or -shm file would hold part of the schema: the copy would lack it
        raise AssertionError(f'the migrated template left {leftovers} beside {path}')
    return path


def migrate_to_head(url: str) -> None:
    """Migrate the database at ``url`` to head and close every connection to it, in a thread of its own (the
    caller's event loop, if any, is not disturbed)."""
    failure: list[BaseException] = []

    async def migrate() -> None:
        async with started(Database(url)):
            pass

    def run() -> None:
        try:
            asyncio.run(migrate())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name='schema template')
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def seed(data_dir: Path, template: Path) -> None:
    """Copy ``template`` into ``data_dir`` as its database, private as flowmon makes its files; nothing when the data
    directory already has a database (a test that prepared one)."""
    target = data_dir / DATABASE_FILE
    if target.exists():
        return
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    os.chmod(target, 0o600)
