"""The REST API, mounted on NiceGUI's FastAPI app. Every route but ``/api/health`` needs the token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from flowmon.services import Services

from .auth import bearer_guard
from .debug import install_debug_routes
from .errors import install_error_handlers
from .exchange import exchange_routes
from .executions import execution_routes
from .hooks import automation_routes, hook_routes
from .webhooks import webhook_routes
from .workflows import workflow_routes


def install_api(app: FastAPI, services: Services) -> None:
    health = APIRouter(prefix='/api', tags=['health'])

    @health.get('/health', responses={503: {'description': 'still starting'}})
    async def get_health() -> JSONResponse:
        if not services.is_ready:
            return JSONResponse({'status': 'starting'}, status_code=503)
        return JSONResponse({'status': 'ok'})

    async def started() -> None:
        if not await services.wait_ready():
            raise HTTPException(503, 'flowmon is still starting; try again shortly')

    guard = [Depends(started), Depends(bearer_guard(services.token))]
    app.include_router(health)
    app.include_router(workflow_routes(services), dependencies=guard)
    app.include_router(execution_routes(services), dependencies=guard)
    app.include_router(exchange_routes(services), dependencies=guard)
    app.include_router(webhook_routes(services), dependencies=guard)
    app.include_router(automation_routes(services), dependencies=guard)
    # public: the webhook signature is the authentication
    app.include_router(hook_routes(services), dependencies=[Depends(started)])
    install_debug_routes(app, services, guard)
    install_error_handlers(app)


__all__ = ['install_api']
