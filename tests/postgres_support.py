"""A throwaway PostgreSQL server (the ``postgres_server`` fixture of tests/conftest.py, and ``make bench``) and
databases on it.

Importable from every test directory (tests/ is on the path through tests/conftest.py), and free of flowmon: the
integration tests, which drive flowmon only as a process, use it too, and the benchmarks load it by its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ports import free_port

T = TypeVar('T')

# The dialects of the tests that run on both: PostgreSQL unless FLOWMON_TEST_POSTGRES=0.
DIALECTS = ['sqlite', *([] if os.environ.get('FLOWMON_TEST_POSTGRES') == '0' else ['postgresql'])]


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine."""


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """A PostgreSQL server of its own on a free port, in a temporary directory removed afterwards; yields
    ``'host:port'`` (user ``postgres``, no password). PostgreSQL refuses to run as root: under root, ``initdb`` and
    ``pg_ctl`` run as the ``postgres`` user, on a directory under /tmp that it owns."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin'), key=lambda p: int(p.split('/')[-2]))
    if not found:
        raise PostgresMissing(
            'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin): `make test` installs it '
            '(apt-get install postgresql)'
        )
    bin_dir = found[-1]
    port = free_port()
    root = tempfile.mkdtemp(prefix='flowmon-pg-', dir='/tmp')  # the postgres user must reach it: not under /root
    data, as_pg = os.path.join(root, 'data'), []
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postgres')
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_pg = ['runuser', '-u', 'postgres', '--']

    def run(*command: str) -> None:
        subprocess.run([*as_pg, *command], check=True, capture_output=True)

    try:
        run(f'{bin_dir}/initdb', '-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync')
        # -l: without a log file the server keeps the pipe of capture_output open, and run() never returns
        options = f'-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200'
        run(f'{bin_dir}/pg_ctl', '-D', data, '-l', f'{root}/log', '-w', '-o', options, 'start')
        yield f'127.0.0.1:{port}'
    finally:
        if os.path.exists(f'{data}/postmaster.pid'):
            subprocess.run(
                [*as_pg, f'{bin_dir}/pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop'], capture_output=True
            )
        shutil.rmtree(root, ignore_errors=True)


async def create_database(server: str, template: str | None = None) -> str:
    """A new database on the throwaway server, empty or a copy of ``template`` (the URL of a database it made, with
    no connection open to it); returns its SQLAlchemy URL (see :func:`drop_database`)."""
    import asyncpg

    name = f't_{uuid.uuid4().hex[:12]}'
    # FILE_COPY copies the template's files: it took the server a third less CPU than its default, which writes
    # every block of them to the write-ahead log
    copy = f' TEMPLATE {template.rsplit("/", 1)[1]}' if template else ''
    admin = await asyncpg.connect(f'postgresql://postgres@{server}/postgres')
    try:
        await admin.execute(f'CREATE DATABASE {name}{copy} STRATEGY FILE_COPY')
    finally:
        await admin.close()
    return f'postgresql+asyncpg://postgres@{server}/{name}'


async def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`, closing whatever is still connected to it."""
    import asyncpg

    server, name = url.rsplit('@', 1)[1].split('/')
    admin = await asyncpg.connect(f'postgresql://postgres@{server}/postgres')
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
    finally:
        await admin.close()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end from synchronous code, in a thread of its own (the caller may be inside an event loop
    already: sync Playwright runs one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def create_database_now(server: str) -> str:
    """:func:`create_database` for synchronous code (the integration and browser tests)."""
    return _run(create_database(server))


def drop_database_now(url: str) -> None:
    _run(drop_database(url))


def query_now(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the database of ``url`` (a ``postgresql+asyncpg://`` URL), for synchronous code."""

    async def run() -> list[tuple[Any, ...]]:
        import asyncpg

        connection = await asyncpg.connect(url.replace('postgresql+asyncpg://', 'postgresql://', 1))
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return _run(run())


@dataclass
class Storage:
    """Where a test's flowmon keeps its history: ``env`` goes to ``launch``; :meth:`rows` reads it back directly."""

    dialect: str
    url: str | None = None  # PostgreSQL's; SQLite's file is in the data directory
    env: dict[str, str] = field(default_factory=dict)

    def rows(self, data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
        if self.url is None:
            with sqlite3.connect(data_dir / 'flowmon.db') as conn:
                return [tuple(row) for row in conn.execute(sql)]
        return query_now(self.url, sql)
