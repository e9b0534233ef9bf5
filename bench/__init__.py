"""flowmon's benchmarks (``python -m bench``, ``make bench``).

They share the test support in tests/ that drives flowmon from outside (flowmon as a process, Chromium's flags):
tests/ goes on the import path here, as tests/conftest.py puts it there for the tests.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / 'tests')
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
