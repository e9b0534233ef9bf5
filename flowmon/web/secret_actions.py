"""What the Secrets page's buttons do: each checks the session again and reports with a notify naming the problem."""

from __future__ import annotations

from nicegui import ui

from flowmon.application import Application
from flowmon.application.secrets import SecretInfo

from .actions import guarded


async def save_secret(application: Application, name: str, value: str) -> SecretInfo | None:
    """Create or replace ``name``; the notify says which (never the value)."""
    saved = await guarded(application, 'save the secret', lambda: application.secrets.put(name, value))
    if saved is None:
        return None
    info, created = saved
    ui.notify(f'Secret {name!r} {"created" if created else "replaced"}.', type='positive')
    return info


async def delete_secret(application: Application, name: str) -> bool:
    """Delete ``name``; refused (with the workflows named) while a workflow uses it."""
    done = await guarded(application, 'delete the secret', lambda: _delete(application, name))
    if done:
        ui.notify(f'Secret {name!r} deleted.', type='info')
    return bool(done)


async def _delete(application: Application, name: str) -> bool:
    await application.secrets.delete(name)
    return True
