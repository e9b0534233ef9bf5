"""``/``: the dashboard. Live metrics, a throughput chart, the workflows with Run, recent executions, and how big the
database is with what retention keeps of it.

Engine counts and recent executions are pulled from the live view ten times a second; the SQL-backed numbers
come from the dashboard use case, whose cached snapshot is shared by every open dashboard. Nothing here
subscribes to anything: the timers die with the page. Imported executions, another run's history, are in none of its
figures nor its recent executions (its cards link to lists with ``origin=local``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from nicegui import ui

from flowmon.application import Application
from flowmon.application.dashboard import MetricsSnapshot, Storage
from flowmon.application.deliveries import WebhookStats
from flowmon.application.live import LiveView
from flowmon.engine.core.payload_values import human_size
from flowmon.web import format as fmt
from flowmon.web.actions import run_workflow
from flowmon.web.execution_rows import ExecutionSummary, merge_live
from flowmon.web.filters import ExecutionFilter
from flowmon.web.live_rows import LetGo, Read
from flowmon.web.theme import status_color
from flowmon.web.widgets.execution_table import ExecutionTable
from flowmon.web.widgets.metric_card import MetricCard
from flowmon.web.widgets.panel_title import panel_title
from flowmon.web.widgets.throughput_chart import ThroughputChart
from flowmon.web.widgets.workflow_list import WorkflowList

RECENT_ROWS = 8
LIVE_INTERVAL = 0.1  # engine counts and recent executions
METRICS_INTERVAL = 0.5  # SQL-backed numbers (the shared snapshot re-queries only when the data changed)


@dataclass(frozen=True, slots=True)
class CardSpec:
    key: str
    label: str
    icon: str
    hint: str
    href: str
    accent: str | None = None


CARDS = (
    CardSpec('active', 'Active', 'play_circle', 'running now', '/executions?status=running', status_color('running')),
    CardSpec('queued', 'Queued', 'hourglass_empty', 'waiting for a slot', '/executions?status=queued',
             status_color('queued')),
    CardSpec('succeeded_today', 'Succeeded', 'check_circle', 'today (UTC)',
             '/executions?status=succeeded&origin=local&since=today', status_color('succeeded')),
    CardSpec('failed_today', 'Failed', 'error', 'today (UTC)', '/executions?status=failed&origin=local&since=today',
             status_color('failed')),
    CardSpec('success_rate', 'Success rate', 'percent', 'succeeded / (succeeded + failed), today',
             '/executions?origin=local&since=today'),
    CardSpec('avg_duration', 'Average duration', 'timer', 'finished today', '/executions?origin=local&since=today'),
    CardSpec('p95_duration', 'p95 duration', 'speed', 'finished today', '/executions?origin=local&since=today'),
    CardSpec('throughput', 'Throughput', 'trending_up', 'ended per minute, last 15 min',
             '/executions?origin=local&since=15m'),
    CardSpec('webhook_success_rate', 'Webhook success', 'webhook', 'deliveries succeeded, last 24 h',
             '/webhooks?status=exhausted'),
    CardSpec('webhook_pending', 'Pending deliveries', 'outbox', 'pending, retrying or sending',
             '/webhooks?status=outstanding', status_color('retrying')),
)  # fmt: skip


async def create(application: Application) -> None:
    """Build the dashboard and start its two pull timers."""
    live, dashboard = application.live, application.dashboard
    workflows = await application.workflows.all()
    names = {workflow.id: workflow.name for workflow in workflows}
    records, _ = await application.history.page(origin='local', limit=RECENT_ROWS)  # (as the figures)
    snapshot = await dashboard.metrics()
    storage = await dashboard.storage()

    with ui.column().classes('w-full gap-6 fm-page').mark('dashboard'):
        with ui.row().classes('w-full items-end justify-between'):
            with ui.column().classes('gap-0'):
                ui.label('Dashboard').classes('fm-title')
                ui.label('Everything flowmon is running, live.').classes('text-sm text-grey-7')
            with ui.row().classes('items-center gap-1 text-sm text-grey-7 no-wrap').mark('storage'):
                ui.icon('storage', size='18px').props('aria-hidden=true')
                storage_label = ui.label(storage_text(storage)).mark('storage-text')
        with ui.element('div').classes('fm-metrics fm-metrics-5 w-full'):
            cards = {spec.key: MetricCard(spec.key, spec.label, icon=spec.icon, hint=spec.hint, href=spec.href,
                                          accent=spec.accent) for spec in CARDS}  # fmt: skip
        with ui.element('div').classes('fm-split w-full'):
            with ui.card().classes('fm-panel').props('flat bordered'):
                panel_title('Throughput', 'executions ended per minute, last hour')
                chart = ThroughputChart()
            with ui.card().classes('fm-panel').props('flat bordered'):
                with ui.row().classes('w-full items-center justify-between'):
                    panel_title('Workflows', f'{len(workflows)} available')
                    ui.link('New workflow →', '/workflows/new').classes('fm-link text-sm').mark('new-workflow')
                WorkflowList(workflows, on_run=lambda workflow_id: run_workflow(application, workflow_id))
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            with ui.row().classes('w-full items-center justify-between'):
                panel_title('Recent executions', 'newest first, live')
                ui.link('All executions →', '/executions').classes('fm-link text-sm').mark('all-executions')
            table = ExecutionTable(
                workflow_names=names,
                empty_title='No executions yet',
                empty_hint='Press Run on a workflow: it appears here and updates live.',
            )

    rows = [ExecutionSummary.from_record(record) for record in records]
    seen = live.version
    rows, _ = merge_live(rows, live.states(), ExecutionFilter(), _now(), limit=RECENT_ROWS, add_new=True)
    table.show(rows, _now())
    _show_engine_counts(cards, live)
    _show_snapshot(cards, chart, snapshot)
    _show_webhook_stats(cards, await dashboard.webhook_stats())

    def settled(read: Read) -> None:
        nonlocal rows
        rows = let_go.merge(rows, read)
        table.show(rows, _now())

    let_go = LetGo(live, functools.partial(application.history.records, flush=False), settled, table.element)

    def pull_live() -> None:
        nonlocal seen, rows
        now = _now()
        _show_engine_counts(cards, live)
        seen, states = live.changed_states(seen)
        if states:
            rows, _ = merge_live(rows, states, ExecutionFilter(), now, limit=RECENT_ROWS, add_new=True)
            table.show(rows, now)
        else:
            table.tick(now)
        let_go.check(rows)

    async def pull_metrics() -> None:
        _show_snapshot(cards, chart, await dashboard.metrics())
        _show_webhook_stats(cards, await dashboard.webhook_stats())  # cached: re-read when a delivery changed
        storage_label.set_text(storage_text(await dashboard.storage()))  # cached: the size is read every few s

    ui.timer(LIVE_INTERVAL, pull_live)
    ui.timer(METRICS_INTERVAL, pull_metrics)


def _show_engine_counts(cards: dict[str, MetricCard], live: LiveView) -> None:
    running, queued = live.engine_load()
    cards['active'].set_value(fmt.count(running))
    cards['queued'].set_value(fmt.count(queued))


def _show_snapshot(cards: dict[str, MetricCard], chart: ThroughputChart, snapshot: MetricsSnapshot) -> None:
    cards['succeeded_today'].set_value(fmt.count(snapshot.succeeded_today))
    cards['failed_today'].set_value(fmt.count(snapshot.failed_today))
    cards['success_rate'].set_value(fmt.percent(snapshot.success_rate))
    cards['avg_duration'].set_value(fmt.duration(snapshot.avg_duration_ms))
    cards['p95_duration'].set_value(fmt.duration(snapshot.p95_duration_ms))
    cards['throughput'].set_value(fmt.rate(snapshot.throughput_per_min))
    chart.show(snapshot.per_minute, fmt.viewer_timezone())


def _show_webhook_stats(cards: dict[str, MetricCard], stats: WebhookStats) -> None:
    rate = stats.success_rate_24h
    cards['webhook_success_rate'].set_value(fmt.percent(None if rate is None else rate * 100))
    cards['webhook_pending'].set_value(fmt.count(stats.outstanding))


def storage_text(storage: Storage) -> str:
    """``Database 12.4 MiB · keeps 30 days, at most the newest 1,000 executions``."""
    policy = storage.policy
    kept = []
    if policy.days > 0:
        kept.append(f'{fmt.count(policy.days)} day{"s" if policy.days != 1 else ""}')
    if policy.max_executions > 0:
        kept.append(f'at most the newest {fmt.count(policy.max_executions)} executions')
    keeps = f'keeps {", ".join(kept)}' if kept else 'keeps everything (no retention)'
    return f'Database {human_size(storage.size.bytes)} · {keeps}'


def _now() -> datetime:
    return datetime.now(UTC)
