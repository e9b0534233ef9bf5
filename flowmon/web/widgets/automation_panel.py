"""How a workflow starts on its own: its signed inbound trigger URL and its cron schedule (next run, pause/resume).

Shown on the workflow page only when the definition enables a trigger or has a schedule. The trigger secret stays
hidden until asked for (it was issued as the workflow was stored); rotating it asks whether the old one keeps working
for 24 h or stops at once (after a leak); the next run time and whether the schedule is
paused are read from the scheduler every second, so the panel moves on after each firing and follows a pause or
resume made elsewhere (the API, another tab, another process). Once the workflow is deleted (see the page's
watch) the panel's actions go and a revealed secret is cleared: what else it shows stays readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from flowmon.application import Application
from flowmon.application.errors import AppError, NotFound
from flowmon.web import format as fmt
from flowmon.web.actions import guarded
from flowmon.web.webhook_format import in_time

from .panel_title import panel_title
from .rotate_dialog import ask_rotation, grace_cut_short

HIDDEN_SECRET = 'whsec_' + '•' * 24
RECHECK_SECONDS = 5.0
"""How often a revealed trigger secret is read again (only while revealed)."""


async def automation_panel(application: Application, workflow_id: str) -> Callable[[], None]:
    """The panel, or nothing when the workflow neither accepts triggers nor has a schedule; returns what withdraws
    it once the workflow is deleted (its buttons hidden and disabled, a revealed secret cleared, its timer stopped)."""
    try:
        trigger: dict[str, Any] | None = await application.automation.trigger(workflow_id)
    except AppError:
        trigger = None
    try:
        schedule: dict[str, Any] | None = await application.automation.schedule(workflow_id)
    except NotFound:
        schedule = None
    if not (trigger and trigger['enabled']) and schedule is None:
        return lambda: None
    secret: _TriggerSecret | None = None
    shown: _Schedule | None = None
    with ui.card().classes('fm-panel w-full').props('flat bordered').mark('workflow-automation') as card:
        with ui.element('div').classes('fm-split w-full'):
            if trigger and trigger['enabled']:
                secret = await _trigger(application, workflow_id, _absolute(trigger['path']))
            if schedule is not None:
                shown = _Schedule(application, workflow_id, schedule)

    async def tick() -> None:
        if shown is not None:
            shown.tick()
        if secret is not None:
            await secret.tick()

    timer = ui.timer(1.0, tick)

    def withdraw() -> None:
        timer.cancel()
        if secret is not None:
            secret.withdraw()
        if shown is not None:
            shown.withdraw()
        for button in card.descendants():  # (disabled too: a keyboard shortcut clicks hidden ones)
            if isinstance(button, ui.button):
                button.disable()
                button.set_visibility(False)

    return withdraw


def _absolute(path: str) -> str:
    try:
        request = ui.context.client.request
        return str(request.base_url).rstrip('/') + path
    except Exception:  # no request (tests, a reconnect): the path alone still says where to POST
        return path


async def _trigger(application: Application, workflow_id: str, url: str) -> _TriggerSecret:
    with ui.column().classes('gap-2 min-w-0').mark('workflow-trigger'):
        panel_title(
            'Inbound trigger', 'POST JSON here, signed per Standard Webhooks with the trigger secret, to start a run.'
        )
        with ui.row().classes('w-full items-center gap-2 no-wrap'):
            ui.label(url).classes('fm-mono fm-ellipsis grow').mark('trigger-url').tooltip(url)
            ui.button(icon='content_copy', on_click=lambda: _copy(url, 'Trigger URL copied.')).props(
                'flat round dense size=sm aria-label="Copy trigger URL"'
            ).tooltip('Copy URL').mark('trigger-copy')
        try:  # whether a rotation's grace is running, said even while the secret stays hidden
            state: dict[str, Any] | None = await application.automation.reveal_trigger_secret(workflow_id)
        except AppError:
            state = None
        secret = _TriggerSecret(application, workflow_id)
        secret.show_grace(state)
        return secret


class _TriggerSecret:
    """The trigger secret, hidden until revealed, with Copy, Reveal and Rotate; under it, how long the previous secret
    still works after a rotation (also while hidden). A revealed secret is read again every :data:`RECHECK_SECONDS`,
    so a rotation made elsewhere (another tab, the API) replaces it here rather than leaving a stale one to copy."""

    def __init__(self, application: Application, workflow_id: str) -> None:
        self._application = application
        self._workflow_id = workflow_id
        self._secret = ''
        self._checked = 0.0  # (monotonic) when the revealed secret was last read
        self._expires: str | None = None  # the end of the previous secret's grace, as shown
        self._withdrawn = False  # (the workflow was deleted)
        # This page's own rotation is under way: a re-read landing between its write and its answer would take the
        # new secret for a rotation made elsewhere (and one that read before the write would show the old one again).
        self._rotating = 0  # (how many: a second may be asked for while the first is under way)
        with ui.row().classes('w-full items-center gap-2 no-wrap'):
            ui.icon('key', size='1.1rem').classes('text-grey-6')
            self._label = ui.label(HIDDEN_SECRET).classes('fm-mono fm-ellipsis fm-secret grow').mark('trigger-secret')
            self._copy = ui.button(icon='content_copy', on_click=lambda: _copy(self._secret, 'Secret copied.'))
            self._copy.props('flat round dense size=sm aria-label="Copy secret"').mark('trigger-copy-secret')
            self._copy.set_visibility(False)
        with ui.row().classes('items-center gap-2'):
            self._reveal = (
                ui.button('Reveal secret', icon='visibility', on_click=self._reveal_secret)
                .props('flat dense no-caps no-wrap')
                .mark('trigger-reveal')
            )
            ui.button('Rotate secret…', icon='autorenew', on_click=self._rotate).props(
                'flat dense no-caps no-wrap data-testid=trigger-rotate'
            ).mark('trigger-rotate')
        self._previous = ui.label('').classes('text-xs text-grey-7').mark('trigger-previous')
        self._previous.set_visibility(False)

    async def _reveal_secret(self) -> None:
        automation = self._application.automation
        what = 'reveal the secret'
        revealed = await guarded(self._application, what, lambda: automation.reveal_trigger_secret(self._workflow_id))
        if revealed is not None:
            self._show(revealed)

    async def _rotate(self) -> None:
        try:  # as it is now (another tab may have rotated since this page showed it)
            current: dict[str, Any] | None = await self._application.automation.reveal_trigger_secret(self._workflow_id)
        except AppError:
            current = None
        grace = await ask_rotation(
            'Rotate the trigger secret?',
            'A new secret is made: senders must sign their calls to this trigger URL with it from now on.',
            keep='Keep it working for 24 h, so senders have time to switch: calls signed with either are accepted',
            stop='Stop it now (after a leak): calls signed with it are refused from this moment',
            replacing=grace_cut_short(current, 'accepted'),
        )
        if grace is None:
            return
        automation = self._application.automation
        self._rotating += 1
        try:
            rotated = await guarded(
                self._application,
                'rotate the secret',
                lambda: automation.rotate_trigger_secret(self._workflow_id, grace),
            )
        finally:
            self._rotating -= 1
        if rotated is None:
            return
        self._show(rotated, stopped=not grace)
        if grace:
            ui.notify('Secret rotated: the old one keeps working alongside the new one for 24 h.', type='positive')
        else:
            ui.notify('Secret rotated: the old one no longer works.', type='positive')

    def withdraw(self) -> None:
        """The workflow was deleted, its secret with it: a revealed secret is cleared, and stays so."""
        self._withdrawn = True
        self._secret = ''
        self._label.set_text(fmt.DASH)
        self.show_grace(None)

    def _show(self, revealed: dict[str, Any], *, stopped: bool = False) -> None:
        """Show the secret of ``revealed`` and what it says of the previous one (``stopped``: a rotation just now
        stopped it)."""
        if self._withdrawn:  # (read as the workflow was being deleted)
            return
        self._secret = str(revealed['secret'])
        self._checked = time.monotonic()
        self._label.set_text(self._secret)
        self._copy.set_visibility(True)
        self._reveal.set_visibility(False)
        self.show_grace(revealed, stopped=stopped)

    def show_grace(self, revealed: dict[str, Any] | None, *, stopped: bool = False) -> None:
        """Say until when the previous secret still works, if a grace is running (never the secret itself)."""
        expires = (revealed or {}).get('previous_secret_expires_at')
        self._expires = expires
        if expires:
            until = fmt.full_timestamp(datetime.fromisoformat(expires), tz=fmt.viewer_timezone())
            self._previous.set_text(f'The previous secret also works until {until}.')
        else:
            self._previous.set_text('The previous secret no longer works.' if stopped else '')
        self._previous.set_visibility(bool(self._previous.text))

    async def tick(self) -> None:
        """While revealed, read the secret again every :data:`RECHECK_SECONDS`: one rotated elsewhere is shown.
        Revealed or not, a grace that has run out is no longer said to run."""
        if self._expires and datetime.fromisoformat(self._expires) <= datetime.now(UTC):
            self.show_grace(None)
        if not self._secret or self._rotating or time.monotonic() - self._checked < RECHECK_SECONDS:
            return
        self._checked = time.monotonic()
        shown = self._secret
        try:
            revealed = await self._application.automation.reveal_trigger_secret(self._workflow_id)
        except AppError:
            return  # (a workflow deleted meanwhile: its page says so)
        if self._rotating or self._secret != shown:  # this page rotated meanwhile: what was read may be either secret
            return
        if revealed['secret'] != self._secret:
            self._show(revealed)
            ui.notify('The trigger secret was rotated elsewhere: the new one is shown.', type='warning')
        elif revealed.get('previous_secret_expires_at') != self._expires:  # its grace ended, or was cut short
            self.show_grace(revealed)


class _Schedule:
    def __init__(self, application: Application, workflow_id: str, info: dict[str, Any]) -> None:
        self._application = application
        self._workflow_id = workflow_id
        self._zone = ZoneInfo(info['timezone'])  # (the store validated it)
        with ui.column().classes('gap-2 min-w-0').mark('workflow-schedule'):
            panel_title('Schedule', 'Started by cron; a backlog of missed runs fires once.')
            with ui.row().classes('items-center gap-3'):
                ui.label(info['cron']).classes('fm-mono text-base').mark('schedule-cron')
                ui.label(info['timezone']).classes('fm-chip')
                self._state = ui.badge('').classes('fm-status').mark('schedule-state')
            with ui.row().classes('items-baseline gap-2'):
                ui.label('Next run').classes('text-xs text-grey-7')
                self._next = ui.label('').classes('fm-num').mark('schedule-next')
            with ui.row().classes('gap-2'):
                self._pause = (
                    ui.button('Pause', icon='pause', on_click=lambda: self._set_paused(True))
                    .props('outline dense no-caps')
                    .mark('schedule-pause')
                )
                self._resume = (
                    ui.button('Resume', icon='play_arrow', on_click=lambda: self._set_paused(False))
                    .props('unelevated dense no-caps')
                    .mark('schedule-resume')
                )
        self._show(bool(info['paused']))

    def withdraw(self) -> None:
        """The workflow was deleted: its schedule stopped with it, and it has no next run."""
        self._state.set_text('stopped')
        self._state.props('color=grey-7')
        self._next.set_text(fmt.DASH)

    def _show(self, paused: bool) -> None:
        self._paused = paused
        self._state.set_text('paused' if paused else 'active')
        self._state.props(f'color={"grey-7" if paused else "green-9"}')
        self._pause.set_visibility(not paused)
        self._resume.set_visibility(paused)
        self.tick()

    def tick(self) -> None:
        paused = self._application.automation.schedule_paused(self._workflow_id)  # paused elsewhere too
        if paused != self._paused:
            self._show(paused)
            return
        if self._paused:
            self._next.set_text('none while paused')
            return
        moment = self._application.automation.next_run_at(self._workflow_id)
        self._next.set_text(next_run_text(moment, self._zone, fmt.viewer_timezone(), datetime.now(UTC)))

    async def _set_paused(self, paused: bool) -> None:
        what = 'pause the schedule' if paused else 'resume the schedule'
        automation = self._application.automation
        info = await guarded(self._application, what, lambda: automation.set_paused(self._workflow_id, paused))
        if info is None:
            return
        self._show(bool(info['paused']))
        ui.notify('Schedule paused.' if paused else 'Schedule resumed.', type='info' if paused else 'positive')


def next_run_text(moment: datetime | None, zone: ZoneInfo, viewer: Any, now: datetime) -> str:
    """When a schedule runs next: in the viewer's time, and in the schedule's own zone (the one its cron line is
    written in) when that reads otherwise, then how far off it is."""
    if moment is None:
        return fmt.DASH
    text = fmt.full_timestamp(moment, tz=viewer)
    own = fmt.full_timestamp(moment, tz=zone)
    if own[:19] != text[:19]:  # the same wall time in both: said once
        text += f' · {own} in {zone.key}'
    return f'{text} ({in_time(moment, now)})'


def _copy(text: str, message: str) -> None:
    ui.clipboard.write(text)
    ui.notify(message, type='positive')
