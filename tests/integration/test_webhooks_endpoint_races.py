"""An endpoint deleted while another request works on it: 404, never a 500.

Found by the fuzz run (make fuzz): rotating, patching or enabling an endpoint checked the in-memory copy, then wrote
or read its row; a DELETE committed in between left ``KeyError`` or ``NoResultFound``, answered 500.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete
from webhook_app import App, running_app

from flowmon.store.webhook_tables import endpoints

ENDPOINT = {'url': 'https://hooks.example.com/in', 'event_types': ['execution.failed']}
OPERATIONS = [
    ('PATCH', '', {'description': 'changed'}),
    ('PATCH', '', {'enabled': False}),
    ('POST', '/enable', None),
    ('POST', '/disable', None),
    ('GET', '/secret', None),
    ('POST', '/secret/rotate', None),
]


async def create_endpoint(app: App) -> str:
    response = await app.api.post('/api/webhooks/endpoints', json=ENDPOINT)
    assert response.status_code == 201, response.text
    return str(response.json()['id'])


@pytest.mark.parametrize(('method', 'suffix', 'body'), OPERATIONS)
async def test_an_endpoint_deleted_after_the_check_is_404(
    tmp_path: Path, method: str, suffix: str, body: dict[str, object] | None
) -> None:
    async with running_app(tmp_path) as app:
        endpoint_id = await create_endpoint(app)
        if suffix == '/enable':
            assert (await app.api.post(f'/api/webhooks/endpoints/{endpoint_id}/disable')).status_code == 200
        # the row goes, the in-memory copy still has it: what a DELETE committed mid-request looks like
        async with app.system.db.engine.begin() as conn:
            await conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))

        response = await app.api.request(method, f'/api/webhooks/endpoints/{endpoint_id}{suffix}', json=body)

        assert response.status_code == 404, response.text
        assert response.json()['detail'] == f'webhook endpoint {endpoint_id!r} not found'


async def test_concurrent_changes_and_deletes_of_an_endpoint_never_fail(tmp_path: Path) -> None:
    """The fuzz run's reproduction: four rotations, four deletes and four patches of one endpoint at once."""
    async with running_app(tmp_path) as app:
        for _ in range(5):
            endpoint_id = await create_endpoint(app)
            path = f'/api/webhooks/endpoints/{endpoint_id}'
            responses = await asyncio.gather(
                *[app.api.post(f'{path}/secret/rotate') for _ in range(4)],
                *[app.api.delete(path) for _ in range(4)],
                *[app.api.patch(path, json={'description': 'd'}) for _ in range(4)],
            )
            statuses = [response.status_code for response in responses]
            assert set(statuses) <= {200, 204, 404}, [(r.status_code, r.text[:200]) for r in responses]
            assert statuses[4:8].count(204) == 1  # exactly one delete found it
            assert (await app.api.get(path)).status_code == 404
