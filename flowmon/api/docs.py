"""``/docs``: Swagger UI served from flowmon itself (no CDN), over ``/openapi.json``.

FastAPI's default docs page loads Swagger UI's script and styles from a public CDN into flowmon's origin, where
that script could read everything a signed-in page can. The assets come from the ``swagger-ui-bundle-v2``
package instead; the Content-Security-Policy then keeps every request on this origin.
"""

from __future__ import annotations

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from nicegui import App
from swagger_ui_bundle import swagger_ui_path

TITLE = 'flowmon API'
ASSETS = '/_docs'


def install_docs(app: App) -> None:
    """``/openapi.json``, ``/docs`` and the assets under ``/_docs/``; call before ``ui.run`` (no ``fastapi_docs``)."""
    app.title = TITLE
    app.openapi_url = '/openapi.json'
    app.setup()  # adds /openapi.json (docs_url and redoc_url stay None)
    if not any(getattr(route, 'path', '').startswith(f'{ASSETS}/') for route in app.routes):
        app.add_static_files(ASSETS, swagger_ui_path)
    for route in app.routes:  # Swagger UI's files are no operation of the API
        if isinstance(route, APIRoute) and route.path.startswith(f'{ASSETS}/'):
            route.include_in_schema = False

    @app.get('/docs', include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url='/openapi.json',
            title=TITLE,
            swagger_js_url=f'{ASSETS}/swagger-ui-bundle.js',
            swagger_css_url=f'{ASSETS}/swagger-ui.css',
            swagger_favicon_url=f'{ASSETS}/favicon-32x32.png',
        )
