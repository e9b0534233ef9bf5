"""``/webhooks/deliveries/{delivery_id}``: one delivery: its attempt timeline, the request, Redeliver and Cancel.

Live like the list: a timer re-reads the delivery only when the deliveries' version moved, and otherwise
just moves the "next attempt" countdown. Secrets never reach this page: the attempt log holds request headers
with credentials masked, and the delivery's own headers are masked again before they are shown.
"""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from flowmon.application import Application
from flowmon.application.deliveries import REDELIVERABLE, DeliveryDetail
from flowmon.web import format as fmt
from flowmon.web import webhook_actions as actions
from flowmon.web import webhook_format as wfmt
from flowmon.web.actions import found, one_at_a_time
from flowmon.web.widgets.attempt_timeline import AttemptTimeline
from flowmon.web.widgets.confirm_dialog import confirm
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.panel_title import panel_title
from flowmon.web.widgets.status_badge import StatusBadge
from flowmon.web.widgets.text_block import TextBlock

LIVE_INTERVAL = 0.25


async def create(application: Application, delivery_id: str) -> None:
    """Build the detail page of ``delivery_id`` (a calm "not found" when there is no such delivery)."""
    deliveries = application.deliveries
    seen = deliveries.version
    detail = await found(deliveries.get(delivery_id))
    with ui.column().classes('w-full gap-6 fm-page').mark('delivery-page'):
        if detail is None:
            _not_found(delivery_id)
            return
        page = _DeliveryPage(application, detail)

    async def pull() -> None:
        nonlocal seen
        now = deliveries.now()
        if deliveries.version == seen:
            page.tick(now)
            return
        version = deliveries.version  # taken before the read, kept once it succeeded (a failed read is tried again)
        fresh = await found(deliveries.get(delivery_id))
        seen = version
        if fresh is not None:
            page.show(fresh, now)

    ui.timer(LIVE_INTERVAL, pull)


class _DeliveryPage:
    def __init__(self, application: Application, detail: DeliveryDetail) -> None:
        self._application = application
        self._detail = detail
        self._drawn: tuple[object, int] | None = None
        record = detail.delivery
        endpoints = {item.id: item for item in application.endpoints.cached_all()}
        name, url = wfmt.destination(record, endpoints)
        now = application.deliveries.now()
        # the name and the URL come from outside and may be long: one line each with an ellipsis (a tooltip has the
        # whole), the status badge always in view; on a phone the URL wraps and the buttons go under the text
        with ui.row().classes('w-full items-start justify-between gap-4 no-wrap fm-wrap-narrow'):
            with ui.column().classes('gap-1 min-w-0 grow basis-0 fm-delivery-head'):
                with ui.row().classes('items-center gap-2 text-sm text-grey-7'):
                    ui.link('Webhooks', '/webhooks').classes('fm-link').mark('back-to-webhooks')
                    ui.label('/')
                    ui.label('Delivery')
                with ui.row().classes('w-full items-center gap-3 no-wrap'):
                    ui.label(name).classes('fm-title fm-ellipsis').props('data-testid=delivery-title').tooltip(
                        name
                    ).mark('delivery-title')
                    self._badge = StatusBadge(record.status).classes('shrink-0').props('data-testid=delivery-status')
                    self._badge.mark('delivery-status')
                with ui.row().classes('w-full items-center gap-x-3 gap-y-0 text-sm text-grey-7'):
                    ui.label(record.id).classes('fm-mono').mark('delivery-id')
                    target = f'{record.method} {url}'
                    ui.label(target).classes('fm-mono fm-ellipsis fm-url').props('data-testid=delivery-url').tooltip(
                        target
                    ).mark('delivery-url')
                self._reason = ui.label('').classes('text-sm fm-description fm-break').mark('delivery-reason')
            with ui.row().classes('gap-2 shrink-0 no-wrap'):
                self._cancel = (
                    ui.button('Cancel', icon='cancel', on_click=one_at_a_time(self._cancel_clicked))
                    .props('outline no-caps color=negative')
                    .mark('delivery-cancel')
                )
                self._redeliver = (
                    ui.button('Redeliver', icon='replay', on_click=one_at_a_time(self._redeliver_clicked))
                    .props('unelevated no-caps data-testid=delivery-redeliver')
                    .mark('delivery-redeliver')
                )
        with ui.element('div').classes('fm-split w-full'):
            with ui.card().classes('fm-panel').props('flat bordered'):
                with ui.row().classes('w-full items-center justify-between'):
                    panel_title('Attempts', 'oldest first; open one for its request and response')
                    self._upcoming = ui.label('').classes('text-sm fm-num text-grey-7').mark('delivery-next')
                self._timeline = AttemptTimeline()
            with ui.card().classes('fm-panel').props('flat bordered'):
                panel_title('Request', 'what every attempt sends (credentials masked)')
                self._facts = ui.element('div').classes('fm-facts w-full').mark('delivery-facts')
                _request(detail)
        self.show(detail, now)

    def show(self, detail: DeliveryDetail, now: datetime) -> None:
        self._detail = detail
        record = detail.delivery
        if self._drawn == (record, detail.attempts_total):
            return  # another delivery changed, not this one
        self._drawn = (record, detail.attempts_total)
        self._badge.set_status(record.status)
        self._reason.set_text(record.status_reason or '')
        self._reason.set_visibility(bool(record.status_reason))
        self._redeliver.set_enabled(record.status in REDELIVERABLE)
        self._cancel.set_visibility(record.status in wfmt.WAITING)
        self._timeline.show(detail.attempts, now, total=detail.attempts_total)
        self._facts.clear()
        with self._facts:
            _facts(detail, now, self._application)
        self.tick(now)

    def tick(self, now: datetime) -> None:
        record = self._detail.delivery
        if record.status in wfmt.WAITING and record.next_attempt_at is not None:
            text = f'Attempt {record.attempts + 1} {wfmt.in_time(record.next_attempt_at, now)}'
        elif record.status == 'sending':
            text = f'Attempt {record.attempts + 1} is being sent…'
        else:
            text = ''
        self._upcoming.set_text(text)

    async def _redeliver_clicked(self) -> None:
        record = self._detail.delivery
        question = (
            f'The delivery is sent again now with the same webhook-id ({record.webhook_id}) and body, on a '
            'fresh retry schedule. The receiver may see it twice.'
        )
        if not await confirm('Redeliver this webhook?', question, ok_label='Redeliver', marker='confirm-redeliver'):
            return
        await actions.redeliver(self._application, record.id)

    async def _cancel_clicked(self) -> None:
        if not await confirm(
            'Cancel this delivery?', 'No further attempts are made. You can redeliver it later.',
            ok_label='Cancel delivery', ok_color='negative', marker='confirm-cancel',
        ):  # fmt: skip
            return
        await actions.cancel(self._application, self._detail.delivery.id)


