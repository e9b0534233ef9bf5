"""``/api/secrets`` in-process (with another process sharing the database: a second store on the same file), and a
secret or an endpoint deleted while a workflow naming it is saved."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from flowmon.application.errors import Invalid
from flowmon.bootstrap import System
from flowmon.store.secrets import SecretStore


async def test_a_secret_another_process_created_a_moment_ago_can_be_deleted(
    system: System, client: httpx.AsyncClient
) -> None:
    """Each process keeps the secrets it read last until another's announcement is read: DELETE of a secret created
    through another process a moment before answered 404 'not found' and deleted nothing."""
    elsewhere = SecretStore(system.db, system.box)
    await elsewhere.load()
    await elsewhere.put('partner_token', 'sk-0123456789')

    assert (await client.delete('/api/secrets/partner_token')).status_code == 204
    gone = await client.delete('/api/secrets/partner_token')
    assert gone.status_code == 404 and gone.json()['detail'] == "secret 'partner_token' not found"
    await elsewhere.load()
    assert elsewhere.names() == frozenset()


async def test_deleting_a_secret_that_does_not_exist_reads_no_workflow(
    system: System, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a secret exists is asked first (one small read): a 404 does not read every stored workflow's
    definition to find who names it."""

    async def no_workflow_read() -> None:
        raise AssertionError('the workflows were read for a secret that does not exist')

    monkeypatch.setattr(system.catalog, 'all', no_workflow_read)
    gone = await client.delete('/api/secrets/never_was')
    assert gone.status_code == 404 and gone.json()['detail'] == "secret 'never_was' not found"


ROUNDS = 12  # (before, both requests succeeded in nearly every round)
ENDPOINT = {'url': 'https://hooks.example.com/in', 'event_types': ['execution.failed']}


async def test_a_secret_or_endpoint_deleted_while_a_workflow_naming_it_is_saved_is_never_both(
    system: System, client: httpx.AsyncClient
) -> None:
    """A DELETE of a secret (or a webhook endpoint) and a PUT of a workflow naming it, at once: one of them is
    refused, never both done (the workflow stored naming what no longer exists, failing every run)."""
    endpoint = await client.post('/api/webhooks/endpoints', json=ENDPOINT)
    assert endpoint.status_code == 201, endpoint.text
    for n in range(ROUNDS):
        endpoint_id = endpoint.json()['id'] if n % 2 else None
        if endpoint_id is None:
            name = f'token_{n}'
            assert (await client.put(f'/api/secrets/{name}', json={'value': 'sk-0123456789'})).status_code in (200, 201)
            config: dict[str, object] = {'message': {'$secret': name}}
            node, deleting = {'id': 'say', 'type': 'log', 'config': config}, f'/api/secrets/{name}'
        else:
            node, deleting = {'id': 'send', 'type': 'webhook', 'config': {'endpoint': endpoint_id}}, None
        workflow = {'id': f'names-{n}', 'name': 'Names', 'nodes': [node], 'edges': []}
        path = deleting or f'/api/webhooks/endpoints/{endpoint_id}'
        deleted, saved = await asyncio.gather(
            client.delete(path), client.put(f'/api/workflows/names-{n}', json=workflow)
        )
        assert (deleted.status_code, saved.status_code) in ((409, 201), (204, 422)), (n, deleted.text, saved.text)
        if saved.status_code == 201:  # the workflow won: it stands, what it names too; then both go
            assert (await client.delete(f'/api/workflows/names-{n}')).status_code == 204
            assert (await client.delete(path)).status_code == 204
        else:
            assert 'unknown' in saved.json()['detail'], saved.text
        if endpoint_id is not None:
            endpoint = await client.post('/api/webhooks/endpoints', json=ENDPOINT)
            assert endpoint.status_code == 201, endpoint.text


async def test_a_refused_secret_name_is_shown_cut_and_dot_names_are_refused(
    system: System, client: httpx.AsyncClient
) -> None:
    """A refused name is named in a few hundred characters, not echoed whole; "." and ".." match the name rule but
    no client keeps them in a URL (/api/secrets/.. is /api/), so they are refused for a new secret (the Secrets
    page's form took them)."""
    refused = await client.put('/api/secrets/a%20b' + 'y' * 5000, json={'value': 'v'})
    assert refused.status_code == 422 and len(refused.json()['detail']) < 600, refused.text[:200]
    for name in ('.', '..'):
        with pytest.raises(Invalid, match=f"^secret name '{re.escape(name)}' cannot be used: /api/secrets/") as refused:
            await system.application.secrets.put(name, 'v')
        assert refused.value.at == ('name',)  # (the form shows it at its name field)
    assert (await client.get('/api/secrets')).json() == []
