"""Bulk redeliver, e.g. "every exhausted delivery of this endpoint in the last 24 hours".

The dialog is the confirmation: it counts what matches before anything is sent, the button names the number,
and a notify afterwards says how many were requeued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from nicegui import ui

from flowmon.application import Application
from flowmon.web import webhook_actions as actions
from flowmon.web.actions import one_at_a_time
from flowmon.web.format import plural

ALL = ''
STATUSES = {'exhausted': 'exhausted', 'failed': 'failed', 'cancelled': 'cancelled'}
WINDOWS: dict[str, tuple[str, timedelta | None]] = {
    '1h': ('Last hour', timedelta(hours=1)),
    '24h': ('Last 24 hours', timedelta(hours=24)),
    '7d': ('Last 7 days', timedelta(days=7)),
    '30d': ('Last 30 days', timedelta(days=30)),
    'all': ('Any time', None),
}


class BulkRedeliverDialog:
    """``open(endpoint_id)`` asks which deliveries to send again; ``on_done`` runs after a redeliver."""

    def __init__(
        self, application: Application, *, endpoints: Callable[[], Mapping[str, str]], on_done: Callable[[], Any]
    ):
        self._application = application
        self._endpoints = endpoints
        self._on_done = on_done
        self._count = 0
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-lg gap-3').mark('bulk-redeliver'):
            ui.label('Redeliver deliveries').classes('text-lg font-semibold')
            ui.label('Each is sent again now with the same webhook-id and body, on a fresh retry schedule.').classes(
                'text-sm text-grey-7'
            )
            self._endpoint = (
                ui.select({ALL: 'All destinations'}, value=ALL, label='Endpoint', on_change=self._recount)
                .props('outlined dense options-dense')
                .classes('w-full')
                .mark('bulk-endpoint')
            )
            self._statuses = (
                ui.select(STATUSES, value=['exhausted'], multiple=True, label='Status', on_change=self._recount)
                .props('outlined dense options-dense use-chips')
                .classes('w-full')
                .mark('bulk-status')
            )
            self._window = (
                ui.select({key: label for key, (label, _) in WINDOWS.items()}, value='24h', label='Created',
                          on_change=self._recount)
                .props('outlined dense options-dense')
                .classes('w-full')
                .mark('bulk-window')
            )  # fmt: skip
            self._summary = ui.label('').classes('text-sm').mark('bulk-count')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps').mark('bulk-cancel')
                self._ok = (
                    ui.button('Redeliver', icon='replay', on_click=one_at_a_time(self._redeliver))
                    .props('unelevated no-caps data-testid=bulk-ok')
                    .mark('bulk-ok')
                )

    async def open(self, endpoint_id: str | None = None, *, statuses: list[str] | None = None) -> None:
        options = {ALL: 'All destinations', **self._endpoints()}
        if endpoint_id and endpoint_id not in options:
            options[endpoint_id] = endpoint_id
        self._endpoint.set_options(options, value=endpoint_id or ALL)
        if statuses is not None:
            self._statuses.set_value([status for status in statuses if status in STATUSES] or ['exhausted'])
        await self._recount()
        self.dialog.open()

    def _filters(self) -> dict[str, Any]:
        delta = WINDOWS.get(str(self._window.value), WINDOWS['all'])[1]
        since: datetime | None = self._application.deliveries.now() - delta if delta is not None else None
        return {
            'statuses': list(self._statuses.value or []),
            'endpoint_id': self._endpoint.value or None,
            'since': since,
        }

    async def _recount(self, *_: Any) -> None:
        filters = self._filters()
        if not filters['statuses']:
            self._show_count(0, 'Pick at least one status.')
            return
        count = await actions.matching_count(self._application, **filters)
        self._show_count(count or 0, None if count is not None else 'Could not count the deliveries.')

    def _show_count(self, count: int, problem: str | None) -> None:
        self._count = count
        self._summary.set_text(problem or f'{plural(count, "delivery")} match.')
        self._ok.set_text(f'Redeliver {count:,}' if count else 'Redeliver')
        self._ok.set_enabled(count > 0)

    async def _redeliver(self) -> None:
        ids = await actions.redeliver_many(self._application, **self._filters())
        if ids is not None:
            self.dialog.close()
            self._on_done()
