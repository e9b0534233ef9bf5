"""The application layer: the use cases that the REST API and the pages both call.

Each module holds the use cases of one concept (executions, bulk actions, history, exchange, live, workflows,
saved views, deliveries, endpoints, automation, secrets, dashboard, retention, status, streams, node statistics);
:class:`Application` holds one of each, built by the composition root (:mod:`flowmon.bootstrap`), and is all that
:mod:`flowmon.api` and :mod:`flowmon.web` are given. Use cases own their unit of work (a read flushes the recorder
first) and refuse with the errors of :mod:`.errors`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .automation import Automation
from .bulk import BulkActions
from .dashboard import Dashboard
from .deliveries import Deliveries
from .endpoints import Endpoints
from .exchange import Exchange
from .executions import Executions
from .history import ExecutionHistory
from .live import LiveView
from .retention import Retention
from .saved_views import SavedViews
from .secrets import Secrets
from .stats import NodeStatistics
from .status import Status
from .streams import EventStreams
from .workflows import Workflows


@dataclass(kw_only=True, eq=False)
class Application:
    """Every use case, and whether the parts beneath them have started."""

    token: str  # the access token: API callers send it, browsers sign in with it
    executions: Executions
    bulk: BulkActions  # cancel, rerun or delete many executions at once
    history: ExecutionHistory
    exchange: Exchange
    live: LiveView
    workflows: Workflows
    deliveries: Deliveries
    endpoints: Endpoints
    automation: Automation
    secrets: Secrets
    dashboard: Dashboard
    saved_views: SavedViews
    retention: Retention
    status: Status
    streams: EventStreams  # Server-Sent Events for other programs
    stats: NodeStatistics
    _ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def is_ready(self) -> bool:
        """True once start-up has finished (NiceGUI runs async start-up handlers in the background)."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until start-up has finished; False if it has not within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    def set_ready(self, ready: bool) -> None:
        """Called by the composition root when everything has started, and again as it stops."""
        if ready:
            self._ready.set()
        else:
            self._ready.clear()


__all__ = ['Application']