def _facts(detail: DeliveryDetail, now: datetime, application: Application) -> None:
    record = detail.delivery
    endpoint = application.endpoints.cached(record.endpoint_id) if record.endpoint_id else None
    _fact('webhook-id', record.webhook_id, mono=True)
    _fact('Event', wfmt.event_label(record), mono=bool(record.event_type))
    if record.endpoint_id:
        with ui.element('div').classes('fm-fact'):
            ui.label('Endpoint').classes('fm-fact-label')
            label = wfmt.endpoint_name(endpoint) if endpoint else f'{record.endpoint_id} (deleted)'
            ui.link(label, f'/webhooks?endpoint={record.endpoint_id}').classes('fm-link fm-ellipsis')
    if record.execution_id:
        with ui.element('div').classes('fm-fact'):
            ui.label('Execution').classes('fm-fact-label')
            ui.link(record.execution_id, f'/executions/{record.execution_id}').classes('fm-link fm-mono fm-ellipsis')
    _fact('Attempts', wfmt.attempts_text(record))
    _fact('Last response', wfmt.last_response(record))
    _fact('Created', fmt.full_timestamp(record.created_at))
    if record.finished_at is not None:
        _fact('Finished', fmt.full_timestamp(record.finished_at))
    if record.status in wfmt.WAITING and record.next_attempt_at is not None:
        _fact(
            'Next attempt',
            f'{fmt.full_timestamp(record.next_attempt_at)} ({wfmt.in_time(record.next_attempt_at, now)})',
        )


def _request(detail: DeliveryDetail) -> None:
    headers = wfmt.masked_headers(detail.headers)
    ui.label('Custom headers').classes('fm-subhead')
    if headers:
        with ui.element('div').classes('fm-headers').mark('delivery-headers'):
            for name, value in headers:
                ui.label(name).classes('fm-mono fm-header-name')
                ui.label(value).classes('fm-mono fm-header-value')
    else:
        ui.label('None: only the content type and the webhook-id, -timestamp and -signature headers.').classes(
            'text-xs text-grey-7'
        )
    text, cut = wfmt.body_preview(detail.body)
    size = f'{len(detail.body):,} bytes'
    ui.label(f'Body · {size}' + (' · first 2 KB shown' if cut else '')).classes('fm-subhead')
    TextBlock(text or '(empty)').props('data-testid=delivery-body').mark('delivery-body')


def _fact(label: str, value: str, *, mono: bool = False) -> None:
    with ui.element('div').classes('fm-fact'):
        ui.label(label).classes('fm-fact-label')
        ui.label(value).classes('fm-ellipsis' + (' fm-mono' if mono else '')).tooltip(value)


def _not_found(delivery_id: str) -> None:
    reason = f'There is no webhook delivery with the id “{delivery_id}”.'
    not_found('delivery-not-found', 'outbox', 'Delivery not found', [reason], ('Back to webhooks', '/webhooks'))
