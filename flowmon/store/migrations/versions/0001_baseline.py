"""Baseline: the schema of flowmon when Alembic took over.

Workflows, executions, node runs, events, named secrets, webhook endpoints, deliveries, attempts, inbound ids and
workflow automation.

Types are spelled out as plain SQLAlchemy types, frozen here: later changes to the table classes must not change
what this revision creates. ``DateTime(timezone=True)`` is what SQLModel's ``UTCDateTime`` stores (``TIMESTAMP WITH
TIME ZONE`` on PostgreSQL, text on SQLite); sealed columns are ``Text``. No column has a server default.

A database made before migrations (by ``create_all``) is adopted with the same operations, through an
:class:`~alembic.operations.Operations` that creates only what is missing (:func:`flowmon.store.migrate.adopt`),
and then stamped with this revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.operations import Operations

revision = '0001'
down_revision: str | None = None


def upgrade() -> None:
    create_schema(Operations(op.get_context()))


def downgrade() -> None:
    raise NotImplementedError('flowmon migrations go forward only: restore a backup taken before the upgrade')


def _utc_time(name: str, *, nullable: bool) -> sa.Column[Any]:
    """A timestamp column as SQLModel's ``UTCDateTime`` stores it (see the module docstring)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def create_schema(op: Operations) -> None:
    """Every table and index of the baseline, in the order ``create_all`` would make them."""
    op.create_table(
        'events',
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        _utc_time('ts', nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('node_id', sa.String(length=64), nullable=True),
        sa.Column('data', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('execution_id', 'seq'),
    )

    op.create_table(
        'executions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('workflow_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('input', sa.Text(), nullable=True),
        sa.Column('output', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        _utc_time('created_at', nullable=False),
        _utc_time('started_at', nullable=True),
        _utc_time('finished_at', nullable=True),
        sa.Column('duration_ms', sa.Float(), nullable=True),
        sa.Column('retry_of', sa.String(length=40), nullable=True),
        sa.Column('nodes_done', sa.Integer(), nullable=False),
        sa.Column('nodes_total', sa.Integer(), nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
        sa.Column('imported_from', sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_executions_created', 'executions', ['created_at'])
    op.create_index('ix_executions_finished', 'executions', ['finished_at'])
    op.create_index('ix_executions_status_created', 'executions', ['status', 'created_at'])
    op.create_index('ix_executions_workflow_created', 'executions', ['workflow_id', 'created_at'])

    op.create_table(
        'node_runs',
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        sa.Column('node_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _utc_time('started_at', nullable=True),
        _utc_time('finished_at', nullable=True),
        sa.Column('duration_ms', sa.Float(), nullable=True),
        sa.Column('reused', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('execution_id', 'node_id'),
    )

    op.create_table(
        'secrets',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        _utc_time('created_at', nullable=False),
        _utc_time('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )

    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.String(length=40), nullable=False),
        sa.Column('webhook_id', sa.String(length=64), nullable=False),
        sa.Column('endpoint_id', sa.String(length=40), nullable=True),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        _utc_time('started_at', nullable=False),
        _utc_time('ended_at', nullable=True),
        sa.Column('duration_ms', sa.Float(), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('resolved_ip', sa.String(length=64), nullable=True),
        sa.Column('request_headers', sa.Text(), nullable=False),
        sa.Column('body_sha256', sa.String(length=64), nullable=False),
        sa.Column('body_size', sa.Integer(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('response_headers', sa.Text(), nullable=False),
        sa.Column('response_body_prefix', sa.Text(), nullable=True),
        sa.Column('error_class', sa.String(length=32), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('retryable', sa.Boolean(), nullable=False),
        sa.Column('retry_after_s', sa.Float(), nullable=True),
        _utc_time('next_attempt_at', nullable=True),
        _utc_time('planned_at', nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_attempts_delivery_n', 'webhook_attempts', ['delivery_id', 'n'])

    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('webhook_id', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('source_key', sa.String(length=200), nullable=True),
        sa.Column('endpoint_id', sa.String(length=40), nullable=True),
        sa.Column('event_type', sa.String(length=64), nullable=True),
        sa.Column('execution_id', sa.String(length=40), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('secret_url', sa.Text(), nullable=True),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('secret_headers', sa.Text(), nullable=True),
        sa.Column('auth', sa.Text(), nullable=True),
        sa.Column('secret', sa.Text(), nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('status_reason', sa.Text(), nullable=True),
        sa.Column('attempt_trigger', sa.String(length=16), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('round_base', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        _utc_time('next_attempt_at', nullable=True),
        _utc_time('lease_until', nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_duration_ms', sa.Float(), nullable=True),
        _utc_time('created_at', nullable=False),
        _utc_time('updated_at', nullable=False),
        _utc_time('finished_at', nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_deliveries_created', 'webhook_deliveries', ['created_at'])
    op.create_index('ix_webhook_deliveries_endpoint_created', 'webhook_deliveries', ['endpoint_id', 'created_at'])
    op.create_index('ix_webhook_deliveries_finished', 'webhook_deliveries', ['finished_at'])
    op.create_index('ix_webhook_deliveries_source_key', 'webhook_deliveries', ['source_key'], unique=True)
    op.create_index('ix_webhook_deliveries_status_next', 'webhook_deliveries', ['status', 'next_attempt_at'])

    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('event_types', sa.Text(), nullable=False),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('auth', sa.Text(), nullable=True),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('previous_secret', sa.Text(), nullable=True),
        _utc_time('previous_secret_expires_at', nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=500), nullable=True),
        _utc_time('disabled_at', nullable=True),
        _utc_time('first_exhausted_at', nullable=True),
        _utc_time('created_at', nullable=False),
        _utc_time('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )

    op.create_table(
        'webhook_inbound',
        sa.Column('workflow_id', sa.String(length=64), nullable=False),
        sa.Column('webhook_id', sa.String(length=256), nullable=False),
        sa.Column('execution_id', sa.String(length=40), nullable=False),
        _utc_time('received_at', nullable=False),
        sa.PrimaryKeyConstraint('workflow_id', 'webhook_id'),
    )
    op.create_index('ix_webhook_inbound_received', 'webhook_inbound', ['received_at'])

    op.create_table(
        'workflow_automation',
        sa.Column('workflow_id', sa.String(length=64), nullable=False),
        sa.Column('trigger_secret', sa.Text(), nullable=True),
        sa.Column('previous_trigger_secret', sa.Text(), nullable=True),
        _utc_time('previous_trigger_secret_expires_at', nullable=True),
        sa.Column('schedule_paused', sa.Boolean(), nullable=False),
        _utc_time('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('workflow_id'),
    )

    op.create_table(
        'workflows',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('definition', sa.Text(), nullable=False),
        _utc_time('created_at', nullable=False),
        _utc_time('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
