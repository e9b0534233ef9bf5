"""The workflows use case remembers which workflows were deleted (pages that show one look every second), and how
many of them it remembers is bounded: scripts that create and delete workflows with fresh ids never stop."""

from __future__ import annotations

import json

import pytest

from flowmon.application import workflows as workflows_module
from flowmon.bootstrap import System


def _definition(workflow_id: str) -> bytes:
    return json.dumps(
        {
            'id': workflow_id,
            'name': workflow_id,
            'nodes': [{'id': 'a', 'type': 'log', 'config': {'message': 'hi'}}],
            'edges': [],
        }
    ).encode()


async def test_a_deleted_workflow_is_said_deleted_until_it_is_stored_again(system: System) -> None:
    workflows = system.application.workflows
    await workflows.put('churn', _definition('churn'))
    assert not workflows.deleted('churn')
    await workflows.delete('churn')
    assert workflows.deleted('churn')
    await workflows.put('churn', _definition('churn'))
    assert not workflows.deleted('churn')


async def test_only_the_latest_deletions_are_remembered(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows_module, 'KEEP_DELETED', 3)
    workflows = system.application.workflows
    ids = [f'churn-{n}' for n in range(5)]
    for workflow_id in ids:
        await workflows.put(workflow_id, _definition(workflow_id))
        await workflows.delete(workflow_id)
    assert [workflows.deleted(workflow_id) for workflow_id in ids] == [False, False, True, True, True]
    # deleting one again makes it the latest (churn-3, churn-4, churn-2): the next deletion lets churn-3 go, not it
    await workflows.put('churn-2', _definition('churn-2'))
    await workflows.delete('churn-2')
    assert [workflows.deleted(workflow_id) for workflow_id in ids] == [False, False, True, True, True]
    await workflows.put('churn-0', _definition('churn-0'))
    await workflows.delete('churn-0')
    assert [workflows.deleted(workflow_id) for workflow_id in ids] == [True, False, True, False, True]
