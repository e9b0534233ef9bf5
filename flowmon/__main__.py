"""``python -m flowmon <command>``: maintenance commands.

Each command is a subparser with a ``handler(args, settings) -> exit code``; settings come from the same
``FLOWMON_*`` variables as the server, so a command works on the data directory and database the server uses.
Commands that change the database take the data directory's lock and refuse while flowmon runs; ``backup`` only
reads, and is meant to run while flowmon does.

- ``rotate-secret-key [--new-key KEY]``: re-encrypt every stored secret with a new key.
- ``db upgrade [REVISION]``, ``db current``, ``db history``: the schema's Alembic revisions (start-up runs
  ``upgrade head`` itself; the commands are for operators who migrate ahead of a start or want to look).
- ``backup PATH [--force]``: a consistent copy of the SQLite database, taken while flowmon runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from flowmon.infra.private_files import PRIVATE_UMASK, make_private
from flowmon.infra.secretbox import UnsealError, decode_key, encode_key, key_id
from flowmon.settings import Settings, SettingsError, load_settings
from flowmon.store import Database, migrate
from flowmon.store.backup import BackupError, backup_sqlite, sqlite_path
from flowmon.store.keys import DataDirBusy, SecretKeyError, hold_data_dir
from flowmon.store.rotation import rotate_secret_key

Handler = Callable[[argparse.Namespace, Settings], int]
T = TypeVar('T')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m flowmon',
        description='flowmon maintenance commands (configured by the same FLOWMON_* variables as the server).',
    )
    commands = _subcommands(parser, 'command')
    rotate = _command(
        commands,
        'rotate-secret-key',
        _rotate_secret_key,
        help='re-encrypt every stored secret with a new key (flowmon must be stopped)',
    )
    rotate.add_argument(
        '--new-key',
        metavar='KEY',
        help='the new key: 32 bytes in urlsafe base64; "-" reads it from standard input. Generated when absent.',
    )
    backup = _command(
        commands,
        'backup',
        _backup,
        help='write a consistent copy of the SQLite database (safe while flowmon runs)',
    )
    backup.add_argument('path', metavar='PATH', help='the file to write')
    backup.add_argument('--force', action='store_true', help='replace PATH if it exists')
    _add_db_commands(commands)
    return parser


def _subcommands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return parser.add_subparsers(dest=dest, required=True, metavar='command')


def _group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, help: str, description: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The sub-command ``name`` with sub-commands of its own (which it names in ``<name>_command``)."""
    return _subcommands(commands.add_parser(name, help=help, description=description), f'{name}_command')


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    *,
    help: str,
) -> argparse.ArgumentParser:
    """The sub-command ``name``, run by ``handler``; the handler's docstring is its description."""
    command = commands.add_parser(name, help=help, description=handler.__doc__)
    command.set_defaults(handler=handler)
    return command


def _add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db_commands = _group(
        commands,
        'db',
        help='the database schema: upgrade, current revision, history',
        description='The schema is versioned with Alembic revisions shipped in flowmon; start-up runs "upgrade head".',
    )
    upgrade = _command(
        db_commands,
        'upgrade',
        _db_upgrade,
        help='upgrade the schema to REVISION (default: head); flowmon must be stopped',
    )
    upgrade.add_argument('revision', nargs='?', default='head', metavar='REVISION', help='a revision id, or head')
    _command(db_commands, 'current', _db_current, help='print the revision the database is at, or none')
    _command(db_commands, 'history', _db_history, help='list the revisions this flowmon knows, newest first')


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f'flowmon: invalid configuration: {exc}', file=sys.stderr)
        return 2
    handler: Handler = args.handler
    return handler(args, settings)


