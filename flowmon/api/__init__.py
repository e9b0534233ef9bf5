"""The REST API, mounted on NiceGUI's FastAPI app. Every route but ``/api/health`` needs the token, and so does
``/metrics`` unless ``FLOWMON_METRICS_PUBLIC`` is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from flowmon.services import Services

from .auth import bearer_guard
from .debug import install_debug_routes
from .errors import install_error_handlers
from .exchange import exchange_routes
from .executions import execution_routes
from .hooks import automation_routes, hook_routes
from .metrics import install_metrics_route
from .secrets import secret_routes
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

    ready = [Depends(started)]
    guard = [*ready, Depends(bearer_guard(services.token))]
    _include(app, health)
    _include(app, workflow_routes(services), dependencies=guard)
    _include(app, execution_routes(services), dependencies=guard)
    _include(app, exchange_routes(services), dependencies=guard)
    _include(app, webhook_routes(services), dependencies=guard)
    _include(app, automation_routes(services), dependencies=guard)
    _include(app, secret_routes(services), dependencies=guard)
    # public: the webhook signature is the authentication
    _include(app, hook_routes(services), dependencies=ready)
    install_debug_routes(app, services, guard)
    install_metrics_route(app, services.prometheus.render, ready if services.settings.metrics_public else guard)
    install_error_handlers(app)


def _include(app: FastAPI, router: APIRouter, **options: Any) -> None:
    """``include_router`` without nesting the app's lifespan in another layer: FastAPI merges the router's
    (empty) lifespan into the app's on every include, and the in-process test layer installs the API into the
    one global app for every test, until the nested lifespans exceed Python's recursion limit."""
    lifespan = app.router.lifespan_context
    app.include_router(router, **options)
    app.router.lifespan_context = lifespan


__all__ = ['install_api']
