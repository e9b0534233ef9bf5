"""Debian's Chromium as the e2e tests and the UI benchmark drive it (sync Playwright): where it is, and its flags.

The e2e tests drive Debian's headless shell of the same Chromium (package ``chromium-headless-shell``, the old
headless mode, which Playwright itself uses for headless runs): the same engine without the browser's own layers.
The whole browser phase took 18% less CPU with it than with ``chromium --headless=new`` (527 s against 644 s, the
same 79 tests, on a 2-core machine), which is most of what that phase costs. The UI benchmark keeps the whole browser
(:func:`chromium_path`), since it measures what a visitor's browser does.

Importable from every test directory (tests/ is on the path through tests/conftest.py; bench/ adds it itself).
"""

from __future__ import annotations

import shutil
from pathlib import Path

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


HEADLESS_SHELL = Path('/usr/lib/chromium/chromium-headless-shell')
# the shell is headless only: the browser's --headless=new is not its flag
HEADLESS_SHELL_ARGS = [arg for arg in CHROMIUM_ARGS if not arg.startswith('--headless')]


def chromium_path() -> str:
    """The Chromium executable (``make chromium`` installs Debian's)."""
    return shutil.which('chromium') or '/usr/bin/chromium'


def headless_shell_path() -> str:
    """Chromium's headless shell, which the e2e tests drive (``make chromium`` installs Debian's package)."""
    if not HEADLESS_SHELL.is_file():
        raise RuntimeError(f'{HEADLESS_SHELL} is missing: `make chromium` installs it (chromium-headless-shell)')
    return str(HEADLESS_SHELL)
