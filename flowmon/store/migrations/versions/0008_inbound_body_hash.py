"""Inbound webhook ids remember the hash of the body they came with.

A ``webhook-id`` used again with the same body is a sender's retry (answered with the execution its first call
started); with another body it is a mistake or an attack that the new body would otherwise be dropped for silently,
and is refused (409). Ids received before this revision have no hash and are taken for retries, as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision: str | None = '0007'


def upgrade() -> None:
    op.add_column('webhook_inbound', sa.Column('body_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
