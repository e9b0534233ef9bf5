"""Ids that no stored workflow or execution can have: not found without a query.

A workflow's id matches :data:`~flowmon.engine.model.ID_PATTERN` (the definition's check refuses any other), an
execution's is at most 40 letters, digits and ``_.-`` (flowmon makes them; an import keeps none but such). An id of
neither form (a NUL character, a space, a path segment of 5,000 characters) names nothing that exists, so it is
answered as an unknown one is, before the database is asked: the answer is the same on every database, and an input
that one of them cannot even compare (PostgreSQL's text holds no NUL) never reaches it.
"""

from __future__ import annotations

import re

from flowmon.automation.triggers import NO_TRIGGER
from flowmon.engine.model import ID_PATTERN

from .errors import Invalid, NotFound

_WORKFLOW_ID = re.compile(ID_PATTERN)
EXECUTION_ID_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$')
WORKFLOW_ID_RULE = '1-64 letters, digits, "_", "." or "-", the first a letter or a digit'


def unknown_workflow(workflow_id: str) -> NotFound | None:
    """The NotFound of a workflow id no stored workflow can have, or None for one of the id's form."""
    return None if _WORKFLOW_ID.fullmatch(workflow_id) else NotFound(f'workflow {workflow_id!r} not found')


def unknown_execution(execution_id: str) -> NotFound | None:
    """The NotFound of an execution id no stored execution can have, or None for one of the id's form."""
    return None if EXECUTION_ID_PATTERN.fullmatch(execution_id) else NotFound(f'execution {execution_id!r} not found')


def no_trigger(workflow_id: str) -> NotFound | None:
    """What ``POST /hooks/{workflow_id}`` answers for an id no workflow can have: the one answer of every address
    without a trigger."""
    return None if _WORKFLOW_ID.fullmatch(workflow_id) else NotFound(NO_TRIGGER)


def workflow_filter(workflow_id: str | None) -> Invalid | None:
    """The refusal (422) of a list's ``workflow_id`` filter that no workflow can have, or None (also for no filter)."""
    if not workflow_id or _WORKFLOW_ID.fullmatch(workflow_id):
        return None
    return Invalid(f'workflow_id must be a workflow id ({WORKFLOW_ID_RULE}), got {workflow_id!r}', at='workflow_id')
