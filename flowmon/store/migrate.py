"""Alembic owns the schema: upgrade to a revision, read the current one, list them all.

Everything here is synchronous and portable, and works on a connection the caller opened: start-up and
``python -m flowmon db upgrade`` go through :meth:`flowmon.store.database.Database.upgrade`, which runs
:func:`upgrade` with ``run_sync`` inside a transaction that holds the schema lock (so the revisions and the
version stamp commit together, and processes that start together migrate one after the other).

A database made before migrations (tables, no ``alembic_version``) is adopted: the baseline revision's operations
run through :class:`_Adoption`, which creates only the tables, columns and indexes the database lacks (an earlier
flowmon added nullable columns at start-up, never indexes, so a database that outlived a few releases may lack
either), then the database is stamped with :data:`BASELINE` and upgraded like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Column, MetaData, Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.sql.schema import SchemaItem
from sqlmodel import SQLModel

from . import tables, webhook_tables  # noqa: F401  (they register their tables on SQLModel.metadata)

SCRIPT_LOCATION = 'flowmon.store:migrations'
BASELINE = '0001'  # the schema when Alembic took over: what a database made before migrations is stamped with
VERSION_TABLE = 'alembic_version'


class SchemaError(Exception):
    """The database cannot be brought to the requested revision; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Revision:
    id: str
    message: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What :func:`upgrade` did: the revision before and after, the revisions applied (oldest first) and, for a
    database made before migrations, what its adoption added before it was stamped with :data:`BASELINE`."""

    before: str | None
    after: str | None
    applied: tuple[Revision, ...]
    adopted: tuple[str, ...] | None = None

    @property
    def changed(self) -> bool:
        return bool(self.applied) or self.adopted is not None

    def lines(self) -> list[str]:
        """A human summary, one line per step (the CLI prints it, start-up logs it)."""
        lines = []
        if self.adopted is not None:
            added = ', '.join(self.adopted) if self.adopted else 'nothing was missing'
            lines.append(f'adopted a database made before migrations ({added}); stamped {BASELINE}')
        lines += [f'applied {revision.id}: {revision.message}' for revision in self.applied]
        if not self.changed:
            lines.append(f'already at {self.after or "none"}: nothing to do')
        else:
            lines.append(f'now at {self.after}')
        return lines


def target_metadata() -> MetaData:
    """Every table flowmon defines: what the newest revision must create (autogenerate compares against it)."""
    return SQLModel.metadata


# Dialect handling the table classes do not describe (revision 0004): the SQLite FTS5 table of execution search with
# its shadow tables, and PostgreSQL's pg_trgm index. Schema comparisons (autogenerate, the migration tests) skip them.
UNMODELLED_PREFIX = 'execution_search_fts'
UNMODELLED_INDEXES = frozenset({'ix_execution_search_text_trgm'})


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: everything but the search index's dialect objects."""
    if name is None:
        return True
    if type_ == 'table':
        return not name.startswith(UNMODELLED_PREFIX)
    if type_ == 'index':
        return name not in UNMODELLED_INDEXES
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without a file: the migrations ship inside the package."""
    config = Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    revision = scripts().get_current_head()
    assert revision is not None, 'the migrations package has a baseline revision'
    return revision


def history() -> list[Revision]:
    """Every revision, newest first."""
    return [_revision(script) for script in scripts().walk_revisions()]


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for an empty database or one made before migrations."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = 'head') -> MigrationReport:
    """Bring the database on ``connection`` to ``revision``, adopting it first if it was made before migrations.

    Runs in the caller's transaction. Raises :class:`SchemaError` for a revision this flowmon does not know, a
    target below the current revision, or a database at a revision from a newer flowmon.
    """
    with _quiet_alembic():
        return _upgrade(connection, revision)


def _upgrade(connection: Connection, revision: str) -> MigrationReport:
    order = _order()
    target = resolve(revision)
    before = current_revision(connection)
    if before is not None and before not in order:
        raise SchemaError(
            f'the database is at revision {before!r}, which this flowmon does not know (its newest is {head()!r}): '
            'a newer flowmon upgraded it; run that version or restore a backup'
        )
    adopted = None
    if before is None and _has_tables(connection):
        adopted = adopt(connection)
        command.stamp(alembic_config(connection), BASELINE)
    start = current_revision(connection)
    if start is not None and order[target] < order[start]:
        raise SchemaError(f'the database is at {start!r}, past {target!r}: flowmon migrations go forward only')
    if start != target:  # (at its target already: Alembic's environment is not loaded and run for nothing)
        command.upgrade(alembic_config(connection), target)
    after = current_revision(connection)
    low, high = -1 if start is None else order[start], order[target]
    applied = tuple(step for step in reversed(history()) if low < order[step.id] <= high)
    return MigrationReport(before=before, after=after, applied=applied, adopted=adopted)


def resolve(revision: str) -> str:
    """The revision id that ``revision`` ('head' or an id) names; :class:`SchemaError` if this flowmon has none."""
    order = _order()
    target = head() if revision == 'head' else revision
    if target not in order:
        raise SchemaError(f'unknown revision {revision!r}: this flowmon knows {", ".join(order)}')
    return target


def adopt(connection: Connection) -> tuple[str, ...]:
    """Give a database made before migrations what the baseline has and it lacks; returns what was added."""
    baseline = scripts().get_revision(BASELINE)
    assert baseline is not None and baseline.module is not None
    adoption = _Adoption(MigrationContext.configure(connection))
    baseline.module.create_schema(adoption)
    return tuple(adoption.changes)


class _Adoption(Operations):
    """The baseline's operations for a database that ``create_all`` made: a table that exists gets only the
    columns it lacks (nullable ones: a NOT NULL column without a server default cannot be added to rows that
    exist), an index that exists is left alone, anything missing is created as the baseline creates it."""

    def __init__(self, migration_context: MigrationContext) -> None:
        super().__init__(migration_context)
        self.changes: list[str] = []

    def _inspect(self) -> Any:  # a fresh inspector each time: its cache would miss what adoption just added
        return inspect(self.migration_context.connection)

    def create_table(self, table_name: str, *columns: SchemaItem, **kw: Any) -> Table:
        if not self._inspect().has_table(table_name):
            self.changes.append(f'created table {table_name}')
            return super().create_table(table_name, *columns, **kw)
        present = {column['name'] for column in self._inspect().get_columns(table_name)}
        for column in columns:
            if not isinstance(column, Column) or column.name in present:
                continue
            if not column.nullable and column.server_default is None:
                raise SchemaError(
                    f'{table_name}.{column.name} is missing and cannot be added (NOT NULL, no default): '
                    'the database was not made by flowmon'
                )
            self.add_column(table_name, column)
            self.changes.append(f'added column {table_name}.{column.name}')
        return Table(table_name, MetaData())

    def create_index(self, index_name: str | None, table_name: str, columns: Sequence[Any], **kw: Any) -> None:
        if index_name in {index['name'] for index in self._inspect().get_indexes(table_name)}:
            return
        self.changes.append(f'created index {index_name}')
        super().create_index(index_name, table_name, columns, **kw)


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs a dozen INFO lines per run (plugins, context, each step); flowmon logs its own summary
    (:meth:`MigrationReport.lines`). Alembic's lines still show at DEBUG, or when its logger has a level of its own.
    Upgrades that overlap (one per Database) may restore the level early: a few of Alembic's lines show then."""
    logger = logging.getLogger('alembic')
    if logger.level != logging.NOTSET or logger.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def _has_tables(connection: Connection) -> bool:
    return bool(set(inspect(connection).get_table_names()) - {VERSION_TABLE})


def _order() -> dict[str, int]:
    """Each revision's place in the (linear) history: 0 for the baseline."""
    return {revision.id: place for place, revision in enumerate(reversed(history()))}


def _revision(script: Script) -> Revision:
    return Revision(script.revision, ' '.join((script.doc or '').split()))
