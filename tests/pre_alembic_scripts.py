"""The SQL script of the last schema before migrations, put together from the first one and what came after it.

``pre_alembic/first_release.sql`` is the first version's schema, kept whole. The last version before migrations
(``last_release``) made the same tables again and more; rather than a second copy of those tables,
``pre_alembic/last_release_added.sql`` holds only the statements it added, and :func:`last_release_script` lays both
out as that version's ``create_all`` ran them: in :data:`LAST_RELEASE_ORDER`, with the column the executions table
gained. The result is the script captured from that version, byte for byte (``tests/unit/test_pre_alembic_scripts.py``
checks its digest); ``tests/unit/conftest.py`` writes it as ``last_release.sql`` beside the other scripts, where
``migration_support.pre_alembic_database`` reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

from migration_support import FIRST_VERSION, LAST_VERSION, PRE_ALEMBIC

ADDED = 'last_release_added'
HEADER = """\
-- The schema that the last flowmon before migrations (commit 116b0e1; the schema as of 2aa4ac7, "Secrets at rest and named secrets") made on SQLite:
-- Database.start() ran SQLModel.metadata.create_all on an empty file; this is its sqlite_master, in creation
-- order. Frozen: it is what databases made before Alembic look like, whatever the table classes say today.
"""  # noqa: E501 (the first line as captured)
# The last version's sqlite_master in creation order: each name is a statement of first_release.sql or of
# last_release_added.sql.
LAST_RELEASE_ORDER = (
    'webhook_endpoints',
    'webhook_deliveries',
    'ix_webhook_deliveries_created',
    'ix_webhook_deliveries_status_next',
    'ix_webhook_deliveries_source_key',
    'ix_webhook_deliveries_finished',
    'ix_webhook_deliveries_endpoint_created',
    'webhook_attempts',
    'ix_webhook_attempts_delivery_n',
    'webhook_inbound',
    'ix_webhook_inbound_received',
    'workflow_automation',
    'workflows',
    'executions',
    'ix_executions_workflow_created',
    'ix_executions_status_created',
    'ix_executions_created',
    'ix_executions_finished',
    'node_runs',
    'events',
    'secrets',
)
# Columns a first-release table gained by the last version; create_all put them after the others.
GAINED_COLUMNS = {'executions': ('imported_from VARCHAR(40)',)}
_CREATED = re.compile(r'CREATE (?:UNIQUE )?(?:TABLE|INDEX) (\w+) ')


def last_release_script(directory: Path = PRE_ALEMBIC) -> str:
    """The text of ``last_release.sql``: the statements of both files in :data:`LAST_RELEASE_ORDER`, each once."""
    statements = {**_statements(directory / f'{FIRST_VERSION}.sql'), **_statements(directory / f'{ADDED}.sql')}
    unplaced = set(statements) - set(LAST_RELEASE_ORDER)
    assert not unplaced, f'statements missing from LAST_RELEASE_ORDER: {sorted(unplaced)}'
    for table, columns in GAINED_COLUMNS.items():
        statements[table] = _with_columns(statements[table], columns)
    return HEADER + ''.join(f'\n{statements[name]}\n' for name in LAST_RELEASE_ORDER)


def write_schemas(directory: Path) -> None:
    """Copy every script of ``pre_alembic`` to ``directory`` and add ``last_release.sql`` to them."""
    for script in PRE_ALEMBIC.glob('*.sql'):
        (directory / script.name).write_text(script.read_text(encoding='utf-8'), encoding='utf-8')
    (directory / f'{LAST_VERSION}.sql').write_text(last_release_script(), encoding='utf-8')


def _statements(path: Path) -> dict[str, str]:
    """The statements of a script by the name of what each creates (statements are separated by a blank line)."""
    blocks = [block.strip('\n') for block in path.read_text(encoding='utf-8').split('\n\n')]
    statements = {}
    for block in blocks:
        if block.startswith('--'):
            continue
        created = _CREATED.match(block)
        assert created is not None, f'{path.name}: not a CREATE TABLE or CREATE INDEX: {block[:60]!r}'
        statements[created.group(1)] = block
    return statements


def _with_columns(statement: str, columns: tuple[str, ...]) -> str:
    """A CREATE TABLE statement with ``columns`` added after its others, before its primary key."""
    head, key = statement.rsplit('\n\tPRIMARY KEY', 1)
    return head + ''.join(f'\n\t{column},' for column in columns) + '\n\tPRIMARY KEY' + key
