"""Workflow snapshots once per version, and how each execution was started.

Adds ``workflow_snapshots`` (a definition per content hash, which ``execution.queued`` now names instead of
carrying the whole definition), and to ``executions`` the ``workflow_hash`` of the definition it ran and its
``trigger_type`` (api, ui, schedule, hook, rerun), each with an index: retention asks which snapshots are still
referenced, ``GET /api/executions?trigger=`` filters by the trigger. Executions recorded before keep their inline
definition (no hash); of their triggers only reruns are known (they record ``retry_of``), and are filled in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision: str | None = '0001'


def upgrade() -> None:
    op.create_table(
        'workflow_snapshots',
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('definition', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('hash'),
    )
    op.add_column('executions', sa.Column('trigger_type', sa.String(length=16), nullable=True))
    op.add_column('executions', sa.Column('workflow_hash', sa.String(length=64), nullable=True))
    op.create_index('ix_executions_trigger_created', 'executions', ['trigger_type', 'created_at'])
    op.create_index('ix_executions_workflow_hash', 'executions', ['workflow_hash'])
    executions = sa.table('executions', sa.column('retry_of', sa.String()), sa.column('trigger_type', sa.String()))
    op.execute(executions.update().where(executions.c.retry_of.is_not(None)).values(trigger_type='rerun'))


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
