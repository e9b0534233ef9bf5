"""The engine: workflow model, node types, events, the reducer, the bus and the runner.

It imports neither NiceGUI nor SQL; the store and the web layer build on it, never the other way round.
"""

from flowmon.engine.core.events import Event, EventFormatError, EventType, utcnow
from flowmon.engine.core.reducer import apply, fold
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.engine.runtime.bus import EventBus, QueueSubscription, Subscription
from flowmon.engine.runtime.clock import Clock, SystemClock
from flowmon.engine.runtime.executor import LocalExecutor, NodeExecutor
from flowmon.engine.runtime.retry import RetryPolicy
from flowmon.engine.runtime.scheduler import Engine, QueueFull, RerunError, new_execution_id

from .documents import WorkflowError, load_document
from .model import EdgeSpec, NodeSpec, Workflow, WorkflowSpec, parse_workflow
from .nodes import NodeConfig, NodeContext, NodeError, NodeRegistry, NodeType, default_registry

__all__ = [
    'Clock',
    'EdgeSpec',
    'Engine',
    'Event',
    'EventBus',
    'EventFormatError',
    'EventType',
    'ExecutionState',
    'LocalExecutor',
    'NodeConfig',
    'NodeContext',
    'NodeError',
    'NodeExecutor',
    'NodeRegistry',
    'NodeSpec',
    'NodeState',
    'NodeType',
    'QueueFull',
    'QueueSubscription',
    'RerunError',
    'RetryPolicy',
    'Subscription',
    'SystemClock',
    'Workflow',
    'WorkflowError',
    'WorkflowSpec',
    'apply',
    'default_registry',
    'fold',
    'load_document',
    'new_execution_id',
    'parse_workflow',
    'utcnow',
]
