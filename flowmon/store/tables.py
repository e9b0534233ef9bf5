"""SQLModel tables: workflows, workflow snapshots, executions, node runs, events, named secrets, the coordination of
flowmon processes that share a PostgreSQL database (their leases, and the cron ticks they have claimed), the search
text of executions and saved views.

JSON payloads are stored as text serialised by :mod:`flowmon.store.codec`, so the hot path controls the
encoding and the schema stays portable (SQLite now, PostgreSQL later).
Timestamps are aware UTC (SQLModel's ``UTCDateTime``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from flowmon.infra.secretbox import sealed_column


class WorkflowRow(SQLModel, table=True):
    __tablename__ = 'workflows'

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    definition: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    updated_at: datetime


class WorkflowSnapshotRow(SQLModel, table=True):
    """A workflow definition that executions ran, stored once per content hash (``execution.queued`` names it by
    ``workflow_hash``). Rows that no execution refers to any more are removed by retention."""

    __tablename__ = 'workflow_snapshots'

    hash: str = Field(primary_key=True, max_length=64)  # flowmon.engine.core.snapshot.definition_hash
    definition: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class ExecutionRow(SQLModel, table=True):
    __tablename__ = 'executions'
    __table_args__ = (
        Index('ix_executions_workflow_created', 'workflow_id', 'created_at'),
        Index('ix_executions_status_created', 'status', 'created_at'),
        Index('ix_executions_created', 'created_at'),
        Index('ix_executions_finished', 'finished_at'),  # dashboard throughput (flowmon.store.metrics)
        Index('ix_executions_trigger_created', 'trigger_type', 'created_at'),  # GET /api/executions?trigger=
        Index('ix_executions_workflow_hash', 'workflow_hash'),  # which snapshots are still referenced
    )

    id: str = Field(primary_key=True, max_length=40)
    workflow_id: str = Field(max_length=64)
    status: str = Field(max_length=16)
    priority: int = 0
    input: str | None = Field(default=None, sa_column=Column(Text))
    output: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    retry_of: str | None = Field(default=None, max_length=40)
    nodes_done: int = 0
    nodes_total: int = 0
    # How many nodes succeeded, written when the execution ends (None before; ``nodes_done`` also counts failed,
    # skipped and cancelled nodes, so a cancelled run is "done" with all of them)
    nodes_succeeded: int | None = None
    last_seq: int = 0
    # Set on executions imported from an export file: the id the execution had where it ran. Imported
    # executions are read-only history (they replay like any other; nothing appends to them).
    imported_from: str | None = Field(default=None, max_length=40)
    # The flowmon process that runs it (a ``processes`` id; set on PostgreSQL, where several processes share the
    # database): only that process appends to its events. None on SQLite, and for imported executions.
    owner: str | None = Field(default=None, max_length=36)
    # Set when a cancel was asked for in another process than the owner, which polls for it (and is notified).
    cancel_requested_at: datetime | None = None
    # How it was started: the ``type`` of the trigger its execution.queued event records (api, ui, schedule,
    # hook, rerun; None for executions recorded before triggers were, except reruns).
    trigger_type: str | None = Field(default=None, max_length=16)
    # The content hash of the workflow definition it ran (a row of workflow_snapshots); None for executions whose
    # execution.queued event carries the whole definition (recorded before snapshots were kept once per version).
    workflow_hash: str | None = Field(default=None, max_length=64)


class NodeRunRow(SQLModel, table=True):
    __tablename__ = 'node_runs'
    __table_args__ = (
        # a node's latest runs in its workflow (GET /api/workflows/{id}/stats: the last 50 successful ones)
        Index('ix_node_runs_workflow_node', 'workflow_id', 'node_id', 'status', 'finished_at'),
    )

    execution_id: str = Field(primary_key=True, max_length=40)
    node_id: str = Field(primary_key=True, max_length=64)
    # the workflow of the execution (None only for rows an older flowmon wrote of an execution that is gone)
    workflow_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # the time its attempts ran, added up (NodeState.ran_ms), the waits between tries left out; rows written before
    # this measure hold the span from first start to end, the same for a node tried once
    duration_ms: float | None = None
    reused: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))


class EventRow(SQLModel, table=True):
    __tablename__ = 'events'

    execution_id: str = Field(primary_key=True, max_length=40)
    seq: int = Field(primary_key=True)
    ts: datetime
    type: str = Field(max_length=32)
    node_id: str | None = Field(default=None, max_length=64)
    data: str = Field(sa_column=Column(Text, nullable=False))


class SecretRow(SQLModel, table=True):
    """A named secret that node configs refer to with ``{"$secret": "<name>"}``; the value is sealed."""

    __tablename__ = 'secrets'

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=sealed_column(nullable=False))
    created_at: datetime
    updated_at: datetime


class ProcessRow(SQLModel, table=True):
    """A running flowmon process on a shared PostgreSQL database, with its lease: ``heartbeat_at`` is renewed on the
    database's clock; a row older than ``FLOWMON_LEASE_SECONDS`` belongs to a process that is taken for dead."""

    __tablename__ = 'processes'

    id: str = Field(primary_key=True, max_length=36)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class ScheduleTickRow(SQLModel, table=True):
    """A cron tick claimed by one process (several processes fire the same schedule; the first insert wins), with the
    id of the execution it starts. Pruned after a week."""

    __tablename__ = 'schedule_ticks'
    __table_args__ = (Index('ix_schedule_ticks_fire_time', 'fire_time'),)

    workflow_id: str = Field(primary_key=True, max_length=64)
    fire_time: datetime = Field(primary_key=True)  # the time the tick was scheduled for, UTC
    owner: str = Field(max_length=36)
    execution_id: str = Field(max_length=40)
    claimed_at: datetime


class ExecutionSearchRow(SQLModel, table=True):
    """The searchable text of an execution (:func:`flowmon.engine.core.search_text.execution_text`): its input while
    it runs, its input, errors and node outputs once it has ended. The recorder writes it in the transaction of the
    rows it describes; deleting an execution deletes it too.

    The index over ``text`` is dialect handling, made by the migration and queried by :mod:`flowmon.store.search`:
    on SQLite an FTS5 trigram table ``execution_search_fts`` kept by triggers (its rowid is ``id``), on PostgreSQL a
    ``pg_trgm`` GIN index. Neither is in the table classes."""

    __tablename__ = 'execution_search'
    __table_args__ = (Index('ix_execution_search_execution', 'execution_id', unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))  # the FTS rowid (SQLite)
    execution_id: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))


class SavedViewRow(SQLModel, table=True):
    """A named filter of the execution list (``/executions`` query parameters, as JSON)."""

    __tablename__ = 'saved_views'

    name: str = Field(primary_key=True, max_length=64)
    filter: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    updated_at: datetime
