"""Named secrets for node configs: values go in and never come back out."""

from __future__ import annotations

from flowmon.engine.runtime.secret_refs import secret_names
from flowmon.store.catalog import WorkflowCatalog
from flowmon.store.secrets import (
    MAX_SECRET_CHARS,
    SecretInfo,
    SecretInvalid,
    SecretStore,
    TooManySecrets,
    check_name,
    check_value,
)

from .errors import Conflict, Invalid, NotFound, in_use, translated

__all__ = ['MAX_SECRET_CHARS', 'SecretInfo', 'Secrets']


class Secrets:
    """List, create or replace, and delete named secrets."""

    def __init__(self, *, store: SecretStore, catalog: WorkflowCatalog) -> None:
        self._store = store
        self._catalog = catalog

    def all(self) -> list[SecretInfo]:
        """Names and times, by name; never a value."""
        return self._store.list()

    @property
    def version(self) -> int:
        """Moves on every change: a page re-reads the list only when it moved."""
        return self._store.version

    async def put(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create or replace; returns its info and whether it was created. Raises Invalid (name or value) or
        Conflict (too many secrets)."""
        with translated({SecretInvalid: Invalid}, at='name'):
            check_name(name)
        with translated({SecretInvalid: Invalid}, at='value'):
            check_value(value)
        with translated({TooManySecrets: Conflict}), translated({SecretInvalid: Invalid}, at='name'):
            return await self._store.put(name, value)  # (what it refuses now is a new secret's name: . or ..)

    async def delete(self, name: str) -> None:
        """Delete a secret; refused (Conflict, naming them) while stored workflows name it. Whether it exists is the
        database's answer: another process sharing it may have created it a moment ago."""
        if not await self._store.stored([name]):  # (first: an unknown name is a 404 at the cost of one small read)
            raise NotFound(f'secret {name!r} not found')
        async with self._catalog.unchanged():  # no workflow naming it saved between the look and the deletion
            stored = await self._catalog.all()
            users = sorted(one.id for one in stored if name in secret_names(one.definition))
            if users:
                raise in_use(f'secret {name!r}', users)
            if not await self._store.delete(name):
                raise NotFound(f'secret {name!r} not found')
