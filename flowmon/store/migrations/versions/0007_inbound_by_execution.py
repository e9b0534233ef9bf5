"""Inbound webhook ids are found by the execution they started.

Deleting an execution (by hand, in bulk or by retention) now forgets the inbound webhook ids that started it, so a
sender's retry of one starts a new execution instead of being answered with the id of one that no longer exists;
the index keeps that lookup off a scan of a day of inbound calls.
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision: str | None = '0006'


def upgrade() -> None:
    op.create_index('ix_webhook_inbound_execution', 'webhook_inbound', ['execution_id'])


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
