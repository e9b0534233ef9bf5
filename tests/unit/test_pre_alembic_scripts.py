"""The last schema before migrations, put together by :mod:`pre_alembic_scripts`, is the one captured from that
version: the migration tests that adopt it load exactly the SQL that version's ``create_all`` ran."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from migration_support import FIRST_VERSION
from pre_alembic_scripts import ADDED, PRE_ALEMBIC, last_release_script

# sha256 of last_release.sql as captured from the last version before migrations (commit 116b0e1)
CAPTURED_SHA256 = '80e1f803938ca121469c267fa9e9596c3e0a6771030d2ae5f8a012b61d2a79d5'


def test_the_last_release_script_is_the_captured_one_byte_for_byte() -> None:
    assert hashlib.sha256(last_release_script().encode('utf-8')).hexdigest() == CAPTURED_SHA256


def test_a_statement_left_out_of_the_creation_order_is_named(tmp_path: Path) -> None:
    for name in (FIRST_VERSION, ADDED):
        shutil.copy(PRE_ALEMBIC / f'{name}.sql', tmp_path)
    added = tmp_path / f'{ADDED}.sql'
    added.write_text(added.read_text(encoding='utf-8') + '\nCREATE INDEX ix_extra ON secrets (created_at);\n')
    with pytest.raises(AssertionError, match=r"statements missing from LAST_RELEASE_ORDER: \['ix_extra'\]"):
        last_release_script(tmp_path)
