"""``/api/secrets`` in-process, with another process sharing the database (a second store on the same file)."""

from __future__ import annotations

import httpx
import pytest

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
