"""The REST API, mounted on NiceGUI's FastAPI app. Every route but ``/api/health`` needs the token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from flowmon.services import Services

from .auth import bearer_guard
from .errors import install_error_handlers
from .executions import execution_routes
from .workflows import workflow_routes


def install_api(app: FastAPI, services: Services) -> None:
    health = APIRouter(prefix='/api', tags=['health'])

    @health.get('/health')
    async def get_health() -> dict[str, str]:
        return {'status': 'ok'}

    guard = [Depends(bearer_guard(services.token))]
    app.include_router(health)
    app.include_router(workflow_routes(services), dependencies=guard)
    app.include_router(execution_routes(services), dependencies=guard)
    install_error_handlers(app)


__all__ = ['install_api']
