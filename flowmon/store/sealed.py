"""Every sealed column of the schema, found by its mark: sealing plain values at start-up, and key rotation.

The columns are those made with :func:`flowmon.infra.secretbox.sealed_column`; each value is bound to
``<table>/<primary key>/<column>``. :func:`prepare_sealed` runs at every start: it seals in place any plain value
an older flowmon left (webhook secrets and credentials were stored in plain text before), and refuses to start
when values are sealed with a key the ring does not hold. :func:`reseal_all` re-encrypts every value under the
ring's current key in one transaction (``python -m flowmon rotate-secret-key``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from flowmon.infra.secretbox import PREFIX, SEALED_INFO, SecretBox, aad

from .database import Database


class UnknownSecretKey(RuntimeError):
    """Values in the database are sealed with a key that is not in the ring; ``str()`` is one line."""


@dataclass(frozen=True, slots=True)
class SealedColumn:
    table: Table
    key: Column
    column: Column

    @property
    def name(self) -> str:
        return f'{self.table.name}.{self.column.name}'

    def where(self, row_key: object) -> str:
        return aad(self.table.name, str(row_key), self.column.name)


def sealed_columns() -> list[SealedColumn]:
    """The sealed columns of every registered table (a sealed column needs a one-column primary key)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get(SEALED_INFO):
                (key,) = table.primary_key.columns
                found.append(SealedColumn(table, key, column))
    return found


def _sealed_like() -> str:
    return f'{PREFIX}:%'


async def prepare_sealed(db: Database, box: SecretBox) -> int:
    """Seal plain values in place and check that the ring opens every sealed one; returns how many were sealed.

    Raises :class:`UnknownSecretKey` naming the key ids the ring lacks (the database was sealed with another key).
    """
    sealed_now = 0
    unknown: dict[str, list[str]] = {}
    async with db.engine.begin() as conn:
        for spec in sealed_columns():
            plain = select(spec.key, spec.column).where(spec.column.is_not(None), ~spec.column.like(_sealed_like()))
            for row_key, value in (await conn.execute(plain)).all():
                await _write(conn, spec, row_key, box.seal(value, spec.where(row_key)))
                sealed_now += 1
            kids = select(func.substr(spec.column, len(PREFIX) + 2, 8)).where(spec.column.like(_sealed_like()))
            for kid in (await conn.execute(kids.distinct())).scalars():
                if kid not in box.key_ids:
                    unknown.setdefault(kid, []).append(spec.name)
    if unknown:
        detail = ', '.join(f'key id {kid} ({", ".join(columns)})' for kid, columns in sorted(unknown.items()))
        raise UnknownSecretKey(
            f'the database holds secrets sealed with a key this flowmon does not have: {detail}; the current key '
            f'is {box.current_id}. Set FLOWMON_SECRET_KEY (or <data dir>/.secret_key) to the key they were sealed '
            'with (after rotate-secret-key: the new key it printed)'
        )
    if sealed_now:
        await db.scrub()  # the plain values must not linger in free pages or the log
    return sealed_now


async def reseal_all(db: Database, box: SecretBox) -> int:
    """Open every sealed value with the ring and seal it with the current key, in one transaction; returns how
    many values changed. A value that does not open (altered, or its key is lost) aborts the whole rotation."""
    changed = 0
    async with db.engine.begin() as conn:
        for spec in sealed_columns():
            stale = select(spec.key, spec.column).where(
                and_(spec.column.is_not(None), ~spec.column.like(f'{PREFIX}:{box.current_id}:%'))
            )
            for row_key, value in (await conn.execute(stale)).all():
                where = spec.where(row_key)
                plain = box.open(value, where) if value.startswith(f'{PREFIX}:') else value
                await _write(conn, spec, row_key, box.seal(plain, where))
                changed += 1
    if changed:
        await db.scrub()  # values sealed with the old key must not linger in free pages or the log
    return changed


async def _write(conn: AsyncConnection, spec: SealedColumn, row_key: object, value: str) -> None:
    await conn.execute(spec.table.update().where(spec.key == row_key).values({spec.column.name: value}))
