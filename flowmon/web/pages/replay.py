"""``/executions/{id}/replay?at=k``: watch a past execution again, event by event, on its own graph.

The page draws the execution "as of position k" with :class:`ExecutionView` and the replay index's
``state_at(k)``: the same reducer and the same widgets as the live page, so a replay cannot disagree with
what was seen live. One ``ui.timer`` is the page's clock: it plays the :class:`Playhead` forward (real time *
speed, or a fixed number of events per second) and renders at most ten times a second; buttons, keys, the
scrubber and the Gantt chart only move the playhead. The position is kept in the URL (``history.replaceState``,
no reload), so a copied link opens the replay at the same moment.

An execution that is still running replays the events recorded when the page was opened, with a banner
saying so (reload for newer ones, or open the live view). Once the execution is deleted (here, elsewhere, by a
pruning) the page says so and goes on replaying what it read, without its links to the execution's page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from nicegui import app, ui
from nicegui.events import KeyEventArguments

from flowmon.application import Application
from flowmon.application.errors import NotFound
from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.state import ExecutionState
from flowmon.web.format import count, short_id
from flowmon.web.playback import SPEEDS, Playhead, elapsed_text, parse_position
from flowmon.web.teardown import weak_callback
from flowmon.web.timeline_marks import tick_marks
from flowmon.web.widgets.deletion_watch import execution_watch
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.execution_view import ExecutionView
from flowmon.web.widgets.replay_controls import ReplayControls, TransportActions
from flowmon.web.widgets.space_guard import SpaceGuard
from flowmon.web.widgets.timeline_scrubber import TimelineScrubber

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.1  # render at most 10 times a second
URL_EVERY_SECONDS = 1.0  # while playing, the address bar follows at this pace (browsers throttle replaceState)
LOG_WINDOW = 5000  # events handed to the event log per render: it keeps no more than that anyway
SPEED_KEY = 'replay_speed'


async def create(application: Application, execution_id: str, at: str = '') -> None:
    """Open ``execution_id``'s replay index (cached for finished executions) and build the page."""
    body = ui.column().classes('fm-page w-full gap-4').mark('replay-page')
    since = application.live.deletions  # (a deletion while the replay is read: the page says so too)
    try:
        index: ReplayIndex | None = await application.history.replay(execution_id)
        definition: dict[str, Any] | None = await application.history.definition(execution_id, _final(index))
    except NotFound:
        index, definition = None, None
    if body.is_deleted:
        return
    with body:
        if index is None or definition is None:
            _not_found(execution_id)
            return
        page = ReplayPage(execution_id, index, definition, start=parse_position(at, index.n))
        page.watch_deletion(application, since)
    final = index.final
    usual = await application.stats.baselines(
        final.workflow_id if final else None, page.view.node_ids, excluding=execution_id
    )
    if not body.is_deleted:
        with body:
            page.view.set_baselines(usual)


