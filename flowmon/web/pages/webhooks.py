"""``/webhooks``: outbound deliveries (live), bulk redeliver, and the endpoints: created and edited here, with their
health, secrets and a test event.

The filters and the page live in the URL (``?status=&endpoint=&page=``; ``status=outstanding`` means pending,
retrying or sending), so dashboard cards link straight to a filtered list. The page pulls: a timer compares
the deliveries' version (and the endpoints' version) with what it last showed and re-reads only when one
moved. Nothing here subscribes to anything; the timer dies with the page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from flowmon.application import Application
from flowmon.application.deliveries import DELIVERY_STATUSES, WebhookStats
from flowmon.engine.core.payload_values import unstorable
from flowmon.web import format as fmt
from flowmon.web import webhook_format as wfmt
from flowmon.web.filters import parse_page
from flowmon.web.theme import status_color
from flowmon.web.widgets.bulk_redeliver_dialog import BulkRedeliverDialog
from flowmon.web.widgets.delivery_table import DeliveryTable
from flowmon.web.widgets.endpoint_list import EndpointList
from flowmon.web.widgets.metric_card import MetricCard
from flowmon.web.widgets.pager import Pager
from flowmon.web.widgets.panel_title import panel_title

PATH = '/webhooks'
PAGE_SIZE = 25
LIVE_INTERVAL = 0.25  # compare versions; re-read only when they moved
HEALTH_INTERVAL = 2.0  # at most this often: the endpoint health query aggregates 24 h
OUTSTANDING = 'outstanding'
OUTSTANDING_STATUSES = ('pending', 'retrying', 'sending')
ALL = ''


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    status: str | None = None
    endpoint_id: str | None = None
    page: int = 1

    @classmethod
    def parse(cls, status: str, endpoint: str, page: str) -> tuple[DeliveryFilter, list[str]]:
        problems = []
        wanted = status.strip() or None
        if wanted is not None and wanted not in DELIVERY_STATUSES and wanted != OUTSTANDING:
            problems.append(f'unknown status {wanted!r} ignored')
            wanted = None
        number, problem = parse_page(page)
        problems.extend([problem] if problem else [])
        endpoint_id = endpoint.strip() or None
        if endpoint_id is not None and unstorable(endpoint_id) is not None:  # (in-app navigation carries one here)
            problems.append(f'unknown endpoint {endpoint_id[:40]!r} ignored')
            endpoint_id = None
        return cls(status=wanted, endpoint_id=endpoint_id, page=number), problems

    def statuses(self) -> str | tuple[str, ...] | None:
        return OUTSTANDING_STATUSES if self.status == OUTSTANDING else self.status

    def url(self, **changes: Any) -> str:
        values = {'status': self.status, 'endpoint': self.endpoint_id, 'page': 1} | changes
        query = {key: str(value) for key, value in values.items() if value and not (key == 'page' and value == 1)}
        return f'{PATH}?{urlencode(query)}' if query else PATH

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.endpoint_id)


async def create(application: Application, status: str = '', endpoint: str = '', page: str = '') -> None:
    """Build the page for the filters in the URL and start its pull timer."""
    flt, problems = DeliveryFilter.parse(status, endpoint, page)
    for problem in problems:
        ui.notify(f'Filter: {problem}', type='warning')
    deliveries, endpoints = application.deliveries, application.endpoints

    def endpoint_options() -> dict[str, str]:
        return {item.id: wfmt.endpoint_name(item) for item in endpoints.cached_all()}

    with ui.column().classes('w-full gap-6 fm-page').mark('webhooks-page'):
        with ui.row().classes('w-full items-end gap-3 no-wrap'):
            with ui.column().classes('gap-0 grow min-w-0'):
                ui.label('Webhooks').classes('fm-title')
                ui.label('Outbound deliveries: signed, retried with backoff, every attempt logged.').classes(
                    'text-sm text-grey-7'
                )
            bulk = BulkRedeliverDialog(application, endpoints=endpoint_options, on_done=lambda: None)
            ui.button(
                'Redeliver…', icon='replay', on_click=lambda: bulk.open(flt.endpoint_id, statuses=_bulk_statuses(flt))
            ).classes('shrink-0').props('outline no-caps no-wrap').mark('bulk-redeliver-open')
        with ui.element('div').classes('fm-metrics w-full'):
            cards = _cards()
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            with ui.row().classes('w-full items-center justify-between'):
                summary = panel_title('Deliveries').mark('deliveries-total')
            _filter_bar(flt, endpoint_options())
            table = DeliveryTable(
                empty_title='No deliveries match these filters' if not flt.is_empty else 'No deliveries yet',
                empty_hint='Clear the filters to see every delivery.' if not flt.is_empty else
                'Deliveries appear here as webhook nodes run, subscribed events happen or the API queues one.',
            )  # fmt: skip
            pager_box = ui.element('div').classes('w-full')
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            with ui.row().classes('w-full items-center justify-between gap-3 no-wrap'):
                panel_title('Endpoints', 'Subscribers to flowmon events; 24 h success rate and mean attempt latency.')
                create_button = (
                    ui.button('New endpoint', icon='add')
                    .classes('shrink-0')
                    .props('outline no-caps no-wrap')
                    .mark('endpoint-create')
                )
            endpoint_list = EndpointList(application, on_bulk_redeliver=lambda eid: bulk.open(eid))
            create_button.on_click(endpoint_list.create)

    shown_total: int | None = None
    seen = (-1, -1)
    health_at = -HEALTH_INTERVAL
    health_stale = True  # a delivery or endpoint changed since the health figures were read

    async def refresh(now: datetime) -> None:
        nonlocal shown_total
        records, total = await deliveries.page(
            status=flt.statuses(),
            endpoint_id=flt.endpoint_id,
            limit=PAGE_SIZE,
            offset=(flt.page - 1) * PAGE_SIZE,
        )
        table.show(records, {item.id: item for item in endpoints.cached_all()}, now)
        if total != shown_total:
            shown_total = total
            summary.set_text(_summary(total, flt, endpoint_options()))
            pager_box.clear()
            with pager_box:
                Pager(
                    page=flt.page, page_size=PAGE_SIZE, total=total, on_page=lambda p: ui.navigate.to(flt.url(page=p))
                )
        _show_stats(cards, await deliveries.stats())

    async def pull() -> None:
        nonlocal seen, health_at, health_stale
        now = deliveries.now()
        version = (deliveries.version, endpoints.version)
        endpoints_moved = version[1] != seen[1]
        if version != seen:
            health_stale = True
            await refresh(now)
            seen = version  # once the read succeeded: a failed one is tried again at the next pull
        else:
            table.tick(now)
        loop_now = asyncio.get_running_loop().time()
        if endpoints_moved or (health_stale and loop_now - health_at >= HEALTH_INTERVAL):
            health_at, health_stale = loop_now, False
            endpoint_list.show(endpoints.cached_all(), await endpoints.health())

    await pull()
    ui.timer(LIVE_INTERVAL, pull)


def _bulk_statuses(flt: DeliveryFilter) -> list[str] | None:
    return [flt.status] if flt.status in {'exhausted', 'failed', 'cancelled'} else None


def _filter_bar(flt: DeliveryFilter, endpoints: dict[str, str]) -> None:
    statuses = {ALL: 'Any status', OUTSTANDING: 'outstanding (not settled)', **{s: s for s in DELIVERY_STATUSES}}
    destinations = {ALL: 'All destinations', **dict(sorted(endpoints.items(), key=lambda kv: kv[1].lower()))}
    if flt.endpoint_id and flt.endpoint_id not in destinations:
        destinations[flt.endpoint_id] = flt.endpoint_id
    with ui.row().classes('w-full items-center gap-3 fm-filters').mark('delivery-filters'):
        ui.select(
            statuses, value=flt.status or ALL, label='Status',
            on_change=lambda e: ui.navigate.to(flt.url(status=e.value or None)),
        ).props('outlined dense options-dense').classes('w-56').mark('filter-status')  # fmt: skip
        ui.select(
            destinations, value=flt.endpoint_id or ALL, label='Endpoint',
            on_change=lambda e: ui.navigate.to(flt.url(endpoint=e.value or None)),
        ).props('outlined dense options-dense').classes('w-64').mark('filter-endpoint')  # fmt: skip
        if not flt.is_empty:
            ui.button('Clear', icon='filter_alt_off', on_click=lambda: ui.navigate.to(PATH)).props(
                'flat no-caps dense'
            ).mark('filter-clear')


def _summary(total: int, flt: DeliveryFilter, endpoints: dict[str, str]) -> str:
    parts = [f'{fmt.count(total)} deliver{"y" if total == 1 else "ies"}', 'newest first, live']
    if flt.status:
        parts.insert(1, flt.status)
    if flt.endpoint_id:
        parts.insert(1, f'to {endpoints.get(flt.endpoint_id, flt.endpoint_id)}')
    return ' · '.join(parts)


def _cards() -> dict[str, MetricCard]:
    specs = (
        ('success_rate', 'Success rate', 'percent', 'finished deliveries, last 24 h', f'{PATH}?status=succeeded',
         None),
        ('outstanding', 'Outstanding', 'outbox', 'pending, retrying or sending', f'{PATH}?status={OUTSTANDING}',
         status_color('retrying')),
        ('exhausted', 'Exhausted', 'block', 'gave up after every retry, 24 h', f'{PATH}?status=exhausted',
         status_color('exhausted')),
        ('failed', 'Failed', 'error', 'refused by the receiver (4xx), 24 h', f'{PATH}?status=failed',
         status_color('failed')),
    )  # fmt: skip
    return {
        key: MetricCard(f'webhooks-{key}', label, icon=icon, hint=hint, href=href, accent=accent)
        for key, label, icon, hint, href, accent in specs
    }


def _show_stats(cards: dict[str, MetricCard], stats: WebhookStats) -> None:
    rate = stats.success_rate_24h
    cards['success_rate'].set_value(fmt.percent(None if rate is None else rate * 100))
    cards['outstanding'].set_value(fmt.count(stats.outstanding))
    cards['exhausted'].set_value(fmt.count(stats.exhausted_24h))
    cards['failed'].set_value(fmt.count(stats.failed_24h))
