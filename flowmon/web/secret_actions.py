"""What the Secrets page's buttons do: each checks the session again and reports with a notify naming the problem."""

from __future__ import annotations

from nicegui import ui

from flowmon.services import Conflict, NotFound, Services
from flowmon.store.secrets import SecretInfo, SecretInvalid, TooManySecrets

from .actions import guarded

EXPECTED_ERRORS = (SecretInvalid, TooManySecrets, NotFound, Conflict)


async def save_secret(services: Services, name: str, value: str) -> SecretInfo | None:
    """Create or replace ``name``; the notify says which (never the value)."""
    saved = await guarded(services, 'save the secret', lambda: services.put_secret(name, value), EXPECTED_ERRORS)
    if saved is None:
        return None
    info, created = saved
    ui.notify(f'Secret {name!r} {"created" if created else "replaced"}.', type='positive')
    return info


async def delete_secret(services: Services, name: str) -> bool:
    """Delete ``name``; refused (with the workflows named) while a workflow uses it."""
    done = await guarded(services, 'delete the secret', lambda: _delete(services, name), EXPECTED_ERRORS)
    if done:
        ui.notify(f'Secret {name!r} deleted.', type='info')
    return bool(done)


async def _delete(services: Services, name: str) -> bool:
    await services.delete_secret(name)
    return True
