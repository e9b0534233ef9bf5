"""What buttons do, checked again in the handler: a hidden button is not an authorisation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nicegui import ui

from flowmon.engine.core.payload import PayloadError
from flowmon.engine.model import WorkflowError
from flowmon.services import NotFound, Services

from .auth import LOGIN_PATH, is_signed_in

log = logging.getLogger(__name__)

T = TypeVar('T')


async def guarded(
    services: Services,
    what: str,
    action: Callable[[], Awaitable[T]],
    expected: tuple[type[Exception], ...] = (),
) -> T | None:
    """Run ``action`` for a signed-in visitor; an ``expected`` error is a notify naming it. None when refused."""
    if not is_signed_in(services.token):
        ui.notify('Your session has ended: sign in again.', type='warning')
        ui.navigate.to(LOGIN_PATH)
        return None
    try:
        return await action()
    except expected as exc:
        ui.notify(f'Could not {what}: {exc}', type='negative', multi_line=True)
    except Exception:
        log.exception('could not %s', what)
        ui.notify(f'Could not {what}: unexpected error (see the server log).', type='negative')
    return None


async def run_workflow(services: Services, workflow_id: str, input: dict[str, Any] | None = None) -> str | None:
    """Start ``workflow_id`` and open its execution page; returns the new id (None when refused)."""
    if not is_signed_in(services.token):
        ui.notify('Your session has ended: sign in again.', type='warning')
        ui.navigate.to(LOGIN_PATH)
        return None
    try:
        execution_id = await services.start_execution(workflow_id, input or {})
    except NotFound:
        ui.notify(f'Workflow {workflow_id!r} no longer exists.', type='negative')
        return None
    except WorkflowError as exc:
        ui.notify(f'Workflow {workflow_id!r} is not valid any more: {exc}', type='negative', multi_line=True)
        return None
    except PayloadError as exc:  # the input is over the payload budget
        ui.notify(f'The input was not accepted: {exc}.', type='negative', multi_line=True)
        return None
    except RuntimeError as exc:  # the engine is stopping
        log.warning('run of %s refused: %s', workflow_id, exc)
        ui.notify(f'Cannot start now: {exc}', type='negative')
        return None
    ui.navigate.to(f'/executions/{execution_id}')
    return execution_id
