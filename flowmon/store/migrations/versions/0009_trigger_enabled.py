"""Workflow automation rows say whether the workflow accepts triggers.

Adds ``workflow_automation.trigger_enabled``, written in the transaction that stores a definition: a workflow whose
trigger was switched off keeps its secret (switched on again, its senders keep working), and ``POST /hooks`` now
refuses it from this row alone, as it refuses an unknown id, instead of reading the definition (which took
measurably longer, and so told such a workflow exists). Rows of workflows whose stored definition accepts triggers
get true; the others (trigger off or absent, the workflow gone) false.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision: str | None = '0008'


def upgrade() -> None:
    op.add_column(
        'workflow_automation', sa.Column('trigger_enabled', sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    automation = sa.table('workflow_automation', sa.column('workflow_id', sa.String()), sa.column('trigger_enabled'))
    workflows = sa.table('workflows', sa.column('id', sa.String()), sa.column('definition', sa.Text()))
    bind = op.get_bind()
    stored = sa.select(workflows.c.id, workflows.c.definition).join(
        automation, automation.c.workflow_id == workflows.c.id
    )
    accepting = [workflow_id for workflow_id, definition in bind.execute(stored) if _accepts_triggers(definition)]
    for start in range(0, len(accepting), 500):
        chosen = automation.c.workflow_id.in_(accepting[start : start + 500])
        bind.execute(automation.update().where(chosen).values(trigger_enabled=True))


def _accepts_triggers(definition: str) -> bool:
    """What the stored definition says of ``"trigger": {"enabled": ...}`` (``enabled`` is true when left out). A
    definition that cannot be read is taken to accept triggers: the route then reads it, as before, and refuses it
    if it does not."""
    try:
        trigger: Any = json.loads(definition).get('trigger')
    except (ValueError, AttributeError):
        return True
    return isinstance(trigger, dict) and trigger.get('enabled', True) is not False


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')
