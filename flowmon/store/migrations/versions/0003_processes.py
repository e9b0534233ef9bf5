"""Several processes on one database: process leases, execution owners and cancel requests, claimed cron ticks.

``processes`` holds each running flowmon's lease; ``executions.owner`` names the process that runs an execution and
``executions.cancel_requested_at`` carries a cancel asked for in another process; ``webhook_deliveries.claimed_by``
names the process sending an attempt; ``schedule_ticks`` records which process started each cron tick.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision: str | None = '0002'


def upgrade() -> None:
    op.add_column('executions', sa.Column('owner', sa.String(length=36), nullable=True))
    op.add_column('executions', sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('webhook_deliveries', sa.Column('claimed_by', sa.String(length=36), nullable=True))
    op.create_table(
        'processes',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'schedule_ticks',
        sa.Column('workflow_id', sa.String(length=64), nullable=False),
        sa.Column('fire_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('owner', sa.String(length=36), nullable=False),
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('workflow_id', 'fire_time'),
    )
    op.create_index('ix_schedule_ticks_fire_time', 'schedule_ticks', ['fire_time'])


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
