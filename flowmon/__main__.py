"""``python -m flowmon <command>``: maintenance commands, run with flowmon stopped.

Each command is a subparser with a ``handler(args, settings) -> exit code``; settings come from the same
``FLOWMON_*`` variables as the server, so a command works on the data directory and database the server uses.
Commands that change the database take the data directory's lock and refuse while flowmon runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from flowmon.infra.secretbox import UnsealError, decode_key, encode_key, key_id
from flowmon.settings import Settings, SettingsError, load_settings
from flowmon.store.keys import DataDirBusy, SecretKeyError
from flowmon.store.rotation import rotate_secret_key

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m flowmon',
        description='flowmon maintenance commands (configured by the same FLOWMON_* variables as the server).',
    )
    commands = parser.add_subparsers(dest='command', required=True, metavar='command')
    rotate = commands.add_parser(
        'rotate-secret-key',
        help='re-encrypt every stored secret with a new key (flowmon must be stopped)',
        description=(
            'Generate a new secret key (or take --new-key), re-encrypt every sealed value in one transaction, then '
            'replace <data dir>/.secret_key. With FLOWMON_SECRET_KEY set, nothing is written to disk: the new key '
            'is printed, and FLOWMON_SECRET_KEY must be set to it before the next start. Refuses while flowmon runs.'
        ),
    )
    rotate.add_argument(
        '--new-key',
        metavar='KEY',
        help='the new key: 32 bytes in urlsafe base64; "-" reads it from standard input. Generated when absent.',
    )
    rotate.set_defaults(handler=_rotate_secret_key)
    return parser


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


if __name__ == '__main__':
    raise SystemExit(main())
