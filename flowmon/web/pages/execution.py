"""``/executions/{id}``: one execution, live while it runs, drawn from its stored events once it has ended.

The page pulls from the live view with one ``ui.timer`` every 80 ms (``changed_since`` makes an idle tick almost
free) and never subscribes to the bus, so leaving the page or closing the tab releases everything with the timer.
An execution that is no longer in the projection is loaded from the history once. Cancel (confirmed first) and
Rerun (a dialog with the previous input in a JSON editor, checked as it is typed, to fix before running again;
"Rerun from this node" in the inspector opens the same) call the executions use cases and report problems with
``ui.notify``; an imported execution is read-only, so it has neither (and the use cases refuse them anyway). Delete
(confirmed first; once it has ended, imported ones too) removes it for good and goes to the list of executions. The
header says how the execution was started. A deleted execution's page (deleted in another tab, by a pruning or by
another process) says so and withdraws its actions: the live view counts deletions (those of other processes arrive
over the cluster's change feed), so the page's tick compares a number; once the execution has ended, the tick only
does that, every half second. When the live view cannot say (too many deletions since, or news from another process
lost), the page asks the store once. The Gantt chart of the replay page grows under the canvas while the run
goes, drawn from the state the page pulls (every half second, not on every tick), its wait in the queue above the
node rows (growing while it waits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from nicegui import background_tasks, ui

from flowmon.application import Application
from flowmon.application.errors import AppError, NotFound
from flowmon.application.workflows import StoredWorkflow
from flowmon.engine.core.events import Event, utcnow
from flowmon.engine.core.graph import definition_order
from flowmon.engine.core.provenance import trigger_type
from flowmon.engine.core.replay_index import live_spans
from flowmon.engine.core.state import ExecutionState
from flowmon.web.auth import is_signed_in
from flowmon.web.format import duration, short_id
from flowmon.web.rerun_context import missing_node, rerun_note
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.confirm_dialog import confirm
from flowmon.web.widgets.deletion_watch import DeletionWatch
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.execution_view import ExecutionView
from flowmon.web.widgets.history_actions import HistoryActions
from flowmon.web.widgets.json_input_dialog import JsonInputDialog, pretty
from flowmon.web.widgets.timeline_chart import queue_wait
from flowmon.web.widgets.trigger_label import TriggerLabel

log = logging.getLogger(__name__)

T = TypeVar('T')

TICK_SECONDS = 0.08
GANTT_SECONDS = 0.5  # how often the Gantt chart of a running execution is redrawn (every segment, one patch)
BACKLOG = 5000  # stored events loaded for the log of an execution (its latest ones)
RELOAD_SECONDS = 1.0  # how often a run the live view let go of is read from the store, until it shows its end
WATCH_SECONDS = 0.5  # how often the page of an ended execution looks whether it was deleted (elsewhere)


def create(application: Application, execution_id: str) -> None:
    """Build the page for ``execution_id``; data that needs the database is loaded once connected."""
    body = ui.column().classes('fm-page w-full gap-4')
    with body:
        version, deletions = application.live.version, application.live.deletions
        state = application.live.get(execution_id)
        definition = application.live.snapshot(execution_id)
        if state is not None and definition is not None:
            # in the projection: draw at once
            _LivePage(application, execution_id, body, state, definition, (version, deletions))
            return
        with ui.row().classes('w-full justify-center py-16') as spinner:
            ui.spinner(size='lg')
        ui.timer(0, lambda: _load(application, execution_id, body, spinner), once=True)


async def _load(application: Application, execution_id: str, body: ui.column, spinner: ui.element) -> None:
    history = application.history
    state: ExecutionState | None = None
    definition: dict[str, Any] | None = None
    read_only = True
    # the page follows the changes made after this version: an event taken while the awaits below run (another
    # process's run, followed from the database, moves on meanwhile) is one of them, even if none follows it
    version, deletions = application.live.version, application.live.deletions  # (a deletion meanwhile: shown too)
    try:
        state = await history.state(execution_id)
        definition = await history.definition(execution_id, state)
        read_only = await history.is_imported(execution_id)
    except NotFound:
        state = None
    except Exception:
        log.exception('could not load execution %s', execution_id)
        state = None
    if body.is_deleted:
        return
    spinner.delete()
    with body:
        if state is None or definition is None:
            _not_found(execution_id)
        else:
            _LivePage(application, execution_id, body, state, definition, (version, deletions), read_only=read_only)


class _LivePage:
    """The page's header and actions, the composed view, and the pull loop that keeps them current."""

    def __init__(
        self,
        application: Application,
        execution_id: str,
        body: ui.column,
        state: ExecutionState,
        definition: dict[str, Any],
        versions: tuple[int, int],
        *,
        read_only: bool = False,
    ) -> None:
        """``state`` is the execution as it was at the live view's version (``versions``: it and the deletion number
        when the state was read) or later: the page pulls every change made after that version, and watches for the
        execution's deletion after that number."""
        self._application = application
        self._live = application.live
        self._read_only = read_only  # imported: no cancel, no rerun
        self._id = execution_id
        self._body = body
        self._version, self._deletions = versions
        self._settled = False  # ended and shown to its end: the timer only watches for a deletion
        self._state = state
        self._fetching = False
        self._let_go = False  # the live view no longer holds the execution, shown running: read it from the store
        self._reloaded_at = -RELOAD_SECONDS
        self._median_ms: float | None = None
        _header(state, definition)
        self._deletion = DeletionWatch(
            f'execution {execution_id}',
            'This execution was deleted. What it showed stays on this page until you leave it.',
            'execution-deleted',
            deleted=weak_callback(self._deleted_since),
            read=lambda: application.history.record(execution_id),
            withdraw=weak_callback(self._withdraw),
        )
        self.view = ExecutionView(
            definition, on_rerun_from=None if read_only else weak_callback(self._rerun_from), announce=True
        )
        self.gantt = self.view.add_timeline(
            'one row per node, one segment per attempt, growing while it runs; click a segment to inspect it',
            None,
            weak_callback(self._span_clicked),
        )
        self._gantt_order = definition_order(definition)
        self._gantt_drawn: tuple[float, int] | None = None  # when the Gantt was last grown, and to which event
        if read_only:
            with self.view.actions:
                ui.label('Imported: read-only').classes('text-sm text-gray-500').mark('read-only-note')
        with self.view.actions:
            self._cancel = (
                ui.button('Cancel', icon='stop_circle', on_click=self._confirm_cancel)
                .props('outline color=negative no-caps data-testid=cancel-execution data-fm-shortcut=cancel')
                .mark('cancel-execution')
            )
            self._rerun = (
                ui.button('Rerun…', icon='replay', on_click=lambda: self._open_rerun(None))
                .props('unelevated no-caps data-testid=rerun-execution data-fm-shortcut=run')
                .mark('rerun-execution')
            )
            self._history = HistoryActions(
                application, execution_id, state.workflow_id, state.created_at, retry_of=state.retry_of
            )
            self._delete = (
                ui.button('Delete', icon='delete', on_click=self._confirm_delete)
                .props('outline color=negative no-caps data-testid=delete-execution')
                .mark('delete-execution')
            )
        self._cancel_dialog: ui.dialog | None = None  # built on first use: most visits never cancel
        self._cancelling_note: ui.notification | None = None  # "Cancelling…", until the execution has ended
        self._show_actions()
        initial = self._live.recent_events(execution_id, 0) or []
        self.view.show(state, initial, now=utcnow() if not state.is_terminal else None)
        self._grow_gantt()
        self._timer = ui.timer(TICK_SECONDS, self._tick)
        ui.timer(0, self._load_history, once=True)

    def _tick(self) -> None:
        if self._deletion.look() or self._settled:
            return
        version, changed = self._live.changed_since(self._version)
        self._version = version
        moved = changed is None or self._id in changed
        if moved:
            live = self._live.get(self._id)
            if live is not None:
                self._state = live
            # let go by the live view while shown running (many runs ended since the page last looked): the store
            # has how it went on
            self._let_go = live is None and not self._state.is_terminal
        clock = asyncio.get_running_loop().time()
        if self._let_go and not self._fetching and clock - self._reloaded_at >= RELOAD_SECONDS:
            self._fetching, self._reloaded_at = True, clock
            background_tasks.create(self._reload_state(), name=f'state of {self._id}', context=self._body)
        behind = self.view.event_log.last_seq < self._state.last_seq and not self._fetching
        if not (moved or behind or self.view.wants_clock):
            if self._state.is_terminal and not self._fetching:
                # an ended execution never changes again: stop pulling, only watch (less often) for its deletion
                self._settled = True
                self._timer.interval = WATCH_SECONDS
            return
        events = self._new_events()
        self.view.show(self._state, events, now=None if self._state.is_terminal else utcnow())
        self._show_actions()
        self._show_eta()
        self._grow_gantt()

    def _deleted_since(self) -> bool | None:
        """Whether the execution was deleted since the page last looked: the live view knows of deletions here and
        of those other processes announce; None when it cannot say (the store is asked then)."""
        self._deletions, deleted = self._live.deleted_since(self._deletions, self._id)
        return deleted

    def _withdraw(self) -> None:
        """The execution was deleted: what the page shows stays readable, but nothing acts on it any more."""
        self._timer.active = False
        for button in (self._cancel, self._rerun, self._delete):  # (disabled too, as the workflow page's are)
            button.set_visibility(False)
            button.disable()
        self._history.withdraw()
        if self._cancel_dialog is not None:
            self._cancel_dialog.close()
        self.view.inspector.withdraw_rerun(self._state)

    def _grow_gantt(self) -> None:
        """The Gantt chart from the state the page pulled: every GANTT_SECONDS while the run goes (its open attempts
        reach to now), and once more for the final state."""
        state, clock = self._state, asyncio.get_running_loop().time()
        drawn = self._gantt_drawn
        if drawn is not None:
            if state.is_terminal and drawn[1] == state.last_seq:
                return
            if not state.is_terminal and clock - drawn[0] < GANTT_SECONDS:
                return
        self._gantt_drawn = (clock, state.last_seq)
        end = (state.finished_at or state.last_ts) if state.is_terminal else utcnow()
        origin = state.created_at
        self.gantt.grow(
            live_spans(state, self._gantt_order),
            (end - origin).total_seconds() if end and origin else 0,
            queue_wait(state, end),
        )

    def _span_clicked(self, node_id: str, _: int) -> None:
        self.view.select(node_id)

    def _new_events(self) -> Sequence[Event]:
        if self._fetching:
            return []
        after = self.view.event_log.last_seq
        if after >= self._state.last_seq:
            return []
        events = self._live.recent_events(self._id, after)
        if events is None:  # the live buffer no longer reaches back: fetch the gap from the store once
            self._fetching = True
            background_tasks.create(self._fetch_stored(after), name=f'events of {self._id}', context=self._body)
            return []
        return events

    async def _reload_state(self) -> None:
        state: ExecutionState | None = None
        try:
            state = await self._application.history.state(self._id)
            self._let_go = not state.is_terminal  # (the store a moment behind: read again)
        except NotFound:
            self._let_go = False  # deleted meanwhile
        except Exception:
            log.exception('could not load execution %s', self._id)  # tried again
        finally:
            self._fetching = False
        if state is not None and state.last_seq > self._state.last_seq:
            self._state = state  # the next tick finds the page behind it and shows it, with the events it lacks

    async def _fetch_stored(self, after: int) -> None:
        try:
            events = await self._application.history.events(
                self._id, after_seq=max(after, self._state.last_seq - BACKLOG)
            )
        except Exception:
            log.exception('could not load the events of %s', self._id)
            events = []
        finally:
            self._fetching = False
        if not self._body.is_deleted and events:
            with self._body:
                self.view.show(self._state, events, now=None if self._state.is_terminal else utcnow())

    async def _load_history(self) -> None:
        """Stored events for the log (when the live buffer lacks them), the median for the ETA and each node's usual
        duration (for the slower-than-usual flags)."""
        if self.view.event_log.last_seq == 0 and self._live.recent_events(self._id, 0) is None:
            self._fetching = True
            await self._fetch_stored(0)
        stats = self._application.stats
        try:
            self._median_ms = await self._application.history.usual_duration_ms(self._state.workflow_id)
            usual = await stats.baselines(self._state.workflow_id, self.view.node_ids, excluding=self._id, fresh=True)
        except Exception:
            log.exception('could not load past durations for %s', self._state.workflow_id)
            return
        if not self._body.is_deleted:
            with self._body:
                self._show_eta()
                self.view.set_baselines(usual)

    def _show_eta(self) -> None:
        self.view.note.set_text(_eta_text(self._state, self._median_ms))

    def _show_actions(self) -> None:
        if self._deletion.gone:
            return
        ended = self._state.is_terminal
        if ended and self._cancelling_note is not None:  # the status says it now; "Cancelling…" would be stale
            self._cancelling_note.dismiss()
            self._cancelling_note = None
        self._cancel.set_visibility(not ended and not self._read_only)
        self._rerun.set_visibility(ended and not self._read_only)
        self._delete.set_visibility(ended)
        self._history.set_ended(ended)

    # --- actions --------------------------------------------------------------------------------------

    async def _confirm_cancel(self) -> None:
        if self._cancel_dialog is None:
            with self._body:
                self._cancel_dialog = _cancel_dialog()
        self._cancel_dialog.open()
        if not await self._cancel_dialog:
            return
        await self._act('cancel', lambda: self._application.executions.cancel(self._id), self._cancelling)

    def _cancelling(self, _: object) -> None:
        if self._state.is_terminal:  # (the page showed the end before the cancel answered: the status says it)
            return
        with self._body:
            self._cancelling_note = ui.notification('Cancelling…', type='info')

    async def _confirm_delete(self) -> None:
        question = (
            'Its events, node runs, replay and export go for good; a running rerun of it is not affected. '
            'This cannot be undone.'
        )
        if not await confirm(
            'Delete this execution?', question, ok_label='Delete', ok_color='negative', marker='confirm-delete',
            host=self._body,
        ):  # fmt: skip
            return
        delete = self._application.executions.delete
        await self._act('delete', lambda: delete(self._id), self._deleted, refused='Could not delete: ')

    def _deleted(self, _: object) -> None:
        ui.notify(f'Execution {short_id(self._id)} deleted', type='positive')
        ui.navigate.to('/executions')

    async def _rerun_from(self, node_id: str) -> None:
        await self._open_rerun(node_id)

    async def _open_rerun(self, from_node: str | None) -> None:
        """The rerun dialog: the previous input in a JSON editor, to run again as it was or fixed first; what the
        rerun will run is said first (the workflow's current definition may have changed since this run)."""
        try:
            current: StoredWorkflow | None = await self._application.workflows.get(self._state.workflow_id or '')
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
        with self._body:
            dialog = JsonInputDialog(
                title=title,
                hint=f'{hint} The new execution records that it reruns this one.{rerun_note(self._state, current)}',
                value=pretty(self._state.input),
                on_submit=lambda value: self._start_rerun(from_node, value),
                budget=self._application.executions.budget,
                run_label='Rerun',
            )
        dialog.dialog.on('hide', dialog.dialog.delete)
        dialog.open()

    async def _start_rerun(self, from_node: str | None, input: dict[str, Any]) -> None:
        rerun = self._application.executions.rerun
        await self._act('rerun', lambda: rerun(self._id, from_node=from_node, input=input), _open, multi_line=True)

    async def _act(
        self,
        verb: str,
        action: Callable[[], Awaitable[T]],
        on_done: Callable[[T], None],
        *,
        refused: str = '',
        multi_line: bool = False,
    ) -> None:
        """Run ``action`` on this execution for a signed-in visitor, then ``on_done`` with its result; a refusal
        (``refused`` before the reason) or a failure is a notify."""
        if not is_signed_in(self._application.token):
            ui.notify(f'Sign in again to {verb} executions.', type='warning')
            return
        if self._deletion.gone:
            ui.notify('This execution was deleted.', type='warning')
            return
        try:
            result = await action()
        except AppError as exc:
            ui.notify(f'{refused}{exc}', type='warning', multi_line=multi_line)
            return
        except Exception as exc:
            log.exception('%s of %s failed', verb, self._id)
            ui.notify(f'Could not {verb}: {exc}', type='negative')
            return
        on_done(result)


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


