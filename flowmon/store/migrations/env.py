"""Alembic's environment: run the migrations on the connection that flowmon hands over.

:func:`flowmon.store.migrate.alembic_config` puts an open connection, already inside the transaction that holds
the schema lock (see :meth:`flowmon.store.database.Database.upgrade`), in ``config.attributes['connection']``.
Nothing here connects or reads a configuration file, so there is exactly one way in.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from flowmon.store.migrate import include_name, target_metadata


def run_on(connection: Connection) -> None:
    # render_as_batch only shapes autogenerate's drafts: on SQLite, ALTERs need op.batch_alter_table (a table copy).
    # transactional_ddl: the caller's transaction makes DDL transactional on SQLite too (BEGIN IMMEDIATE).
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == 'sqlite',
        transactional_ddl=True,
        compare_type=True,
        compare_server_default=True,
        include_name=include_name,
    )
    with context.begin_transaction():  # the caller's transaction is already open: this joins it
        context.run_migrations()


_connection = context.config.attributes.get('connection')
if not isinstance(_connection, Connection):
    raise RuntimeError('flowmon migrations run at start-up or with `python -m flowmon db upgrade`, not on their own')
run_on(_connection)
