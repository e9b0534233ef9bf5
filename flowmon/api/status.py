"""``GET /api/status``: version, uptime, database, recorder backlog, loop lag, clients, timers and retention."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .dependencies import Status

router = APIRouter(prefix='/api', tags=['operations'])


@router.get('/status')
async def get_status(status: Status) -> dict[str, Any]:
    """How this flowmon process is doing (see README, Operations: Status). ``/api/health`` is the cheap probe."""
    return await status.report()
