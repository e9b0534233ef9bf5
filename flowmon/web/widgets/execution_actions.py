"""The execution page's actions on its execution: Cancel, Rerun… and Delete, with the history actions (Replay,
Compare, Export) between them, in the view's action row.

Cancel (while it runs) asks first, in a dialog built on first use, then says "Cancelling…" until the page shows the
execution ended. Rerun… (once it has ended; "Rerun from this node" in the inspector opens the same) says what the
rerun will run, then opens the previous input in a JSON editor, checked as it is typed, to run again as it was or
fixed first; the new execution's page opens. Delete (once it has ended, imported ones too) asks first, then removes
the execution for good and goes to the list of executions. An imported execution is read-only: a note says so, and
it has neither Cancel nor Rerun (the use cases refuse them anyway).

Each action calls the executions use case for a signed-in visitor, on an execution not seen deleted, and reports a
refusal or a failure with ``ui.notify``. Once the execution is deleted, :meth:`ExecutionActions.withdraw` takes them
all away. A rerun refused because the execution was deleted keeps its dialog open with the input typed: where the
workflow still exists, the dialog offers to start it with that input (a new execution, not a rerun); where it does
not, it says so, and the input stays in the editor to be copied.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nicegui import background_tasks, ui

from flowmon.application import Application
from flowmon.application.errors import AppError, NotFound
from flowmon.application.workflows import StoredWorkflow
from flowmon.engine.core.state import ExecutionState
from flowmon.web.actions import NotDone, found, one_at_a_time, run_workflow
from flowmon.web.auth import is_signed_in
from flowmon.web.format import short_id
from flowmon.web.rerun_context import missing_node, rerun_note
from flowmon.web.widgets.confirm_dialog import confirm
from flowmon.web.widgets.deletion_watch import DeletionWatch
from flowmon.web.widgets.history_actions import HistoryActions
from flowmon.web.widgets.json_input_dialog import JsonInputDialog, pretty

# The execution page's logger: its actions' failures keep the name they have always been logged under.
log = logging.getLogger('flowmon.web.pages.execution')

T = TypeVar('T')

# Seconds a withdrawn "Cancelling…" still shows where the browser had not drawn it yet when it was withdrawn.
WITHDRAWN_TIMEOUT = 0.05


class ExecutionActions:
    """The buttons of one execution, built where it is made; :meth:`show` shows those that apply as it runs and
    once it has ended."""

    def __init__(
        self,
        application: Application,
        execution_id: str,
        state: ExecutionState,
        *,
        current: Callable[[], ExecutionState | None],
        deletion: DeletionWatch,
        host: ui.element,
        read_only: bool = False,
    ) -> None:
        """``state`` is the execution as the page first shows it, ``current`` as the page shows it now (None once the
        page is gone); ``deletion`` is the page's watch for its deletion, ``host`` where dialogs and notes are built."""
        self._application = application
        self._id = execution_id
        self._current = current
        self._deletion = deletion
        self._host = host
        self._read_only = read_only  # imported: no cancel, no rerun
        if read_only:
            ui.label('Imported: read-only').classes('text-sm text-gray-500').mark('read-only-note')
        self._cancel = (
            ui.button('Cancel', icon='stop_circle', on_click=self._confirm_cancel)
            .props('outline color=negative no-caps data-testid=cancel-execution data-fm-shortcut=cancel')
            .mark('cancel-execution')
        )
        self._rerun = (
            ui.button('Rerun…', icon='replay', on_click=one_at_a_time(lambda: self.open_rerun(None)))
            .props('unelevated no-caps data-testid=rerun-execution data-fm-shortcut=run')
            .mark('rerun-execution')
        )
        self._history = HistoryActions(
            application, execution_id, state.workflow_id, state.created_at, retry_of=state.retry_of
        )
        self._delete = (
            ui.button('Delete', icon='delete', on_click=one_at_a_time(self._confirm_delete))
            .props('outline color=negative no-caps data-testid=delete-execution')
            .mark('delete-execution')
        )
        self._cancel_dialog: ui.dialog | None = None  # built on first use: most visits never cancel
        self._cancelling_note: ui.notification | None = None  # "Cancelling…", until the execution has ended
        self._rerun_dialog: weakref.ref[JsonInputDialog] | None = None  # the last rerun dialog (deleted when closed)
        # rerun dialogs told (or being told) that the execution was deleted: told once, whoever sees it first
        self._told_deleted: weakref.WeakSet[JsonInputDialog] = weakref.WeakSet()

    def show(self, ended: bool) -> None:
        """Cancel while the execution runs; Rerun, Export and Delete once it has ``ended``."""
        if self._deletion.gone:
            return
        if ended and self._cancelling_note is not None:  # the status says it now; "Cancelling…" would be stale
            _withdraw(self._cancelling_note)
            self._cancelling_note = None
        self._cancel.set_visibility(not ended and not self._read_only)
        self._rerun.set_visibility(ended and not self._read_only)
        self._delete.set_visibility(ended)
        self._history.set_ended(ended)

    def withdraw(self) -> None:
        """The execution was deleted: nothing acts on it any more."""
        for button in (self._cancel, self._rerun, self._delete):  # (disabled too, as the workflow page's are)
            button.set_visibility(False)
            button.disable()
        self._history.withdraw()
        if self._cancel_dialog is not None:
            self._cancel_dialog.close()
        dialog = self._open_rerun_dialog()
        if dialog is not None and dialog not in self._told_deleted:  # it stays, with what was typed, and says what
            # is left to do (unless a refused rerun has said it already, or is saying it)
            background_tasks.create(self._rerun_refused(), name=f'rerun of deleted {self._id}', context=self._host)

    async def _confirm_cancel(self) -> None:
        if self._cancel_dialog is None:
            with self._host:
                self._cancel_dialog = _cancel_dialog()
        self._cancel_dialog.open()
        if not await self._cancel_dialog:
            return
        await self._act('cancel', lambda: self._application.executions.cancel(self._id), self._cancelling)

    def _cancelling(self, _: object) -> None:
        state = self._current()
        if state is None or state.is_terminal:  # (the page showed the end before the cancel answered: the status says)
            return
        with self._host:
            self._cancelling_note = ui.notification('Cancelling…', type='info')

    async def _confirm_delete(self) -> None:
        question = (
            'Its events, node runs, replay and export go for good; a running rerun of it is not affected. '
            'This cannot be undone.'
        )
        if not await confirm(
            'Delete this execution?', question, ok_label='Delete', ok_color='negative', marker='confirm-delete',
            host=self._host,
        ):  # fmt: skip
            return
        delete = self._application.executions.delete
        await self._act('delete', lambda: delete(self._id), self._deleted, refused='Could not delete: ')

    def _deleted(self, _: object) -> None:
        ui.notify(f'Execution {short_id(self._id)} deleted', type='positive')
        ui.navigate.to('/executions')

    async def open_rerun(self, from_node: str | None) -> None:
        """The rerun dialog (of the whole run, or ``from_node`` on): the previous input in a JSON editor, to run again
        as it was or fixed first; what the rerun will run is said first (the workflow's current definition may have
        changed since this run)."""
        state = self._current()
        if state is None:
            return
        try:
            current: StoredWorkflow | None = await self._application.workflows.get(state.workflow_id or '')
        except NotFound:
            current = None
        refusal = missing_node(from_node, current)
        if refusal is not None:
            ui.notify(refusal, type='warning', multi_line=True)
            return
        if from_node is None:
            title = 'Rerun this execution'
            hint = 'Every node runs again. Fix the input first if it was the problem.'
        else:
            title = f'Rerun from node {from_node}'
            hint = f'{from_node} and everything downstream run again; the nodes before it keep their outputs.'
        with self._host:
            dialog = JsonInputDialog(
                title=title,
                hint=f'{hint} The new execution records that it reruns this one.{rerun_note(state, current)}',
                value=pretty(state.input),
                on_submit=lambda value: self._start_rerun(from_node, value),
                budget=self._application.executions.budget,
                run_label='Rerun',
            )
        dialog.dialog.on('hide', dialog.dialog.delete)
        self._rerun_dialog = weakref.ref(dialog)
        dialog.open()

    def _open_rerun_dialog(self) -> JsonInputDialog | None:
        dialog = self._rerun_dialog() if self._rerun_dialog is not None else None
        return None if dialog is None or dialog.dialog.is_deleted else dialog

    async def _start_rerun(self, from_node: str | None, input: dict[str, Any]) -> bool:
        """Whether the rerun started (else the dialog stays open with ``input``)."""
        rerun = self._application.executions.rerun
        not_done = await self._act(
            'rerun', lambda: rerun(self._id, from_node=from_node, input=input), _open, multi_line=True
        )
        return not_done is None or await self._rerun_refused(not_done)

    async def _rerun_refused(self, not_done: NotDone = NotDone.REFUSED, *, again: bool = False) -> bool:
        """The rerun was refused (the notification said why, or the page saw the execution deleted) and the dialog
        stays open with the input. When the execution is gone, the dialog says so and offers what is left: a new run
        of its workflow with the input; once (the refusal and the page's watch both see the deletion), unless
        ``again``: that new run was refused, and the workflow may have gone since. After an unexpected error
        (``NotDone.FAILED``, logged and said) nothing more is looked up: the store that failed would only fail
        again. False: the dialog stays."""
        if not_done is NotDone.FAILED:
            return False
        state, dialog = self._current(), self._open_rerun_dialog()
        if state is None or dialog is None or not (self._deletion.gone or await self._gone()):
            return False
        told = dialog in self._told_deleted
        if told and not again:
            return False
        self._told_deleted.add(dialog)
        workflow_id = state.workflow_id or ''
        try:
            workflow = await found(self._application.workflows.get(workflow_id))
        except Exception:  # (the dialog stays as it is, with the input; a later refusal looks again)
            if not told:  # (one told already still says so: its "Start new execution" looks again)
                self._told_deleted.discard(dialog)
            log.exception('could not look up workflow %s', workflow_id)
            unexpected = f'Could not look up workflow {workflow_id!r}: unexpected error (see the server log).'
            ui.notify(unexpected, type='negative')
            return False
        if dialog.dialog.is_deleted:  # (closed meanwhile)
            return False
        if workflow is None:
            note = (
                'This execution was deleted, and so was its workflow: nothing can run this input now. Copy it from '
                'the editor to keep it.'
            )
            dialog.redirect(note, None, None)
            return False

        async def start(value: dict[str, Any]) -> bool:
            # refused: the workflow may have been deleted since the note was written (then nothing can run it)
            started = await run_workflow(self._application, workflow_id, value)
            return not isinstance(started, NotDone) or await self._rerun_refused(started, again=True)

        note = (
            f'This execution was deleted, so it cannot be rerun. You can start its workflow “{workflow.name}” with '
            'this input instead: a new execution of the whole workflow, not a rerun.'
        )
        dialog.redirect(note, 'Start new execution', start)
        return False

    async def _gone(self) -> bool:
        """Whether the execution is no longer stored (read once, after a refusal)."""
        try:
            return await self._application.history.record(self._id) is None
        except Exception:
            log.exception('could not look whether execution %s still exists', self._id)
            return False

    async def _act(
        self,
        verb: str,
        action: Callable[[], Awaitable[T]],
        on_done: Callable[[T], None],
        *,
        refused: str = '',
        multi_line: bool = False,
    ) -> NotDone | None:
        """Run ``action`` on this execution for a signed-in visitor, then ``on_done`` with its result; a refusal
        (``refused`` before the reason) or a failure is a notify. None when it went through, else why not."""
        if not is_signed_in(self._application.token):
            ui.notify(f'Sign in again to {verb} executions.', type='warning')
            return NotDone.REFUSED
        if self._deletion.gone:
            ui.notify(f'Could not {verb}: this execution was deleted.', type='warning')
            return NotDone.REFUSED
        try:
            result = await action()
        except AppError as exc:
            ui.notify(f'{refused}{exc}', type='warning', multi_line=multi_line)
            return NotDone.REFUSED
        except Exception:
            log.exception('%s of %s failed', verb, self._id)
            ui.notify(f'Could not {verb}: unexpected error (see the server log).', type='negative')
            return NotDone.FAILED
        on_done(result)
        return None


def _withdraw(note: ui.notification) -> None:
    """Take ``note`` off the screen. A dismiss reaches only a notification the browser has drawn (NiceGUI drops a
    method call for an element not mounted yet: on a loaded machine the end can come first), so the note is also
    given a blink of a timeout, which a browser that draws it later draws it with."""
    note.timeout = WITHDRAWN_TIMEOUT
    note.update()
    note.dismiss()


def _open(execution_id: str) -> None:
    ui.navigate.to(f'/executions/{execution_id}')


def _cancel_dialog() -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes('fm-panel gap-3').props('data-testid=cancel-dialog'):
        ui.label('Cancel this execution?').classes('text-lg font-semibold')
        ui.label('Running nodes are stopped and nodes that have not started are not run.').classes(
            'text-sm text-gray-600 dark:text-gray-400'
        )
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Keep running', on_click=dialog.close).props('flat no-caps').mark('keep-running')
            ui.button('Cancel execution', on_click=lambda: dialog.submit(True)).props(
                'unelevated color=negative no-caps data-testid=confirm-cancel'
            ).mark('confirm-cancel')
    return dialog
