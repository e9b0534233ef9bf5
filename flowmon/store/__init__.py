"""Persistence: the database, the event recorder, history queries and start-up recovery."""

from .database import Database
from .history import ExecutionRecord, History, StoredWorkflow
from .recorder import EventRecorder
from .recovery import interrupt_unfinished

__all__ = ['Database', 'EventRecorder', 'ExecutionRecord', 'History', 'StoredWorkflow', 'interrupt_unfinished']
