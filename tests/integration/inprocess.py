"""The REST API of a started system (engine, recorder, SQLite in a temporary dir), in-process via ASGI: the app,
clients with and without the bearer token, and the calls many API tests make (put a workflow, start a run, wait
until its summary says something). Fixtures on top of these are in tests/integration/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from waiting import until

from flowmon.api import install_api
from flowmon.bootstrap import System

TERMINAL = frozenset({'succeeded', 'failed', 'cancelled', 'interrupted'})


def api_app(system: System) -> FastAPI:
    """A bare FastAPI app with flowmon's REST API on it (no perimeter middleware, no pages)."""
    app = FastAPI()
    install_api(app, system.application)
    return app


def api_client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    """A client of ``app`` in this process; with the bearer ``token`` if given. Use it with ``async with``."""
    headers = {'Authorization': f'Bearer {token}'} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://flowmon', headers=headers)


async def put(client: httpx.AsyncClient, workflow: dict[str, Any]) -> None:
    response = await client.put(f'/api/workflows/{workflow["id"]}', json=workflow)
    assert response.status_code in (200, 201), response.text


async def start(client: httpx.AsyncClient, workflow_id: str, body: Any = None) -> str:
    response = await client.post(f'/api/workflows/{workflow_id}/executions', json=body)
    assert response.status_code == 202, response.text
    return str(response.json()['id'])


def ended(summary: dict[str, Any]) -> bool:
    return summary['status'] in TERMINAL


async def wait_for(
    client: httpx.AsyncClient, execution_id: str, done: Callable[[dict[str, Any]], bool] = ended
) -> dict[str, Any]:
    """Poll GET /api/executions/{id} until ``done(summary)``; the summary."""
    seen: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        response = await client.get(f'/api/executions/{execution_id}')
        assert response.status_code == 200, response.text
        seen.update(response.json())
        return dict(seen) if done(seen) else None

    return await until(reached, f'execution {execution_id} to reach the state awaited', seen=lambda: seen)


async def run(client: httpx.AsyncClient, workflow: dict[str, Any], body: Any = None) -> str:
    """Put ``workflow``, start it with ``body`` and wait until it ended; its id."""
    await put(client, workflow)
    execution_id = await start(client, workflow['id'], body)
    await wait_for(client, execution_id)
    return execution_id