def _rotate_secret_key(args: argparse.Namespace, settings: Settings) -> int:
    """Generate a new secret key (or take --new-key), re-encrypt every sealed value in one transaction, then replace
    <data dir>/.secret_key. With FLOWMON_SECRET_KEY set, nothing is written to disk: the new key is printed, and
    FLOWMON_SECRET_KEY must be set to it before the next start. Refuses while flowmon runs."""
    new = None
    if args.new_key is not None:
        text = sys.stdin.readline() if args.new_key == '-' else args.new_key
        try:
            new = decode_key(text)
        except ValueError as exc:
            print(f'flowmon: --new-key: {exc}', file=sys.stderr)
            return 2
    from_environment = settings.secret_key is not None

    def announce(key: bytes) -> None:  # before the database changes: the key is never lost to a crash
        if from_environment:
            print(f'New secret key (key id {key_id(key)}); set FLOWMON_SECRET_KEY to it before flowmon starts again:')
            print(encode_key(key), flush=True)

    try:
        rotation = asyncio.run(rotate_secret_key(settings, new=new, announce=announce))
    except (DataDirBusy, SecretKeyError, UnsealError) as exc:
        print(f'flowmon: rotate-secret-key failed, nothing was changed: {exc}', file=sys.stderr)
        if from_environment:
            print('flowmon: keep FLOWMON_SECRET_KEY as it is', file=sys.stderr)
        return 1
    print(
        f'Re-encrypted {rotation.resealed} secret value(s): key id {rotation.old_key_id} -> {rotation.new_key_id}.',
        flush=True,
    )
    if from_environment:
        print('Now set FLOWMON_SECRET_KEY to the new key printed above; the old key no longer opens the database.')
    else:
        print(f'The new key is in {settings.data_dir / ".secret_key"}; the old key was removed.')
    return 0


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the database in FLOWMON_DATABASE_URL (default <data dir>/flowmon.db) to PATH with SQLite's online backup
    API, while flowmon keeps running: a snapshot of one moment, written to a temporary file (mode 0600) and renamed
    to PATH. The secret key (<data dir>/.secret_key or FLOWMON_SECRET_KEY) is not in the copy: back it up
    separately."""
    try:
        source = sqlite_path(settings.db_url)
    except BackupError as exc:  # not SQLite (use pg_dump), or no file
        print(f'flowmon: backup: {exc}', file=sys.stderr)
        return 2
    os.umask(PRIVATE_UMASK)  # SQLite may create the live database's -shm beside it: the user's alone
    try:
        result = backup_sqlite(source, Path(args.path), force=args.force)
    except (BackupError, OSError) as exc:
        print(f'flowmon: backup failed, nothing was written: {exc}', file=sys.stderr)
        return 1
    print(f'Backed up {source} to {result.path}: {result.pages} pages, {result.bytes} bytes in {result.seconds:.1f} s.')
    print('The secret key is not in the backup; keep a copy of it apart (see README, Operations).')
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the revisions up to REVISION (default: head, the newest) in one transaction: all or nothing. A database
    made before migrations is adopted first (what it lacks is added, then it is stamped with the baseline). Prints
    what it did. Refuses while flowmon runs."""
    os.umask(PRIVATE_UMASK)  # a database created here is as private as one the server creates
    try:
        make_private(settings.data_dir)
        hold_data_dir(settings.data_dir)
        report = asyncio.run(_on_database(settings, lambda db: db.upgrade(args.revision)))
    except (DataDirBusy, migrate.SchemaError, SQLAlchemyError, OSError) as exc:
        print(f'flowmon: db upgrade failed, nothing was changed: {exc}', file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def _db_current(_args: argparse.Namespace, settings: Settings) -> int:
    try:
        revision = asyncio.run(_on_database(settings, lambda db: db.revision()))
    except (migrate.SchemaError, SQLAlchemyError, OSError) as exc:
        print(f'flowmon: db current failed: {exc}', file=sys.stderr)
        return 1
    print(_revision_label(revision))
    return 0


def _db_history(_args: argparse.Namespace, _settings: Settings) -> int:
    for revision in migrate.history():
        print(f'{_revision_label(revision.id)}: {revision.message}')
    return 0


def _revision_label(revision: str | None) -> str:
    if revision is None:
        return 'none'
    return f'{revision} (head)' if revision == migrate.head() else revision


async def _on_database(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    database = Database(settings.db_url)
    try:
        return await action(database)
    finally:
        await database.stop()


if __name__ == '__main__':
    raise SystemExit(main())
