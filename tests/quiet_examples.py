"""The shipped example workflows (``data/workflows``) without their cron schedules, for the tests that load them.

A schedule fires on its own: the morning digest runs at 07:00 UTC on weekdays, and a run of its own landing in a
test that counts runs, lists every execution or listens to every event would fail that test at that minute. The
tests that are about the examples' schedule (``tests/integration/test_examples_process.py``) load the real directory.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / 'data' / 'workflows'

_made: Path | None = None


def quiet_examples() -> Path:
    """A directory (one per test process, removed at its exit) with every example, its ``schedule`` left out."""
    global _made
    if _made is None:
        made = Path(tempfile.mkdtemp(prefix='flowmon-examples-'))
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        for path in EXAMPLES.iterdir():
            if path.suffix == '.json':
                definition = json.loads(path.read_text(encoding='utf-8'))
                definition.pop('schedule', None)
                (made / path.name).write_text(json.dumps(definition, indent=2), encoding='utf-8')
            elif path.is_file():
                if 'schedule' in path.read_text(encoding='utf-8'):
                    raise AssertionError(f'{path.name}: a schedule in a YAML example; leave it out here as well')
                shutil.copy(path, made / path.name)
        _made = made
    return _made
