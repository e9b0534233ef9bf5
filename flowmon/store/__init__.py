"""Persistence: the database, the event recorder, history queries, the workflow catalog and recovery."""

from .catalog import WorkflowCatalog
from .database import Database
from .history import ExecutionRecord, History, StoredWorkflow
from .recorder import EventRecorder
from .recovery import interrupt_unfinished

__all__ = [
    'Database',
    'EventRecorder',
    'ExecutionRecord',
    'History',
    'StoredWorkflow',
    'WorkflowCatalog',
    'interrupt_unfinished',
]
