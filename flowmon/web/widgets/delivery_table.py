"""A list of webhook deliveries: status, destination, event, attempts, last response, next retry, created.

Each row opens the delivery's detail page. :meth:`DeliveryTable.show` updates rows in place when the same
deliveries are shown in the same order and rebuilds otherwise; :meth:`tick` only moves the "next retry" countdowns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from nicegui import ui

from flowmon.application.deliveries import DeliveryRecord, Endpoint
from flowmon.web import format as fmt
from flowmon.web import webhook_format as wfmt
from flowmon.web.widgets.empty_state import empty_state

from .row_table import RowTable
from .status_badge import StatusBadge

COLUMNS = ('Status', 'Destination', 'Event', 'Attempts', 'Last response', 'Next retry', 'Created')
RIGHT = frozenset({'Attempts'})


@dataclass(slots=True)
class _Row:
    record: DeliveryRecord
    badge: StatusBadge
    attempts: ui.label
    response: ui.label
    next_retry: ui.label


class DeliveryTable(RowTable[DeliveryRecord, _Row]):
    """Rows of deliveries with an intentional empty state (``empty_title`` / ``empty_hint``)."""

    def __init__(self, *, empty_title: str, empty_hint: str) -> None:
        super().__init__()
        self._empty_title = empty_title
        self._empty_hint = empty_hint
        with ui.element('div').classes('fm-table fm-delivery-table w-full').mark('delivery-table') as self.element:
            with ui.element('div').classes('fm-table-head') as self._head:
                for title in COLUMNS:
                    ui.label(title).classes('fm-cell fm-right' if title in RIGHT else 'fm-cell')
            self._body = ui.element('div').classes('fm-table-body')

    def show(self, records: Sequence[DeliveryRecord], endpoints: Mapping[str, Endpoint], now: datetime) -> None:
        self._show(
            records,
            lambda record: self._build(record, endpoints, now),
            lambda row, record: self._update(row, record, now),
        )

    def tick(self, now: datetime) -> None:
        """Move the countdowns of deliveries waiting for a retry."""
        for row in self._rows.values():
            if row.record.status in wfmt.WAITING:
                row.next_retry.set_text(wfmt.next_retry(row.record, now))

    def _build(self, record: DeliveryRecord, endpoints: Mapping[str, Endpoint], now: datetime) -> _Row:
        name, url = wfmt.destination(record, endpoints)
        with (
            ui.link(target=f'/webhooks/deliveries/{record.id}')
            .classes('fm-table-row no-underline')
            .props(f'data-testid=delivery-row data-delivery-id={record.id}')
            .mark(f'delivery-row-{record.id}')
        ):
            with ui.element('div').classes('fm-cell'):
                badge = StatusBadge(record.status)
            with ui.element('div').classes('fm-cell fm-what'):
                ui.label(name).classes('fm-ellipsis fm-name').tooltip(url)
                ui.label(f'{record.method} {fmt.short_id(record.id)}').classes('fm-message fm-mono fm-ellipsis')
            ui.label(wfmt.event_label(record)).classes('fm-cell fm-mono text-xs')
            attempts = ui.label(wfmt.attempts_text(record)).classes('fm-cell fm-right fm-num')
            response = ui.label(wfmt.last_response(record)).classes(f'fm-cell {wfmt.response_tone(record)}')
            if record.last_error:
                response.tooltip(record.last_error)
            next_retry = ui.label(wfmt.next_retry(record, now)).classes('fm-cell fm-num')
            created = ui.label(fmt.timestamp(record.created_at, now=now)).classes('fm-cell')
            created.tooltip(fmt.full_timestamp(record.created_at))
        return _Row(record=record, badge=badge, attempts=attempts, response=response, next_retry=next_retry)

    def _update(self, row: _Row, record: DeliveryRecord, now: datetime) -> None:
        if record != row.record:
            row.record = record
            row.badge.set_status(record.status)
            row.attempts.set_text(wfmt.attempts_text(record))
            row.response.set_text(wfmt.last_response(record))
            row.response.classes(remove='fm-good fm-bad')
            if tone := wfmt.response_tone(record):
                row.response.classes(add=tone)
        row.next_retry.set_text(wfmt.next_retry(record, now))

    def _empty(self) -> None:
        empty_state('empty-state', 'outbox', self._empty_title, self._empty_hint)
