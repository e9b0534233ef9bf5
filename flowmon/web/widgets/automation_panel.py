"""How a workflow starts on its own: its signed inbound trigger URL and its cron schedule (next run, pause/resume).

Shown on the workflow page only when the definition enables a trigger or has a schedule. The trigger secret stays
hidden until asked for (revealing it creates it on first use); the next run time and whether the schedule is
paused are read from the scheduler every second, so the panel moves on after each firing and follows a pause or
resume made elsewhere (the API, another tab, another process).
"""

from __future__ import annotations

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

HIDDEN_SECRET = 'whsec_' + '•' * 24


async def automation_panel(application: Application, workflow_id: str) -> None:
    """The panel, or nothing when the workflow neither accepts triggers nor has a schedule."""
    try:
        trigger: dict[str, Any] | None = await application.automation.trigger(workflow_id)
    except AppError:
        trigger = None
    try:
        schedule: dict[str, Any] | None = await application.automation.schedule(workflow_id)
    except NotFound:
        schedule = None
    if not (trigger and trigger['enabled']) and schedule is None:
        return
    with ui.card().classes('fm-panel w-full').props('flat bordered').mark('workflow-automation'):
        with ui.element('div').classes('fm-split w-full'):
            if trigger and trigger['enabled']:
                _trigger(application, workflow_id, _absolute(trigger['path']))
            if schedule is not None:
                _Schedule(application, workflow_id, schedule)


def _absolute(path: str) -> str:
    try:
        request = ui.context.client.request
        return str(request.base_url).rstrip('/') + path
    except Exception:  # no request (tests, a reconnect): the path alone still says where to POST
        return path


def _trigger(application: Application, workflow_id: str, url: str) -> None:
    with ui.column().classes('gap-2 min-w-0').mark('workflow-trigger'):
        panel_title(
            'Inbound trigger', 'POST JSON here, signed per Standard Webhooks with the trigger secret, to start a run.'
        )
        with ui.row().classes('w-full items-center gap-2 no-wrap'):
            ui.label(url).classes('fm-mono fm-ellipsis grow').mark('trigger-url').tooltip(url)
            ui.button(icon='content_copy', on_click=lambda: _copy(url, 'Trigger URL copied.')).props(
                'flat round dense size=sm aria-label="Copy trigger URL"'
            ).tooltip('Copy URL').mark('trigger-copy')
        with ui.row().classes('w-full items-center gap-2 no-wrap'):
            ui.icon('key', size='1.1rem').classes('text-grey-6')
            secret_label = ui.label(HIDDEN_SECRET).classes('fm-mono fm-ellipsis fm-secret grow').mark('trigger-secret')
            copy = ui.button(icon='content_copy').props('flat round dense size=sm aria-label="Copy secret"')
            copy.set_visibility(False)

            async def reveal() -> None:
                revealed = await guarded(
                    application, 'reveal the secret', lambda: application.automation.reveal_trigger_secret(workflow_id)
                )
                if revealed is None:
                    return
                secret = revealed['secret']
                secret_label.set_text(secret)
                copy.on_click(lambda: _copy(secret, 'Secret copied.'))
                copy.set_visibility(True)
                button.set_visibility(False)

            button = (
                ui.button('Reveal secret', icon='visibility', on_click=reveal)
                .props('flat dense no-caps size=sm')
                .mark('trigger-reveal')
            )


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
        ui.timer(1.0, self._tick)

    def _show(self, paused: bool) -> None:
        self._paused = paused
        self._state.set_text('paused' if paused else 'active')
        self._state.props(f'color={"grey-7" if paused else "green-9"}')
        self._pause.set_visibility(not paused)
        self._resume.set_visibility(paused)
        self._tick()

    def _tick(self) -> None:
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