class ReplayPage:
    """Header, transport, scrubber, the composed execution view, the Gantt chart and the clock."""

    def __init__(self, execution_id: str, index: ReplayIndex, definition: dict[str, Any], *, start: int | None) -> None:
        self._id = execution_id
        self._index = index
        self.head = Playhead(index)
        self.playing = False
        self.speed = _stored_speed()
        self._rendered: tuple[int, float, bool] | None = None
        self._shown_k: int | None = None
        self._url_k = start if start is not None else 0
        self._url_at = 0.0
        self._clock = time.monotonic()
        final = index.final
        # what leads to the execution's page: taken away once the execution is deleted
        self._to_execution = _header(execution_id, definition, final.workflow_id if final else None, index)
        self._notices = ui.column().classes('w-full gap-2')
        if final is not None and not final.is_terminal:
            with self._notices:
                self._to_execution.append(_still_running(execution_id, index.n))

        with ui.card().classes('fm-panel w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-center gap-3 no-wrap fm-wrap-narrow'):
                self.controls = ReplayControls(
                    TransportActions(
                        play=self.play,
                        pause=self.pause,
                        step=self.step,
                        to_start=lambda: self.seek(0),
                        to_end=lambda: self.seek(index.n),
                        speed=self.set_speed,
                    ),
                    speed=self.speed,
                )
                ui.space()
                ui.label('Space play/pause · ← → step · Home/End').classes('text-xs text-grey-7 max-md:hidden')
            # by time; by event when every event has one time (an import): the track's ends would both be +0 s
            self._by_event = index.duration_s <= 0
            self.scrubber = (
                TimelineScrubber(index.n, self.seek_event, scale=1, label='Replay position (event)', on_step=self.step)
                if self._by_event
                else TimelineScrubber(index.duration_s, self.seek_time, ticks=tick_marks(index, 300), on_step=self.step)
            )
            with ui.row().classes('w-full justify-between text-xs text-grey-7 -mt-1'):
                ui.label('+0 s')
                ui.label(f'{count(index.n)} events over {index.duration_s:.3f} s')

        self.view = ExecutionView(definition)
        self.view.event_log.set_waiting('No event at this position yet: press play or step forward (→).')
        self.gantt = self.view.add_timeline(
            'one row per node, one segment per attempt; click a segment to jump to its end', index, self._span_clicked
        )

        ui.keyboard(self._key, ignore=['input', 'textarea'])
        SpaceGuard()  # Space plays and pauses: it must not also scroll the page
        self.seek(start if start is not None else 0)
        ui.timer(FRAME_SECONDS, self._frame)

    def watch_deletion(self, application: Application, since: int) -> None:
        """Say so once the execution is deleted (after deletion number ``since``), and take away what leads to its
        page."""
        with self._notices:
            execution_watch(
                application,
                self._id,
                since,
                'This execution was deleted. The replay goes on with what it read until you leave this page.',
                'replay-deleted',
                withdraw=weak_callback(self._deleted),
            )

    def _deleted(self) -> None:
        for element in self._to_execution:
            element.set_visibility(False)

    # --- what the controls ask for ----------------------------------------------------------------------

    def play(self) -> None:
        if self.head.at_end:
            self.head.seek(0)
        self.playing = True
        self._clock = time.monotonic()
        self.render()

    def pause(self) -> None:
        self.playing = False
        self.render()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, delta: int) -> None:
        self.playing = False
        self.head.step(delta)
        self.render()

    def seek(self, k: int) -> None:
        self.head.seek(k)
        self.render()

    def seek_time(self, seconds: float) -> None:
        """From the scrubber: rendered by the next frame (dragging sends many values)."""
        self.head.seek_time(seconds)

    def seek_event(self, position: float) -> None:
        """From a scrubber by event (every event at one time): rendered by the next frame."""
        self.head.seek(round(position))

    def set_speed(self, speed: str) -> None:
        if speed not in SPEEDS:
            return
        self.speed = speed
        try:
            app.storage.user[SPEED_KEY] = speed
        except (RuntimeError, AssertionError):
            pass

    def _span_clicked(self, node_id: str, position: int) -> None:
        self.playing = False
        self.seek(position)
        self.view.select(node_id)

    def _key(self, event: KeyEventArguments) -> None:
        if not event.action.keydown or event.modifiers.ctrl or event.modifiers.meta or event.modifiers.alt:
            return
        key = event.key
        if key.space:
            self.toggle()
        elif key.arrow_left:
            self.step(-1)
        elif key.arrow_right:
            self.step(1)
        elif key.home:
            self.seek(0)
        elif key.end:
            self.seek(self._index.n)

    # --- the clock and drawing --------------------------------------------------------------------------

    def _frame(self) -> None:
        now = time.monotonic()
        if self.playing:
            self.head.advance(now - self._clock, self.speed)
            if self.head.at_end:
                self.playing = False
        self._clock = now
        self.render()

    def render(self) -> None:
        """Draw the playhead's position, if anything changed since the last drawing."""
        head = self.head
        key = (head.k, head.t, self.playing)
        if key == self._rendered:
            return
        self._rendered = key
        if head.k != self._shown_k:
            self._shown_k = head.k
            if head.k == 0:
                self.view.event_log.clear()
            events = self._index.events[max(0, head.k - LOG_WINDOW) : head.k]
            self.view.show(self._index.state_at(head.k), events)
        self.scrubber.show(head.k if self._by_event else head.t)
        self.scrubber.describe(f'event {head.k} of {head.n}, {elapsed_text(self._index.elapsed_at(head.k))}')
        self.gantt.show_cursor(head.t)
        self.controls.show(head.k, head.n, self._index.elapsed_at(head.k), playing=self.playing)
        self._update_url()

    def _update_url(self) -> None:
        now = time.monotonic()
        if self.head.k == self._url_k or (self.playing and now - self._url_at < URL_EVERY_SECONDS):
            return
        self._url_k, self._url_at = self.head.k, now
        ui.navigate.history.replace(f'/executions/{self._id}/replay?at={self.head.k}')


