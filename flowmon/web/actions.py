"""What buttons do, checked again in the handler: a hidden button is not an authorisation."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, Literal, ParamSpec, TypeVar

from nicegui import ui

from flowmon.application import Application
from flowmon.application.errors import AppError, NotFound, RefusedPayload
from flowmon.engine.core.provenance import ui_trigger

from .auth import LOGIN_PATH, is_signed_in

log = logging.getLogger(__name__)

T = TypeVar('T')
P = ParamSpec('P')
Kind = Literal['positive', 'info']


class NotDone(Enum):
    """Why an action did not go through (a notification said so already)."""

    REFUSED = 'refused'  # refused (an AppError, or the visitor signed out): what it acted on may have changed
    FAILED = 'failed'  # an unexpected error, logged with its traceback: looking further would only fail again


def one_at_a_time(handler: Callable[P, Awaitable[object] | object]) -> Callable[P, Awaitable[None]]:
    """``handler`` (of a button, an Enter key) done once at a time: a click while an earlier one's action is under
    way (a double-click, a second click before a slow answer) is ignored, so a double-click on Run starts one run and
    on Create makes one endpoint; the next click once it is done acts again. The wrapper keeps ``handler``'s
    signature, so NiceGUI passes the event only to a handler that takes one."""
    running = False

    @functools.wraps(handler)
    async def once(*args: P.args, **kwargs: P.kwargs) -> None:
        nonlocal running
        if running:
            return
        running = True
        try:
            result = handler(*args, **kwargs)
            if inspect.isawaitable(result):
                await result
        finally:
            running = False

    return once


async def found(lookup: Awaitable[T]) -> T | None:
    """What ``lookup`` finds, or None when that does not exist (a page then shows its "not found" panel)."""
    try:
        return await lookup
    except NotFound:
        return None


def signed_in(application: Application) -> bool:
    """Whether the visitor acting is still signed in; if not, says so and sends them to the sign-in page."""
    if is_signed_in(application.token):
        return True
    ui.notify('Your session has ended: sign in again.', type='warning')
    ui.navigate.to(LOGIN_PATH)
    return False


async def guarded(application: Application, what: str, action: Callable[[], Awaitable[T]]) -> T | None:
    """Run ``action`` for a signed-in visitor; a refusal is a notify naming it. None when refused."""
    if not signed_in(application):
        return None
    try:
        return await action()
    except AppError as exc:
        ui.notify(f'Could not {what}: {exc}', type='negative', multi_line=True)
    except Exception:
        log.exception('could not %s', what)
        ui.notify(f'Could not {what}: unexpected error (see the server log).', type='negative')
    return None


async def act(
    application: Application, what: str, action: Callable[[], Awaitable[T]], done: str, kind: Kind = 'positive'
) -> T | None:
    """:func:`guarded`, and a notify saying ``done`` when the action went through."""
    result = await guarded(application, what, action)
    if result is not None:
        ui.notify(done, type=kind)
    return result


async def performed(
    application: Application, what: str, action: Callable[[], Awaitable[object]], done: str, kind: Kind = 'positive'
) -> bool:
    """:func:`act` for an action that returns nothing: whether it went through."""

    async def went_through() -> bool:
        await action()
        return True

    return bool(await act(application, what, went_through, done, kind))


async def run_workflow(
    application: Application, workflow_id: str, input: dict[str, Any] | None = None
) -> str | NotDone:
    """Start ``workflow_id`` and open its execution page; returns the new id, or why it did not start (said in a
    notification)."""
    if not signed_in(application):
        return NotDone.REFUSED
    try:
        execution_id = await application.executions.start(workflow_id, input or {}, trigger=ui_trigger())
    except NotFound:
        ui.notify(f'Workflow {workflow_id!r} no longer exists.', type='negative')
        return NotDone.REFUSED
    except RefusedPayload as exc:  # the input is over the payload budget
        ui.notify(f'The input was not accepted: {exc}.', type='negative', multi_line=True)
        return NotDone.REFUSED
    except AppError as exc:  # the stored workflow no longer validates, or flowmon is stopping
        log.warning('run of %s refused: %s', workflow_id, exc)
        ui.notify(f'Cannot run {workflow_id!r}: {exc}', type='negative', multi_line=True)
        return NotDone.REFUSED
    except Exception:
        log.exception('could not run %s', workflow_id)
        ui.notify(f'Could not run {workflow_id!r}: unexpected error (see the server log).', type='negative')
        return NotDone.FAILED
    ui.navigate.to(f'/executions/{execution_id}')
    return execution_id
