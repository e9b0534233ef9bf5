"""The engine stands alone: importing it pulls in neither the web layer nor SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ('nicegui', 'sqlalchemy', 'sqlmodel', 'aiosqlite', 'fastapi')
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import flowmon.engine
import flowmon.engine.runtime.projector
print(json.dumps(sorted(sys.modules)))
"""


def test_engine_imports_no_web_or_sql_modules() -> None:
    result = subprocess.run(
        [sys.executable, '-c', SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert 'flowmon.engine' in modules
    offending = sorted(name for name in modules if name.split('.')[0] in FORBIDDEN)
    assert offending == [], f'importing flowmon.engine loaded {offending}'