def _header(state: ExecutionState, definition: dict[str, Any]) -> None:
    name = str(definition.get('name') or state.workflow_id or 'Execution')
    with ui.row().classes('w-full items-end gap-3 no-wrap fm-wrap-narrow'):
        with ui.column().classes('gap-0 min-w-0'):
            with ui.row().classes('items-center gap-1 text-sm text-gray-500'):
                ui.link('Executions', '/executions').classes('text-gray-500 no-underline hover:underline')
                ui.icon('chevron_right', size='16px')
                if state.workflow_id:
                    ui.link(name, f'/workflows/{state.workflow_id}').classes(
                        'text-gray-500 no-underline hover:underline'
                    )
            with ui.row().classes('items-baseline gap-3'):
                ui.label(name).classes('fm-title')
                # the id and its copy button wrap as one: the button never sits alone on a line of its own
                with ui.row().classes('items-baseline gap-1 no-wrap').props('data-testid=execution-id-group'):
                    ui.label(short_id(state.id)).classes('font-mono text-sm text-gray-500').tooltip(state.id).props(
                        'data-testid=execution-id'
                    )
                    ui.button(icon='content_copy', on_click=lambda: _copy_id(state.id)).props(
                        'flat round dense size=sm aria-label="Copy execution id" data-testid=copy-execution-id'
                    ).mark('copy-execution-id')
            _started_by(state)


