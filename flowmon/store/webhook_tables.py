"""SQLModel tables of the webhook features: endpoints, deliveries, attempts, inbound ids and workflow automation.

The delivery table is the source of truth for outbound webhooks: a row (with the exact body bytes and a stable
``webhook_id``) is committed before the first attempt, and every state change is committed before anything that
depends on it. JSON columns are text written by :mod:`flowmon.store.codec`; timestamps are aware UTC.
Secrets and credentials (signing secrets, auth settings, custom header values) are in sealed columns
(:func:`flowmon.infra.secretbox.sealed_column`): encrypted with the secret key, bound to their table, row and column.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, false
from sqlmodel import Field, SQLModel

from flowmon.infra.secretbox import sealed_column


class WebhookEndpointRow(SQLModel, table=True):
    """A subscriber: receives every bus event whose type is in ``event_types``."""

    __tablename__ = 'webhook_endpoints'

    id: str = Field(primary_key=True, max_length=40)
    url: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default='', max_length=500)
    event_types: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    headers: str = Field(sa_column=sealed_column(nullable=False))  # JSON object, sealed
    auth: str | None = Field(default=None, sa_column=sealed_column())  # JSON object (credentials), sealed
    secret: str = Field(sa_column=sealed_column(nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=sealed_column())
    previous_secret_expires_at: datetime | None = None
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = None
    first_exhausted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryRow(SQLModel, table=True):
    """One message to one destination, with its retry state."""

    __tablename__ = 'webhook_deliveries'
    __table_args__ = (
        Index('ix_webhook_deliveries_status_next', 'status', 'next_attempt_at'),
        Index('ix_webhook_deliveries_endpoint_created', 'endpoint_id', 'created_at'),
        Index('ix_webhook_deliveries_created', 'created_at'),
        Index('ix_webhook_deliveries_finished', 'finished_at'),
        Index('ix_webhook_deliveries_source_key', 'source_key', unique=True),
    )

    id: str = Field(primary_key=True, max_length=40)
    webhook_id: str = Field(max_length=64)
    source: str = Field(max_length=16)  # api | node | endpoint | test
    source_key: str | None = Field(default=None, max_length=200)  # idempotency key, e.g. execution:node
    endpoint_id: str | None = Field(default=None, max_length=40)
    event_type: str | None = Field(default=None, max_length=64)
    execution_id: str | None = Field(default=None, max_length=40)
    url: str = Field(sa_column=Column(Text, nullable=False))  # as shown: a secret's value in it is ***
    secret_url: str | None = Field(default=None, sa_column=sealed_column())  # the real url, when url hides a secret
    method: str = Field(default='POST', max_length=8)
    headers: str = Field(sa_column=sealed_column(nullable=False))  # JSON object, sealed
    secret_headers: str | None = Field(default=None, sa_column=Column(Text))  # JSON list: names whose values are secret
    auth: str | None = Field(default=None, sa_column=sealed_column())  # JSON object, ad-hoc deliveries only; sealed
    secret: str | None = Field(default=None, sa_column=sealed_column())  # ad-hoc only (endpoints sign with theirs)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(max_length=16)
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    attempt_trigger: str | None = Field(default=None, max_length=16)  # of the attempt in flight, while 'sending'
    attempts: int = 0
    round_base: int = 0  # attempts made before the current round (a redeliver starts a new round)
    max_attempts: int = 1
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    # The process that claimed the attempt in flight (PostgreSQL): when it dies, another sends the attempt again.
    claimed_by: str | None = Field(default=None, max_length=36)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_duration_ms: float | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class WebhookAttemptRow(SQLModel, table=True):
    """The log of one finished attempt (secrets redacted). An attempt in flight is the delivery's ``sending`` state;
    one that a crash cut short is logged at start-up as ``interrupted``."""

    __tablename__ = 'webhook_attempts'
    __table_args__ = (Index('ix_webhook_attempts_delivery_n', 'delivery_id', 'n'),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=40)
    webhook_id: str = Field(max_length=64)
    endpoint_id: str | None = Field(default=None, max_length=40)
    n: int
    trigger: str = Field(max_length=16)  # first | retry | manual | bulk | recovery
    started_at: datetime
    ended_at: datetime | None = None
    duration_ms: float | None = None
    url: str = Field(sa_column=Column(Text, nullable=False))
    resolved_ip: str | None = Field(default=None, max_length=64)
    request_headers: str = Field(default='{}', sa_column=Column(Text, nullable=False, default='{}'))
    body_sha256: str = Field(max_length=64)
    body_size: int = 0
    status_code: int | None = None
    response_headers: str = Field(default='{}', sa_column=Column(Text, nullable=False, default='{}'))
    response_body_prefix: str | None = Field(default=None, sa_column=Column(Text))
    error_class: str | None = Field(default=None, max_length=32)
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    retryable: bool = False
    retry_after_s: float | None = None
    next_attempt_at: datetime | None = None
    planned_at: datetime | None = None  # when the attempt was due (the retry firing lag is started_at - planned_at)


class WebhookInboundRow(SQLModel, table=True):
    """A verified inbound trigger call: a replayed ``webhook_id`` (with the same body) gets the same execution back."""

    __tablename__ = 'webhook_inbound'
    __table_args__ = (
        Index('ix_webhook_inbound_received', 'received_at'),
        Index('ix_webhook_inbound_execution', 'execution_id'),  # forgotten with their execution (retention)
    )

    workflow_id: str = Field(primary_key=True, max_length=64)
    webhook_id: str = Field(primary_key=True, max_length=256)
    execution_id: str = Field(max_length=40)
    received_at: datetime
    # of the body it came with: the same id with another body is refused (None: received before flowmon kept it)
    body_sha256: str | None = Field(default=None, max_length=64)


class WorkflowAutomationRow(SQLModel, table=True):
    """Per-workflow trigger secret and schedule state (kept out of the workflow definition)."""

    __tablename__ = 'workflow_automation'

    workflow_id: str = Field(primary_key=True, max_length=64)
    trigger_secret: str | None = Field(default=None, sa_column=sealed_column())
    previous_trigger_secret: str | None = Field(default=None, sa_column=sealed_column())
    previous_trigger_secret_expires_at: datetime | None = None
    # whether the stored definition accepts triggers, written in the transaction that stores it: a secret kept while
    # the trigger is switched off starts nothing, and ``POST /hooks`` tells so from this row alone
    trigger_enabled: bool = Field(default=False, sa_column_kwargs={'server_default': false()})
    schedule_paused: bool = False
    updated_at: datetime


# Core tables for the hot path (statements are built on these, not on ORM objects).
endpoints = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
deliveries = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
attempts = WebhookAttemptRow.__table__  # type: ignore[attr-defined]
inbound = WebhookInboundRow.__table__  # type: ignore[attr-defined]
automation = WorkflowAutomationRow.__table__  # type: ignore[attr-defined]
