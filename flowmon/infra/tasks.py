"""Stopping a background task: cancel it and wait until it has ended."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (nothing when None) and wait until it has ended; its cancellation is not raised here.

    Waiting matters: a task that is only cancelled may still be running its ``finally`` blocks when the caller
    goes on to close what the task uses (a connection, a subscription).
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
