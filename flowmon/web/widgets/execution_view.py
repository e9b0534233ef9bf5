"""One execution, composed: status and progress, canvas, node list, inspector, a page's timeline and event log.

Any page drives it with a state and the events up to that state: the live page from the projector, the
replay page with the state "as of event k". It holds no live-only controls; pages put theirs (Cancel,
Rerun) into :attr:`ExecutionView.actions`, and "Rerun from this node" appears only when the page passes
``on_rerun_from``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.application.stats import NodeStats
from flowmon.engine.core.events import Event
from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.state import ExecutionState
from flowmon.web.execution_rows import ENDED_SHORT
from flowmon.web.format import duration, full_timestamp
from flowmon.web.node_views import NodeViews
from flowmon.web.teardown import weak_callback
from flowmon.web.theme import status_quasar
from flowmon.web.widgets.dag_view import DagView
from flowmon.web.widgets.event_log import EventLog
from flowmon.web.widgets.inspector import Inspector
from flowmon.web.widgets.node_list import NodeEntry, NodeList
from flowmon.web.widgets.status_badge import StatusBadge
from flowmon.web.widgets.timeline_chart import TimelineChart

NODE_LIST_WIDTH_PX = 340  # the node list beside the canvas
PROGRESS_MIN_PX = 300  # the progress bar and its figures ("started <date> <time> UTC · ran 1.9 s") beside the buttons
CANVAS_PADDING_PX = 18  # the canvas panel's padding and border, on top of its canvas
ANNOUNCED_ERROR_CHARS = 200  # of a failed run's error, in the announcement (the banner shows all of it)
# The status before the first event (a replay at position 0): every history begins with execution.queued, which makes
# it 'queued'; before that the execution was not there yet (a grey badge, not the pulsing violet of a queued one)
BEFORE_QUEUED = 'not queued yet'
DELETED = 'deleted'  # the status of a page's execution once it was deleted: it shows what was last seen of it

# Runs that ended before all their nodes ran: the summary counts the nodes that succeeded, in the run's colour.


class ExecutionView:
    """The execution page body. Call :meth:`show` whenever the state (or the clock) moves."""

    def __init__(
        self,
        workflow_definition: dict[str, Any],
        *,
        on_rerun_from: Callable[[str], Any] | None = None,
        announce: bool = False,
    ) -> None:
        """``announce``: a screen reader is told (politely) when the execution's status changes, as a live page
        needs; a replay, whose status moves with every step of the scrubber, leaves it out."""
        nodes = [node for node in workflow_definition.get('nodes') or () if isinstance(node, Mapping) and 'id' in node]
        names = {str(node['id']): str(node.get('name') or node['id']) for node in nodes}
        types = {str(node['id']): str(node.get('type') or '') for node in nodes}
        self._state: ExecutionState | None = None
        self._now: datetime | None = None
        self._shown = False
        self._total = len(nodes)
        self._names = names
        self._views = NodeViews(names)  # what the canvas, the list and the inspector show of each node

        # (the buttons go under the progress when it would be narrower than its figures: PROGRESS_MIN_PX)
        # (fm-wrap-narrow: on a phone no part is wider than the screen, the buttons wrapping among themselves)
        with ui.row().classes('w-full items-center gap-3 fm-wrap-narrow').style('flex-wrap: wrap'):
            self.status_badge = (
                StatusBadge('queued')
                .classes('text-sm px-3 py-1')
                .props('data-testid=execution-status')
                .mark('execution-status')
            )
            with ui.column().classes('gap-1 min-w-0').style(f'flex: 1 1 {PROGRESS_MIN_PX}px'):
                self.progress = ui.linear_progress(value=0, show_value=False, size='8px').props(
                    'rounded color=positive track-color=grey-4 data-testid=execution-progress'
                )
                # (each figure stays on one line; when they do not fit side by side they go under each other)
                with ui.row().classes('w-full gap-x-3 gap-y-0 text-xs text-gray-500 whitespace-nowrap'):
                    self.progress_text = (
                        ui.label(f'0 / {self._total} nodes').props('data-testid=progress-text').mark('progress-text')
                    )
                    self.timing = ui.label('').props('data-testid=execution-timing').mark('execution-timing')
                    self.note = ui.label('').classes('ml-auto').props('data-testid=execution-eta').mark('execution-eta')
            # (the buttons keep their size; fm-actions: narrower beside the open inspector, on one line)
            self.actions = ui.row().classes('items-center gap-2 no-wrap shrink-0 fm-wrap-narrow fm-actions')
        # the status in words for screen readers, changed when the status changes (a live region on the status alone:
        # the event log, which changes all the time, is not one)
        self._announced: str | None = None
        self.announcement = (
            ui.label('')
            .classes('fm-sr-only')
            .props('role=status aria-live=polite aria-atomic=true')
            .mark('execution-announcement')
            if announce
            else None
        )

        self.error_banner = (
            ui.label('')
            .classes(
                'w-full text-sm rounded px-3 py-2 bg-red-50 text-red-800 dark:bg-red-950 dark:text-red-200 '
                'border border-red-200 dark:border-red-900 fm-break'
            )
            .props('data-testid=execution-error')
        )
        self.error_banner.set_visibility(False)

        # the children call back into this view through weak references: no cycle keeps a closed page's objects
        # for the garbage collector (see flowmon.web.teardown)
        self.inspector = Inspector(
            names, types, self._views, on_close=weak_callback(self._inspector_closed), on_rerun_from=on_rerun_from
        )
        # The canvas takes the width its graph needs to be legible (DagView.legible_width) where the page has it,
        # and the node list its 340 px beside it; on a page narrower than both the list goes below the canvas and
        # takes the page's width (both grow onto a line of their own; side by side, the canvas takes what is left)
        with ui.row().classes('w-full gap-4 items-stretch').style('flex-wrap: wrap'):
            canvas = ui.card().classes('fm-panel min-w-0 gap-1').props('flat bordered data-testid=canvas-panel')
            with canvas:
                self.dag = DagView(
                    workflow_definition, on_select=weak_callback(self.select), height='auto', views=self._views
                )
                ui.label('Click a node to inspect it; hover for details').classes('w-full px-2 text-xs text-gray-500')
            legible = self.dag.legible_width + CANVAS_PADDING_PX
            canvas.style(f'padding: 8px; flex: 1000 1 {legible}px; min-width: min(100%, {legible}px)')
            with (
                ui.card()
                .classes('fm-panel gap-1')
                .style(f'padding: 10px 6px; flex: 1 0 {NODE_LIST_WIDTH_PX}px; max-width: 100%; min-width: 0')
                .props('flat bordered data-testid=node-list-panel')
            ):
                ui.label(f'Nodes ({self._total})').classes('text-sm font-semibold px-2')
                order = self.dag.order
                entries = sorted(
                    (NodeEntry(id=node_id, name=names[node_id], type=types[node_id]) for node_id in names),
                    key=lambda entry: order.get(entry.id, (0, 0)),
                )
                self.node_list = NodeList(
                    entries, self._views, on_select=weak_callback(self.select), height=self.dag.height
                )
        self._timeline_slot = ui.element('div').classes('w-full')  # a page's Gantt chart: add_timeline
        self._timeline: TimelineChart | None = None
        self._timeline_slot.set_visibility(False)
        with ui.card().classes('fm-panel w-full gap-2').props('flat bordered'):
            self.event_log = EventLog(list(names))

    @property
    def state(self) -> ExecutionState | None:
        return self._state

    @property
    def names(self) -> dict[str, str]:
        """Each node's display name (its ``name``, else its id), in definition order."""
        return dict(self._names)

    @property
    def node_ids(self) -> list[str]:
        """The nodes of the definition, in definition order."""
        return list(self._names)

    @property
    def wants_clock(self) -> bool:
        """True while the picture depends on the time (running timer, animated edges): keep calling show."""
        running = self._state is not None and not self._state.is_terminal
        return running or self.dag.has_active_flows

    def show(self, state: ExecutionState | None, events: Sequence[Event] = (), now: datetime | None = None) -> None:
        """Show ``state`` and add ``events`` (those up to the state, at least the ones not yet given).

        ``now`` is the wall clock for a live execution (edge animation and the running time); leave it None
        for a past position (replay), where the state's own last event time is used.
        """
        moved = state is not self._state or not self._shown
        self._state, self._now, self._shown = state, now, True
        at = now or (state.last_ts if state is not None else None)  # what a running node's time is measured to
        if moved:  # once per tick, for the three widgets below
            changed = self._views.update(state, at)
        else:  # the same state again only moves the clock (running time, slow flags of running nodes, edges)
            changed = self._views.clock(at)
        if changed or moved:
            self.node_list.show(changed)  # first: the list's rows are cheap for the browser, the canvas is not
            self.inspector.show(state)
        self.dag.apply(state, now=now, changed=changed)
        if events or state is not None:
            self.event_log.show(events, upto_seq=state.last_seq if state is not None else None)
        self._show_summary(state, now)

    def show_deleted(self) -> None:
        """The execution was deleted: the picture stops where it was last seen (the clock, the running time and the
        edges stop; nothing moves it any more) and the status says "deleted"; the timing says how it was last seen."""
        state = self._state
        self.show(state)  # (measured to its last event: what was last known of it)
        self.status_badge.set_status(DELETED)
        self.progress.props('color=grey-7')
        self.timing.set_text(_timing(state, None, deleted=True))
        self.note.set_text('')
        self._announce(DELETED, None)

    def set_baselines(self, baselines: Mapping[str, NodeStats]) -> None:
        """Each node's usual duration (runs of other executions): nodes above their p95 are flagged slower than
        usual on the canvas, in the list and in the inspector."""
        changed = self._views.set_baselines(baselines)
        if changed:
            self.node_list.show(changed)
            self.inspector.show(self._state)
            self.dag.apply(self._state, now=self._now, changed=changed)

    def select(self, node_id: str) -> None:
        """Open the inspector on ``node_id`` and mark it on the canvas, in the list and on the timeline."""
        self.dag.select(node_id)
        self.node_list.select(node_id)
        if self._timeline is not None:
            self._timeline.select(node_id)
        self.inspector.open(node_id, self._state)

    def add_timeline(
        self, hint: str, index: ReplayIndex | None, on_span: Callable[[str, int], Any] | None
    ) -> TimelineChart:
        """A Timeline card between the canvas and the event log, titled with ``hint``, with a page's Gantt chart of
        ``index`` (None: one the page grows), whose picked row follows the node picked on the page."""
        self._timeline_slot.set_visibility(True)
        with self._timeline_slot, ui.card().classes('fm-panel w-full gap-1').props('flat bordered'):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label('Timeline').classes('text-sm font-semibold')
                ui.label(hint).classes('text-xs text-grey-7')
            self._timeline = TimelineChart(index, self.names, on_span=on_span)
        return self._timeline

    def _inspector_closed(self) -> None:
        self.dag.select(None)
        self.node_list.select(None)
        if self._timeline is not None:
            self._timeline.select(None)

    def _show_summary(self, state: ExecutionState | None, now: datetime | None) -> None:
        status = state.status if state is not None else BEFORE_QUEUED
        self.status_badge.set_status(status)
        done = state.done if state is not None else 0
        total = (state.total if state is not None else 0) or self._total
        if state is not None and status in ENDED_SHORT:  # its cancelled and skipped nodes are "done" but never ran
            succeeded = state.succeeded
            self.progress.set_value(round(succeeded / total, 4) if total else 0)
            self.progress.props(f'color={status_quasar(status)}')
            self.progress_text.set_text(f'{succeeded} / {total} nodes succeeded')
        else:
            self.progress.set_value(round(done / total, 4) if total else 0)
            self.progress.props('color=positive')
            self.progress_text.set_text(f'{done} / {total} nodes')
        self.timing.set_text(_timing(state, now))
        error = state.error if state is not None and state.status != 'succeeded' else None
        self.error_banner.set_text(str(error or ''))
        self.error_banner.set_visibility(bool(error))
        self._announce(status, error)

    def _announce(self, status: str, error: object) -> None:
        """Say the new status, with the error of a failed run (its start); what the page first shows is not news."""
        if self.announcement is None or status == self._announced:
            return
        first = self._announced is None
        self._announced = status
        if not first:
            reason = f': {str(error)[:ANNOUNCED_ERROR_CHARS]}' if error else ''
            self.announcement.set_text(f'Execution {status}{reason}')


def _timing(state: ExecutionState | None, now: datetime | None, *, deleted: bool = False) -> str:
    """When it started and how long it ran; ``deleted``: as last seen, before its deletion."""
    if state is None or state.created_at is None:
        return ''
    started = state.started_at
    created = full_timestamp(state.created_at)
    if started is None:
        return f'queued {created}' + (' · deleted' if deleted else '')
    end = state.finished_at or now or state.last_ts
    elapsed = duration((end - started).total_seconds() * 1000) if end else '—'
    verb = 'ran' if state.finished_at else 'last seen running for' if deleted else 'running for'
    return f'started {full_timestamp(started)} · {verb} {elapsed}' + (' · deleted' if deleted else '')
