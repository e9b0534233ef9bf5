"""Browser session files: those untouched for longer than a session lives are removed at start-up."""

from __future__ import annotations

import os
from pathlib import Path

from flowmon.perimeter.sessions import remove_expired_storage


def test_session_files_older_than_a_session_are_removed_at_start(tmp_path: Path) -> None:
    old, recent, other = (tmp_path / name for name in ('storage-user-a.json', 'storage-user-b.json', 'general.json'))
    for path in (old, recent, other):
        path.write_text('{}')
    os.utime(old, (1000.0, 1000.0))
    os.utime(recent, (5000.0, 5000.0))
    os.utime(other, (1000.0, 1000.0))
    assert remove_expired_storage(tmp_path, max_age_seconds=3600, now=1000.0 + 3601) == 1
    assert not old.exists() and recent.exists() and other.exists()