# --- loading and small parts --------------------------------------------------------------------------------


def _final(index: ReplayIndex | None) -> ExecutionState | None:
    return index.final if index is not None else None


def _stored_speed() -> str:
    try:
        speed = app.storage.user.get(SPEED_KEY, '1x')
    except (RuntimeError, AssertionError):
        return '1x'
    return speed if speed in SPEEDS else '1x'


def _header(
    execution_id: str, definition: Mapping[str, Any], workflow_id: str | None, index: ReplayIndex
) -> list[ui.element]:
    """The title and breadcrumbs; the elements that lead to the execution's page."""
    name = str(definition.get('name') or workflow_id or 'Execution')
    with ui.row().classes('w-full items-end gap-3 no-wrap fm-wrap-narrow'):
        with ui.column().classes('gap-0 min-w-0 grow'):
            with ui.row().classes('items-center gap-1 text-sm text-gray-500'):
                ui.link('Executions', '/executions').classes('text-gray-500 no-underline hover:underline')
                ui.icon('chevron_right', size='16px')
                if workflow_id:
                    ui.link(name, f'/workflows/{workflow_id}').classes('text-gray-500 no-underline hover:underline')
                    ui.icon('chevron_right', size='16px')
                to_page = ui.link(short_id(execution_id), f'/executions/{execution_id}').classes(
                    'text-gray-500 no-underline hover:underline font-mono'
                )
            with ui.row().classes('items-baseline gap-3'):
                ui.label(f'Replay · {name}').classes('fm-title')
                ui.label(short_id(execution_id)).classes('font-mono text-sm text-gray-500').tooltip(execution_id)
        live = (
            ui.button('Live view', icon='open_in_new', on_click=lambda: ui.navigate.to(f'/executions/{execution_id}'))
            .props('flat no-caps data-testid=open-execution')
            .mark('open-execution')
        )
    return [to_page, live]


def _still_running(execution_id: str, events: int) -> ui.element:
    with (
        ui.row()
        .classes(
            'w-full items-center gap-2 rounded px-3 py-2 text-sm bg-blue-50 text-blue-900 dark:bg-blue-950 '
            'dark:text-blue-100 border border-blue-200 dark:border-blue-900'
        )
        .props('data-testid=replay-running-note')
        .mark('replay-running-note') as note
    ):
        ui.icon('info', size='18px')
        ui.label(
            f'This execution is still running: the replay holds the {count(events)} events recorded when you opened '
            'it. Reload for newer ones, or watch it live.'
        ).classes('grow')
        ui.link('Live view', f'/executions/{execution_id}')
    return note


def _not_found(execution_id: str) -> None:
    reason = f'There is no execution with the id {execution_id!r}.'
    not_found('replay-not-found', 'search_off', 'Nothing to replay', [reason], ('All executions', '/executions'))
