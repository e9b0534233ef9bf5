"""What the Secrets page's buttons do: each checks the session again and reports with a notify naming the problem."""

from __future__ import annotations

from nicegui import ui

from flowmon.application import Application
from flowmon.application.secrets import SecretInfo

from .actions import guarded, performed


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
    delete = application.secrets.delete
    return await performed(application, 'delete the secret', lambda: delete(name), f'Secret {name!r} deleted.', 'info')
