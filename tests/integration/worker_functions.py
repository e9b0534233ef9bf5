"""Functions for ``python`` nodes in the worker tests (``FLOWMON_PYTHON_MODULES=worker_functions``).

They run in worker processes (the local pool, Dask workers), which import this module by name: the tests put
this directory on the workers' ``sys.path`` (pytest already has it on its own; subprocesses get ``PYTHONPATH``).
Each takes the node's input; the execution input says what to do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def _args(input: dict[str, Any]) -> dict[str, Any]:
    value = input.get('input')
    return value if isinstance(value, dict) else {}


def hang_once(input: dict[str, Any]) -> dict[str, Any]:
    """The first call writes its pid to ``marker`` and computes until it is killed (or ``seconds`` pass); a call
    that finds the marker answers at once. So attempt 1 hangs and a retry succeeds."""
    args = _args(input)
    marker = Path(args['marker'])
    if marker.exists():
        return {'pid': os.getpid(), 'again': True}
    marker.write_text(str(os.getpid()), encoding='utf-8')
    deadline = time.monotonic() + float(args.get('seconds', 60))
    while time.monotonic() < deadline:  # computing: nothing a cancel could interrupt
        sum(range(10_000))
    return {'pid': os.getpid(), 'again': False}


def compute_then_mark(input: dict[str, Any]) -> dict[str, Any]:
    """Compute for ``seconds``, then write ``done`` (a file): shows whether a cancelled computation went on."""
    args = _args(input)
    deadline = time.monotonic() + float(args.get('seconds', 1))
    while time.monotonic() < deadline:
        sum(range(10_000))
    Path(args['done']).write_text(str(os.getpid()), encoding='utf-8')
    return {'pid': os.getpid()}


def fails(input: dict[str, Any]) -> None:
    """Raises an unexpected exception (its traceback reaches the event)."""
    raise ZeroDivisionError(f'cannot divide {_args(input).get("what", "this")} by zero')


def pid(input: dict[str, Any]) -> dict[str, Any]:
    """Where it ran, and the input it was given."""
    return {'pid': os.getpid(), 'got': input.get('input')}


def nul_output(input: dict[str, Any]) -> dict[str, Any]:
    """An output holding a NUL character (which no database column of PostgreSQL holds)."""
    return {'text': 'a\x00b'}


def nul_error(input: dict[str, Any]) -> None:
    """Fails with a message holding a NUL character."""
    raise ValueError('bad\x00byte')


def surrogate_output(input: dict[str, Any]) -> dict[str, Any]:
    """An output holding a lone surrogate (no UTF-8 bytes stand for it)."""
    return {'text': 'a\ud800'}


def surrogate_error(input: dict[str, Any]) -> None:
    """Fails with a message holding a lone surrogate."""
    raise ValueError('half \ud800 of a pair')
