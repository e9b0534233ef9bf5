"""Debian's Chromium as the e2e tests and the UI benchmark drive it (sync Playwright): where it is, and its flags.

Importable from every test directory (tests/ is on the path through tests/conftest.py; bench/ adds it itself).
"""

from __future__ import annotations

import shutil

# headless, no sandbox (root in a container), nothing that phones home or updates itself
CHROMIUM_ARGS = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--no-first-run',
    '--metrics-recording-only',
    '--disable-quic',
]


def chromium_path() -> str:
    """The Chromium executable (``make chromium`` installs Debian's)."""
    return shutil.which('chromium') or '/usr/bin/chromium'
