"""The secret key: from ``FLOWMON_SECRET_KEY``, or generated into ``<data dir>/.secret_key``; and its rotation.

Rotation (``python -m flowmon rotate-secret-key``) is written so that a crash at any step leaves a database that
the key files open:

1. the new key is written to ``.secret_key.new`` (created exclusively, 0600, flushed to disk);
2. every sealed value is sealed again with the new key, in one transaction;
3. the current key is copied to ``.secret_key.old``, then ``.secret_key.new`` atomically replaces ``.secret_key``;
4. ``.secret_key.old`` is removed.

Until step 4 the leftover files are part of the key ring (:func:`load_secret_box`), so flowmon starts whatever
step a crash interrupted; running the command again finishes the interrupted rotation with the key already in
``.secret_key.new``. With ``FLOWMON_SECRET_KEY`` no file is written: the command prints the new key before the
transaction, and the operator sets the variable to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from flowmon.infra.secretbox import SecretBox, decode_key, encode_key, new_key
from flowmon.settings import Settings, resolve_secret

KEY_FILE = '.secret_key'
PENDING_KEY_FILE = '.secret_key.new'  # the key a rotation is moving to
RETIRED_KEY_FILE = '.secret_key.old'  # the key a rotation moved from, until the new one is in place
LOCK_FILE = '.lock'

_held_locks: dict[Path, IO[str]] = {}


class SecretKeyError(RuntimeError):
    """A key file that is not a valid key, or a rotation that cannot proceed; ``str()`` is one line."""


class DataDirBusy(RuntimeError):
    """Another process (a running flowmon, or a rotation) holds the data directory."""


def load_secret_box(settings: Settings) -> SecretBox:
    """The key ring flowmon runs with: the current key (given, or the key file, created on first start) plus the
    keys of a rotation that did not finish."""
    if settings.secret_key is not None:
        return SecretBox(decode_key(settings.secret_key.get_secret_value()))
    data_dir = settings.data_dir
    text = resolve_secret(data_dir, KEY_FILE, None, generate=lambda: encode_key(new_key()))
    current = _decode_file(data_dir / KEY_FILE, text)
    return SecretBox(current, *leftover_keys(data_dir))


def leftover_keys(data_dir: Path) -> list[bytes]:
    """Keys of a rotation that was interrupted (``.secret_key.new``, ``.secret_key.old``), newest first."""
    keys = []
    for name in (PENDING_KEY_FILE, RETIRED_KEY_FILE):
        path = data_dir / name
        if path.exists():
            keys.append(read_key_file(path))
    return keys


def write_key_file(path: Path, key: bytes, *, exclusive: bool) -> None:
    """Write ``key`` with mode 0600 and flush it to disk (``exclusive``: fail if the file exists)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(encode_key(key) + '\n')
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o600)


def pending_key(data_dir: Path) -> bytes | None:
    """The key an interrupted rotation was moving to, if any."""
    path = data_dir / PENDING_KEY_FILE
    return read_key_file(path) if path.exists() else None


def install_pending_key(data_dir: Path) -> None:
    """Steps 3 and 4 of a rotation: the pending key becomes the key file; the previous key file goes."""
    current, pending, retired = data_dir / KEY_FILE, data_dir / PENDING_KEY_FILE, data_dir / RETIRED_KEY_FILE
    if current.exists():
        write_key_file(retired, read_key_file(current), exclusive=False)
    os.replace(pending, current)
    _fsync_dir(data_dir)
    retired.unlink(missing_ok=True)
    _fsync_dir(data_dir)


def hold_data_dir(data_dir: Path) -> None:
    """Take the data directory's lock for the life of this process (flowmon itself, or a maintenance command);
    raises :class:`DataDirBusy` when another process holds it. Taking it again in the same process is a no-op."""
    path = (data_dir / LOCK_FILE).resolve()
    if path in _held_locks:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open('a', encoding='utf-8')
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirBusy(f'{data_dir} is in use by another process (a running flowmon?); stop it first') from None
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    _held_locks[path] = handle


def release_data_dir(data_dir: Path) -> None:
    handle = _held_locks.pop((data_dir / LOCK_FILE).resolve(), None)
    if handle is not None:
        handle.close()


def read_key_file(path: Path) -> bytes:
    """The key in ``path``; raises :class:`SecretKeyError` naming the file when it holds no valid key."""
    return _decode_file(path, path.read_text(encoding='utf-8'))


def _decode_file(path: Path, text: str) -> bytes:
    try:
        return decode_key(text)
    except ValueError as exc:
        raise SecretKeyError(f'{path}: {exc}') from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
