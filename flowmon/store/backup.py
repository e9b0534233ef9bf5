"""A consistent copy of the SQLite database, taken while flowmon runs (``python -m flowmon backup PATH``).

SQLite's online backup API copies the database page by page. Between steps other connections may write, and a
write restarts a backup from the first page, so under a steady stream of recorder flushes a plain paged backup
never finishes. The copy therefore holds one read transaction for its whole run: in WAL mode that is a fixed
snapshot which writers do not wait for (they append to the log), so every page comes from the same moment and
nothing restarts; the steps and the short sleeps between them only share the disk with the server.

The copy goes to a temporary file (mode 0600) beside ``PATH``, is checked (``PRAGMA quick_check``), set to the
rollback journal (one self-contained file; flowmon turns WAL on again when it opens it) and then renamed to
``PATH``. The source is opened read-only: the backup never writes the live database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 1024  # 4 MiB with SQLite's default page size
SLEEP_BETWEEN_STEPS = 0.005


class BackupError(Exception):
    """The backup could not be taken; nothing was written at the destination."""


class NotSQLite(BackupError):
    """The database is not a SQLite file (use the database's own tools, e.g. ``pg_dump``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupResult:
    path: Path
    pages: int
    bytes: int
    seconds: float


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite ``database_url``; raises :class:`NotSQLite` for any other database."""
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise BackupError(f'FLOWMON_DATABASE_URL is not a database URL: {type(exc).__name__}') from None
    if url.get_backend_name() != 'sqlite':
        raise NotSQLite(
            f'the database is {url.get_backend_name()}, not SQLite: back it up with its own tools '
            f'(for PostgreSQL, pg_dump)'
        )
    if not url.database or url.database == ':memory:' or url.database.startswith('file::memory:'):
        raise BackupError('the database is in memory: there is no file to back up')
    return Path(url.database).expanduser().resolve()


def backup_sqlite(
    source: Path,
    target: Path,
    *,
    force: bool = False,
    pages_per_step: int = PAGES_PER_STEP,
    sleep: float = SLEEP_BETWEEN_STEPS,
    progress: Callable[[int, int], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BackupResult:
    """Copy the SQLite database ``source`` to ``target`` (refused when ``target`` exists, unless ``force``).

    ``progress(remaining, total)`` is called with the pages left after each step.
    """
    started = clock()
    source, target = source.resolve(), target.expanduser().absolute()
    if not source.is_file():
        raise BackupError(f'there is no database at {source}')
    if target.resolve() == source:
        raise BackupError(f'{target} is the live database itself')
    if target.is_dir():
        raise BackupError(f'{target} is a directory; give the path of the file to write')
    if target.exists() and not force:
        raise BackupError(f'{target} exists; pass --force to replace it')
    if not target.parent.is_dir():
        raise BackupError(f'the directory {target.parent} does not exist')
    fd, temporary = tempfile.mkstemp(prefix=f'.{target.name}.', suffix='.partial', dir=target.parent)  # 0600
    os.close(fd)
    try:
        pages = _copy(source, Path(temporary), pages_per_step, sleep, progress)
        _fsync(temporary)
        if target.exists() and not force:  # appeared meanwhile
            raise BackupError(f'{target} exists; pass --force to replace it')
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync(target.parent)
    return BackupResult(path=target, pages=pages, bytes=target.stat().st_size, seconds=clock() - started)


def _copy(
    source: Path, temporary: Path, pages_per_step: int, sleep: float, progress: Callable[[int, int], object] | None
) -> int:
    """Copy a snapshot of ``source`` into the empty file ``temporary``; returns the number of pages."""
    try:
        live = sqlite3.connect(f'{source.as_uri()}?mode=ro', uri=True, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f'cannot open {source}: {exc}') from None
    try:
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            live.execute('BEGIN')
            live.execute('SELECT count(*) FROM sqlite_master').fetchone()  # the snapshot starts here
            report = None if progress is None else (lambda status, remaining, total: progress(remaining, total))
            live.backup(copy, pages=pages_per_step, sleep=sleep, progress=report)
            live.execute('COMMIT')
            verdict = copy.execute('PRAGMA quick_check').fetchone()
            if not verdict or verdict[0] != 'ok':
                raise BackupError(f'the copy failed its check: {verdict[0] if verdict else "no answer"}')
            copy.execute('PRAGMA journal_mode=DELETE')
            pages = int(copy.execute('PRAGMA page_count').fetchone()[0])
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f'the backup failed: {exc}') from None
    finally:
        live.close()
    return pages


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
