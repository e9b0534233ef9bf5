"""Functions for flowmon's ``python`` node type (``{"callable": "flowmon_demo_nodes.work:spin"}``), allowed with
``FLOWMON_PYTHON_MODULES=flowmon_demo_nodes``. Each is called with the node's input and returns its output."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import Any


def _number(input: Mapping[str, Any], name: str, default: float) -> float:
    execution_input = input.get('input')
    value = execution_input.get(name, default) if isinstance(execution_input, Mapping) else default
    return float(value)


def spin(input: Mapping[str, Any]) -> dict[str, Any]:
    """Compute for ``seconds`` of CPU time (execution input, default 0.25): a stand-in for CPU-bound work."""
    seconds = _number(input, 'seconds', 0.25)
    start = time.process_time()
    rounds = 0
    while time.process_time() - start < seconds:
        for _ in range(10_000):
            rounds += 1
    return {'rounds': rounds, 'pid': os.getpid()}


async def pause(input: Mapping[str, Any]) -> dict[str, Any]:
    """An async function: wait ``seconds`` (execution input, default 0.1), then echo the execution input."""
    await asyncio.sleep(_number(input, 'seconds', 0.1))
    return {'echo': input.get('input'), 'pid': os.getpid()}
