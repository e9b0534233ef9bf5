"""Shared by the e2e tests: :func:`wait_for`, and the loopback webhook receiver of tests/integration.

The receiver module (``Receiver``, ``Reply``) is loaded by its path (tests/ is not a package, and tests/integration
is not on the e2e run's import path), once per process.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    'webhook_receiver', Path(__file__).resolve().parents[1] / 'integration' / 'webhook_receiver.py'
)
assert _spec is not None and _spec.loader is not None
_module = sys.modules.setdefault('webhook_receiver', importlib.util.module_from_spec(_spec))
if not hasattr(_module, 'Receiver'):
    _spec.loader.exec_module(_module)
Receiver, Reply = _module.Receiver, _module.Reply


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` every 0.1 s until it returns something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.1)
