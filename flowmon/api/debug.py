"""``GET /api/debug/clients``: how many browser clients and bus subscribers exist right now.

Tests use it to prove that closing a tab releases everything (the counts return to their baseline); it is left
out of ``/openapi.json``.
It is the one API module that imports NiceGUI, because the client registry lives there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends
from nicegui import Client

from .dependencies import Live


async def get_clients(live: Live) -> dict[str, Any]:
    """Connected (and not yet pruned) NiceGUI clients, and subscribers of the event bus."""
    return {'clients': len(Client.instances), 'bus_subscribers': live.bus_subscribers}


def install_debug_routes(app: FastAPI, dependencies: Sequence[Depends]) -> None:
    """Add the route directly to ``app``: an included router would nest the app's lifespan once more on every
    install, which the in-process test layer (one global app, many installs) cannot afford."""
    app.add_api_route(
        '/api/debug/clients',
        get_clients,
        methods=['GET'],
        tags=['debug'],
        dependencies=dependencies,
        include_in_schema=False,  # for tests, not part of the API a client is generated from
    )
