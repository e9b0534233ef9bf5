"""Installing the API must not wrap the app's lifespan once more each time (the UI test layer installs it into
NiceGUI's one global app for every test)."""

from __future__ import annotations

from typing import cast
from unittest.mock import MagicMock

from fastapi import FastAPI

from flowmon.api import install_api
from flowmon.application import Application


def test_installing_the_api_keeps_the_apps_lifespan() -> None:
    app = FastAPI()
    lifespan = app.router.lifespan_context
    application = cast(Application, MagicMock(token='t'))  # the routes only reach it per request
    install_api(app, application)
    assert {'/api/health', '/api/workflows', '/api/executions/{execution_id}'} <= set(app.openapi()['paths'])
    install_api(app, application)
    install_api(app, application)
    assert app.router.lifespan_context is lifespan