def _started_by(state: ExecutionState) -> None:
    """The trigger: its word and icon, and what identifies the source (the cron expression, the webhook-id, the
    execution it reran)."""
    trigger = state.trigger or {}
    kind = trigger_type(state.trigger)
    if kind is None and not state.retry_of:
        return  # recorded before flowmon recorded triggers: nothing to say
    with (
        ui.row()
        .classes('items-center gap-2 text-sm text-gray-500')
        .props('data-testid=execution-trigger')
        .mark('execution-trigger')
    ):
        ui.label('Started by')
        TriggerLabel(kind)
        if kind == 'schedule':
            ui.label(f'{trigger.get("cron", "")} ({trigger.get("timezone", "UTC")})').classes('font-mono')
        elif kind == 'hook':
            ui.label(f'webhook-id {trigger.get("webhook-id", "")}').classes('font-mono fm-ellipsis')
        if state.retry_of:
            ui.label('of')
            ui.link(short_id(state.retry_of), f'/executions/{state.retry_of}').classes('font-mono')
            if state.from_node:
                ui.label(f'from node {state.from_node}')


def _copy_id(execution_id: str) -> None:
    ui.clipboard.write(execution_id)
    ui.notify('Execution id copied', type='positive')


def _not_found(execution_id: str) -> None:
    reason = f'There is no execution with the id {execution_id!r}.'
    not_found('execution-not-found', 'search_off', 'Execution not found', [reason], ('All executions', '/executions'))


def _eta_text(state: ExecutionState, median_ms: float | None) -> str:
    if median_ms is None:
        return ''
    usual = duration(median_ms)
    if state.is_terminal or state.started_at is None:
        return f'usually takes {usual}'
    elapsed_ms = (utcnow() - state.started_at).total_seconds() * 1000
    left = median_ms - elapsed_ms
    if left <= 0:
        return f'taking longer than usual ({usual})'
    return f'about {duration(left)} left · usually {usual}'
