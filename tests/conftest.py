"""Fixtures shared by the in-process test layers: settings on a temporary data dir, a started database, and a
started system (the composition root: infrastructure plus the application layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowmon.bootstrap import System
from flowmon.settings import Settings, load_settings
from flowmon.store import Database

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_WORKFLOWS = REPO_ROOT / 'data' / 'workflows'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the data dir (SQLite file, secrets) under ``tmp_path`` and the shipped example workflows."""
    return load_settings({'FLOWMON_DATA_DIR': str(tmp_path / 'data'), 'FLOWMON_WORKFLOWS_DIR': str(EXAMPLE_WORKFLOWS)})


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A started database (schema created) in the temporary data dir; disposed after the test."""
    db = Database(settings.db_url)
    await db.start()
    try:
        yield db
    finally:
        await db.stop()


@pytest.fixture
def token() -> str:
    """The access token of :func:`system` (override the fixture to choose another)."""
    return 'test-token'


@pytest.fixture
async def system(settings: Settings, token: str) -> AsyncIterator[System]:
    """A started flowmon without the web layer: its ``application`` is what routes and pages are given."""
    system = System.build(settings, token=token)
    await system.start()
    try:
        yield system
    finally:
        await system.stop()
