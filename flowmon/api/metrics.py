"""``GET /metrics``: the process's Prometheus metrics in the text exposition format.

Prometheus scrapes with ``Authorization: Bearer <token>``: the perimeter refuses a missing or wrong token before the
route runs (and counts wrong ones with every other way in); ``FLOWMON_METRICS_PUBLIC=1`` opens the route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Response
from fastapi.params import Depends

from flowmon.perimeter.bearer_first import METRICS_PATH

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'  # Prometheus' text exposition format
MetricsRender = Callable[[], Awaitable[bytes]]  # the exposition text of the process's metrics


def install_metrics_route(app: FastAPI, render: MetricsRender, dependencies: Sequence[Depends]) -> None:
    """Add the route directly to ``app`` (as :mod:`.debug` does: no included router, no nested lifespan)."""

    async def get_metrics() -> Response:
        """Counters, histograms and gauges of this flowmon process (Prometheus text format 0.0.4)."""
        return Response(await render(), media_type=CONTENT_TYPE)

    app.add_api_route(
        METRICS_PATH,
        get_metrics,
        methods=['GET'],
        tags=['operations'],
        dependencies=dependencies,
        responses={200: {'content': {'text/plain': {}}, 'description': 'the metrics'}, 401: {}, 503: {}},
    )
