"""Node runs name their workflow, indexed for a node's latest runs.

Adds ``node_runs.workflow_id`` (filled in from each row's execution) and the index ``ix_node_runs_workflow_node``
over (workflow_id, node_id, status, finished_at): ``GET /api/workflows/{id}/stats`` reads each node's last 50
successful runs as one index range per node, however many other workflows share its node ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision: str | None = '0004'


def upgrade() -> None:
    op.add_column('node_runs', sa.Column('workflow_id', sa.String(length=64), nullable=True))
    node_runs = sa.table('node_runs', sa.column('execution_id', sa.String()), sa.column('workflow_id', sa.String()))
    executions = sa.table('executions', sa.column('id', sa.String()), sa.column('workflow_id', sa.String()))
    owner = sa.select(executions.c.workflow_id).where(executions.c.id == node_runs.c.execution_id).scalar_subquery()
    op.execute(node_runs.update().values(workflow_id=owner))
    op.create_index('ix_node_runs_workflow_node', 'node_runs', ['workflow_id', 'node_id', 'status', 'finished_at'])


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
