"""``/executions/{id}``: one execution, live while it runs, drawn from its stored events once it has ended.

The page pulls from the live view with one ``ui.timer`` every 80 ms (``changed_since`` makes an idle tick almost
free) and never subscribes to the bus, so leaving the page or closing the tab releases everything with the timer.
An execution that is no longer in the projection is loaded from the history once.

Around the composed view (:mod:`~flowmon.web.widgets.execution_view`) the page puts its header (how the execution
was started: :mod:`~flowmon.web.widgets.execution_header`), its actions (Cancel, Rerun…, Delete and the history
actions: :mod:`~flowmon.web.widgets.execution_actions`) and the Gantt chart of the replay page, which grows under the
canvas while the run goes, drawn from the state the page pulls (:mod:`~flowmon.web.widgets.live_gantt`). A deleted
execution's page (deleted in another tab, by a pruning or by another process) says so, shows the execution as it
last saw it with the status "deleted" (its clock stopped) and withdraws its actions: the live view counts deletions
(those of other processes arrive over the cluster's change feed), so the page's tick compares a number; once the
execution has ended, the tick only does that, every half second. When the live view cannot say (too many deletions
since, or news from another process lost), the page asks the store once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from nicegui import background_tasks, ui

from flowmon.application import Application
from flowmon.application.errors import NotFound
from flowmon.engine.core.events import Event, utcnow
from flowmon.engine.core.state import ExecutionState
from flowmon.web.format import duration
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.deletion_watch import execution_watch
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.execution_actions import ExecutionActions
from flowmon.web.widgets.execution_header import execution_header
from flowmon.web.widgets.execution_view import ExecutionView
from flowmon.web.widgets.live_gantt import LiveGantt

log = logging.getLogger(__name__)

TICK_SECONDS = 0.08
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
        self._id = execution_id
        self._body = body
        self._version, deletions = versions
        self._settled = False  # ended and shown to its end: the timer only watches for a deletion
        self._state = state
        self._fetching = False
        self._let_go = False  # the live view no longer holds the execution, shown running: read it from the store
        self._reloaded_at = -RELOAD_SECONDS
        self._median_ms: float | None = None
        execution_header(state, definition)
        self._deletion = execution_watch(
            application,
            execution_id,
            deletions,
            'This execution was deleted. What it showed stays on this page until you leave it.',
            'execution-deleted',
            withdraw=weak_callback(self._withdraw),
            seconds=None,  # (the page's tick looks)
        )
        self.view = ExecutionView(
            definition, on_rerun_from=None if read_only else weak_callback(self._rerun_from), announce=True
        )
        self.gantt = LiveGantt(self.view, definition)
        with self.view.actions:
            self.actions = ExecutionActions(
                application,
                execution_id,
                state,
                current=weak_callback(self._current),
                deletion=self._deletion,
                host=body,
                read_only=read_only,
            )
        self.actions.show(state.is_terminal)
        initial = self._live.recent_events(execution_id, 0) or []
        self.view.show(state, initial, now=utcnow() if not state.is_terminal else None)
        self.gantt.grow(state)
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
        self.actions.show(self._state.is_terminal)
        self._show_eta()
        self.gantt.grow(self._state)

    def _withdraw(self) -> None:
        """The execution was deleted: what the page shows stays readable, frozen as last seen with the status
        "deleted" (a run seen running is not shown running on), and nothing acts on it any more."""
        self._timer.active = False
        self.view.show_deleted()
        self.actions.withdraw()
        self.view.inspector.withdraw_rerun(self._state)

    def _current(self) -> ExecutionState:
        return self._state

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
        if self._deletion.gone:  # (seen deleted meanwhile: the page stays as it was last seen)
            return
        if state is not None and state.last_seq > self._state.last_seq:
            self._state = state  # the next tick finds the page behind it and shows it, with the events it lacks

    async def _fetch_stored(self, after: int) -> None:
        try:
            events = await self._application.history.events(
                self._id, after_seq=max(after, self._state.last_seq - BACKLOG)
            )
        except NotFound:  # deleted since the page read it: the deletion watch says so
            events = []
        except Exception:
            log.exception('could not load the events of %s', self._id)
            events = []
        finally:
            self._fetching = False
        if not self._body.is_deleted and events and not self._deletion.gone:  # (deleted meanwhile: drawn no more)
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
        if not self._body.is_deleted and not self._deletion.gone:  # (deleted meanwhile: no ETA for it)
            with self._body:
                self._show_eta()
                self.view.set_baselines(usual)

    def _show_eta(self) -> None:
        self.view.note.set_text(_eta_text(self._state, self._median_ms))

    async def _rerun_from(self, node_id: str) -> None:
        await self.actions.open_rerun(node_id)


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
