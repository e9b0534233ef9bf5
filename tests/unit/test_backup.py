"""The SQLite backup: a snapshot of one moment even while another connection writes, a private file renamed into
place, and clear refusals (an existing file, the live database itself, a database that is not SQLite)."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowmon.store.backup import BackupError, NotSQLite, backup_sqlite, sqlite_path


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Path]:
    """A WAL database of about 150 pages, like flowmon's, with a server connection kept open."""
    path = tmp_path / 'data' / 'flowmon.db'
    path.parent.mkdir()
    server = sqlite3.connect(path, isolation_level=None)
    server.execute('PRAGMA journal_mode=WAL')
    server.execute('CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT)')
    server.execute('BEGIN')
    server.executemany('INSERT INTO events (data) VALUES (?)', [('x' * 500,) for _ in range(1000)])
    server.execute('COMMIT')
    yield path
    server.close()


def rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute('SELECT count(*) FROM events').fetchone()[0])


def test_a_copy_is_a_snapshot_even_while_another_connection_writes(live: Path, tmp_path: Path) -> None:
    writer = sqlite3.connect(live, isolation_level=None)
    remaining: list[int] = []

    def write_between_steps(left: int, total: int) -> None:
        remaining.append(left)
        if len(remaining) <= 8:  # (bounded: a backup that restarted on each write would never end)
            writer.execute('INSERT INTO events (data) VALUES (?)', ('written during the backup',))  # committed

    result = backup_sqlite(live, tmp_path / 'copy.db', pages_per_step=10, sleep=0, progress=write_between_steps)
    writer.close()
    assert len(remaining) > 5 and remaining == sorted(remaining, reverse=True)  # never restarted
    assert rows(tmp_path / 'copy.db') == 1000  # the moment it began; the writes went on in the live database
    assert rows(live) == 1000 + 8
    with sqlite3.connect(tmp_path / 'copy.db') as copy:
        assert copy.execute('PRAGMA integrity_check').fetchone() == ('ok',)
        assert copy.execute('PRAGMA journal_mode').fetchone() == ('delete',)  # one self-contained file
    assert result.path == tmp_path / 'copy.db' and result.pages > 100 and result.bytes == result.pages * 4096


def test_the_copy_is_private_and_nothing_is_left_beside_it(live: Path, tmp_path: Path) -> None:
    target = tmp_path / 'backups' / 'flowmon-backup.db'
    target.parent.mkdir()
    backup_sqlite(live, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in target.parent.iterdir()] == ['flowmon-backup.db']


def test_an_existing_file_is_replaced_only_with_force(live: Path, tmp_path: Path) -> None:
    target = tmp_path / 'copy.db'
    target.write_bytes(b'an older backup')
    with pytest.raises(BackupError, match='exists; pass --force'):
        backup_sqlite(live, target)
    assert target.read_bytes() == b'an older backup'
    backup_sqlite(live, target, force=True)
    assert rows(target) == 1000
    assert sorted(path.name for path in tmp_path.iterdir()) == ['copy.db', 'data']


@pytest.mark.parametrize(
    ('where', 'message'),
    [
        ('data/flowmon.db', 'is the live database itself'),
        ('data', 'is a directory'),
        ('nowhere/copy.db', 'does not exist'),
    ],
)
def test_a_bad_target_is_refused_before_anything_is_written(
    live: Path, tmp_path: Path, where: str, message: str
) -> None:
    with pytest.raises(BackupError, match=message):
        backup_sqlite(live, tmp_path / where, force=True)
    assert rows(live) == 1000 and sorted(path.name for path in live.parent.iterdir())[0] == 'flowmon.db'


def test_a_missing_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match='there is no database at'):
        backup_sqlite(tmp_path / 'absent.db', tmp_path / 'copy.db')
    assert not (tmp_path / 'copy.db').exists()


def test_the_database_file_comes_from_the_url(tmp_path: Path) -> None:
    assert sqlite_path(f'sqlite+aiosqlite:///{tmp_path}/flowmon.db') == tmp_path / 'flowmon.db'
    with pytest.raises(NotSQLite, match='pg_dump') as refused:
        sqlite_path('postgresql+asyncpg://flowmon:hunter2-secret@db.internal/flowmon')
    assert 'hunter2-secret' not in str(refused.value)
    with pytest.raises(BackupError, match='in memory'):
        sqlite_path('sqlite+aiosqlite:///:memory:')
