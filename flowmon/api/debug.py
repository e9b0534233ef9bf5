"""``GET /api/debug/clients``: how many browser clients and bus subscribers exist right now.

Tests use it to prove that closing a tab releases everything (the counts return to their baseline).
It is the one API module that imports NiceGUI, because the client registry lives there.
"""

from __future__ import annotations

from fastapi import APIRouter
from nicegui import Client

from flowmon.services import Services


def debug_routes(services: Services) -> APIRouter:
    router = APIRouter(prefix='/api/debug', tags=['debug'])

    @router.get('/clients')
    async def get_clients() -> dict[str, int]:
        """Connected (and not yet pruned) NiceGUI clients, and subscribers of the event bus."""
        return {'clients': len(Client.instances), 'bus_subscribers': services.bus.subscriber_count}

    return router
