"""A started flowmon (the system + REST API on a bare FastAPI app) for in-process webhook API tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from inprocess import api_app, api_client, wait_for
from quiet_examples import quiet_examples
from schema_template import seeded

from flowmon.bootstrap import System
from flowmon.settings import load_settings

TOKEN = 'webhook-test-token'


@dataclass
class App:
    system: System
    api: httpx.AsyncClient  # with the bearer token
    public: httpx.AsyncClient  # without it

    async def wait_settled(self, delivery_id: str, timeout: float = 10.0) -> dict[str, Any]:
        await asyncio.wait_for(self.system.application.deliveries.wait_settled(delivery_id), timeout)
        response = await self.api.get(f'/api/webhooks/deliveries/{delivery_id}')
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_execution(self, execution_id: str) -> dict[str, Any]:
        return await wait_for(self.api, execution_id)


@asynccontextmanager
async def running_app(tmp_path: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[App]:
    settings = load_settings(
        {
            'FLOWMON_DATA_DIR': str(tmp_path / 'data'),
            'FLOWMON_WORKFLOWS_DIR': str(quiet_examples()),
            'FLOWMON_OUTBOUND_ALLOW': '127.0.0.1',
            'FLOWMON_WEBHOOK_RETRY_SCHEDULE': '0,0.2,0.4',
            'FLOWMON_WEBHOOK_JITTER': '0',
            **(env or {}),
        }
    )
    system = System.build(seeded(settings), token=TOKEN)  # a copy of a database at head, as a restart finds it
    app = api_app(system)
    await system.start()
    try:
        async with api_client(app, TOKEN) as api, api_client(app) as public:
            yield App(system=system, api=api, public=public)
    finally:
        await system.stop()
