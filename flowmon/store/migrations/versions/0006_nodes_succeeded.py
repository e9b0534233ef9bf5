"""Executions count the nodes that succeeded.

Adds ``executions.nodes_succeeded``, which the recorder writes when an execution ends: ``nodes_done`` also counts
failed, skipped and cancelled nodes, so a cancelled run of nine nodes was listed as "9/9". Executions that ended
before this revision get the count from their node runs; those still running keep None until they end, and so do
ended ones that lack their node runs, until start-up derives them (``EventRecorder.backfill_node_runs``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision: str | None = '0005'

ENDED = ('succeeded', 'failed', 'cancelled', 'interrupted')


def upgrade() -> None:
    op.add_column('executions', sa.Column('nodes_succeeded', sa.Integer(), nullable=True))
    executions = sa.table(
        'executions', sa.column('id', sa.String()), sa.column('status', sa.String()), sa.column('nodes_succeeded')
    )
    node_runs = sa.table('node_runs', sa.column('execution_id', sa.String()), sa.column('status', sa.String()))
    succeeded = (
        sa.select(sa.func.count())
        .select_from(node_runs)
        .where(node_runs.c.execution_id == executions.c.id, node_runs.c.status == 'succeeded')
        .scalar_subquery()
    )
    has_runs = sa.exists().where(node_runs.c.execution_id == executions.c.id)
    # an ended run without node runs (a crash between the two transactions) is counted when start-up derives them
    op.execute(executions.update().where(executions.c.status.in_(ENDED), has_runs).values(nodes_succeeded=succeeded))


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
