"""The data directory is private to the user running flowmon: the directory 0700, the files in it 0600.

It holds the database (webhook and trigger secrets, every execution's data), the access token and the
session-signing secret. :func:`make_private` is called once at start-up, after ``os.umask(0o077)`` has made
every new file private; it also tightens what an earlier version (or an umask of 022) left readable.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_SUBDIRS = ('storage',)  # NiceGUI's per-browser storage

log = logging.getLogger(__name__)


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) if missing; chmod it, its files and :data:`PRIVATE_SUBDIRS` to owner-only.

    Only flowmon's own files are touched: the top-level files (database and its ``-wal``/``-shm``, ``.token``,
    ``.storage_secret``, ...) and the storage directory; a workflows directory inside is left as it is.
    """
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _chmod(data_dir, DIR_MODE)
    for directory in (data_dir, *(data_dir / name for name in PRIVATE_SUBDIRS)):
        if directory is not data_dir and directory.is_dir():
            _chmod(directory, DIR_MODE)
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file() and not path.is_symlink():
                    _chmod(path, FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)
    except OSError as exc:  # not ours (another owner) or gone: say so, do not stop
        log.warning('could not make %s private (mode %o): %s', path, mode, exc)
