"""Search executions by content, and saved views of the execution list.

Adds ``execution_search`` (one row per execution: the text of its input, error messages and node outputs, which the
recorder keeps) with its substring index, and ``saved_views`` (named filters of ``/executions``).

The index is dialect handling. SQLite: an FTS5 table with the trigram tokenizer over ``execution_search.text``
(external content, rowid ``id``), kept by three triggers in the statements that change the rows. PostgreSQL: a GIN
index with ``gin_trgm_ops`` of the ``pg_trgm`` extension; where that extension cannot be created (not installed, or
not allowed) the index is left out with a warning, and searching scans instead. Neither is in the table classes:
:func:`flowmon.store.migrate.include_name` leaves them out of schema comparisons.

Executions recorded before this revision are indexed by their stored input (as JSON text) and error message; the
outputs of their nodes are not searchable.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision: str | None = '0003'

log = logging.getLogger('flowmon.store.migrate')

SQLITE_INDEX = (
    'CREATE VIRTUAL TABLE execution_search_fts USING fts5('
    "text, content='execution_search', content_rowid='id', tokenize='trigram')",
    'CREATE TRIGGER execution_search_fts_insert AFTER INSERT ON execution_search BEGIN '
    'INSERT INTO execution_search_fts(rowid, text) VALUES (new.id, new.text); END',
    'CREATE TRIGGER execution_search_fts_delete AFTER DELETE ON execution_search BEGIN '
    "INSERT INTO execution_search_fts(execution_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    'CREATE TRIGGER execution_search_fts_update AFTER UPDATE ON execution_search BEGIN '
    "INSERT INTO execution_search_fts(execution_search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    'INSERT INTO execution_search_fts(rowid, text) VALUES (new.id, new.text); END',
)
POSTGRESQL_INDEX = 'CREATE INDEX ix_execution_search_text_trgm ON execution_search USING gin (text gin_trgm_ops)'


def upgrade() -> None:
    op.create_table(
        'execution_search',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_execution_search_execution', 'execution_search', ['execution_id'], unique=True)
    op.create_table(
        'saved_views',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('filter', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for statement in SQLITE_INDEX:
            op.execute(statement)
    elif bind.dialect.name == 'postgresql':
        _postgresql_index(bind)
    executions = sa.table(
        'executions', sa.column('id', sa.String()), sa.column('input', sa.Text()), sa.column('error', sa.Text())
    )
    search = sa.table('execution_search', sa.column('execution_id', sa.String()), sa.column('text', sa.Text()))
    known = sa.func.coalesce(executions.c.input, '') + '\n' + sa.func.coalesce(executions.c.error, '')
    op.execute(search.insert().from_select(['execution_id', 'text'], sa.select(executions.c.id, known)))


def _postgresql_index(bind: sa.Connection) -> None:
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        log.warning('PostgreSQL has no pg_trgm extension: searching executions scans their text (no index)')
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
        bind.execute(sa.text(POSTGRESQL_INDEX))
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning('could not create the pg_trgm index (%s): searching executions scans their text', exc.orig)
    else:
        savepoint.commit()


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
