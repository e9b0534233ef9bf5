"""What a rerun of an execution will run, said before its dialog opens: a rerun runs the workflow's current
definition (the one the execution ran with once the workflow is deleted), which may have changed since the run, and
"Rerun from this node" needs that node in it."""

from __future__ import annotations

from flowmon.application.workflows import StoredWorkflow
from flowmon.engine.core.state import ExecutionState
from flowmon.web import format as fmt


def missing_node(from_node: str | None, current: StoredWorkflow | None) -> str | None:
    """Why a rerun from ``from_node`` cannot be made (the current definition has no such node), or None."""
    if from_node is None or current is None:
        return None
    nodes = {node.get('id') for node in current.definition.get('nodes') or () if isinstance(node, dict)}
    if from_node in nodes:
        return None
    return (
        f'Node {from_node} is not in the current definition of {current.name} (changed since this run, '
        f'{fmt.full_timestamp(current.updated_at)}): rerun the whole execution, or from a node it still has.'
    )


def rerun_note(state: ExecutionState, current: StoredWorkflow | None) -> str:
    """What the rerun will run, when that is not what this execution ran ('' when it is)."""
    if current is None:
        return ' Its workflow was deleted: the rerun runs the definition this execution ran with.'
    if state.workflow_hash is not None and state.workflow_hash != current.version:
        saved = fmt.full_timestamp(current.updated_at)
        return f' The workflow was changed since this run (saved {saved}): the rerun runs the current definition.'
    return ''
