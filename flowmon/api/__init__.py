"""The REST API, mounted on NiceGUI's FastAPI app. Every route but ``/api/health`` needs the token, and so does
``/metrics`` unless ``FLOWMON_METRICS_PUBLIC`` is set.

Routes are thin adapters: they take the use cases they need as dependencies (:mod:`.dependencies`), translate
HTTP to a call and the result back to JSON (:mod:`flowmon.application.views`); every refusal is an application
error that :mod:`.errors` answers with its status code, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from flowmon.application import Application

from .auth import require_token
from .debug import install_debug_routes
from .dependencies import STATE_KEY, App, known_ids, trigger_address
from .error_docs import document_errors
from .errors import install_error_handlers
from .exchange import EXPORT_BODY
from .exchange import router as exchange_router
from .executions import router as execution_router
from .hooks import automation_router, hook_router
from .metrics import MetricsRender, install_metrics_route
from .params import one_value_each
from .saved_views import router as view_router
from .secrets import router as secret_router
from .status import router as status_router
from .streams import router as stream_router
from .webhooks import router as webhook_router
from .workflows import DEFINITION_BODY
from .workflows import router as workflow_router

health = APIRouter(prefix='/api', tags=['health'])


@health.get('/health', responses={503: {'description': 'still starting'}})
async def get_health(application: App) -> JSONResponse:
    if not application.is_ready:
        return JSONResponse({'status': 'starting'}, status_code=503)
    return JSONResponse({'status': 'ok'})


async def started(application: App) -> None:
    if not await application.wait_ready():
        raise HTTPException(503, 'flowmon is still starting; try again shortly')


def install_api(
    app: FastAPI, application: Application, *, metrics: MetricsRender | None = None, metrics_public: bool = False
) -> None:
    """Put ``application`` where the routes' dependencies find it and add every route and error handler;
    ``metrics`` renders ``GET /metrics`` (token required unless ``metrics_public``)."""
    setattr(app.state, STATE_KEY, application)
    _describe_bodies_when_asked(app)
    single = Depends(one_value_each)  # on every route, after the others: a query parameter given twice is refused
    ready = [Depends(started)]
    guard = [*ready, Depends(require_token), Depends(known_ids), single]
    _include(app, health, dependencies=[single])
    for router in (workflow_router, execution_router, exchange_router, webhook_router, automation_router):
        _include(app, router, dependencies=guard)
    _include(app, secret_router, dependencies=guard)
    _include(app, view_router, dependencies=guard)
    _include(app, status_router, dependencies=guard)
    _include(app, stream_router, dependencies=guard)
    # public: the signature authenticates
    _include(app, hook_router, dependencies=[*ready, Depends(trigger_address), single])
    install_debug_routes(app, guard)
    if metrics is not None:
        install_metrics_route(app, metrics, [*ready, single] if metrics_public else guard)
    install_error_handlers(app)
    document_errors(app)


def _include(app: FastAPI, router: APIRouter, **options: Any) -> None:
    """``include_router`` without nesting the app's lifespan in another layer: FastAPI merges the router's
    (empty) lifespan into the app's on every include, and the in-process test layer installs the API into the
    one global app for every test, until the nested lifespans exceed Python's recursion limit."""
    lifespan = app.router.lifespan_context
    app.include_router(router, **options)
    app.router.lifespan_context = lifespan


BODIES_MARK = '_flowmon_describes_bodies'


def _describe_bodies_when_asked(app: FastAPI) -> None:
    """The schemas of a definition's and an export's body in ``/openapi.json`` are built from the node types (about
    25 ms, which every start spent when they were built here): they are built when the document is first made, from
    the application installed then (once per app)."""
    if getattr(app, BODIES_MARK, False):
        return
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            application: Application = getattr(app.state, STATE_KEY)
            DEFINITION_BODY['schema'] = application.workflows.definition_schema()
            EXPORT_BODY['schema'] = application.exchange.document_schema()
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]
    setattr(app, BODIES_MARK, True)


__all__ = ['install_api']
