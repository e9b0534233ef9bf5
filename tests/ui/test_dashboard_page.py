"""The dashboard: metric cards that move, Run buttons that open the execution, live recent executions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nicegui.testing.user import User
from uisim import (
    api,
    cancelled_in_its_row,
    click_when_shown,
    current_path,
    sign_in,
    start,
    text_of,
    wait_for_path,
    wait_for_text,
    wait_until_ended,
)
from waiting import until

import flowmon.store.metrics as metrics_module

METRIC_KEYS = (
    'active',
    'queued',
    'succeeded_today',
    'failed_today',
    'success_rate',
    'avg_duration',
    'p95_duration',
    'throughput',
)


async def test_fresh_dashboard_shows_every_card_and_intentional_empty_states(user: User) -> None:
    await sign_in(user)
    for key in METRIC_KEYS:
        await user.should_see(marker=f'metric-{key}')
    assert text_of(user, 'metric-succeeded_today-value') == '0'
    assert text_of(user, 'metric-success_rate-value') == '—'  # nothing finished: no rate, not "0 %"
    await user.should_see('No executions yet')
    await user.should_see('Quick check')
    await user.should_see('Always broken')


async def test_cards_link_to_the_filtered_execution_list(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='metric-throughput')
    links = {key: next(iter(user.find(marker=f'metric-{key}').elements)).props['href'] for key in METRIC_KEYS}
    assert links['failed_today'] == '/executions?status=failed&origin=local&since=today'  # as the card counts
    assert links['succeeded_today'] == '/executions?status=succeeded&origin=local&since=today'
    assert links['active'] == '/executions?status=running'
    assert links['throughput'] == '/executions?origin=local&since=15m'


async def test_cards_move_after_runs(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    today = metrics_module.utc_midnight(datetime.now(UTC))
    monkeypatch.setattr(metrics_module, 'utc_midnight', lambda now: today)  # the runs count as today past midnight
    await sign_in(user)
    await wait_for_text(user, 'metric-succeeded_today-value', '0')

    ok = await start(user, 'quick')
    bad = await start(user, 'broken')
    await wait_until_ended(user, ok)
    await wait_until_ended(user, bad)

    await wait_for_text(user, 'metric-succeeded_today-value', '1')
    await wait_for_text(user, 'metric-failed_today-value', '1')
    await wait_for_text(user, 'metric-success_rate-value', '50.0 %')
    await until(lambda: text_of(user, 'metric-avg_duration-value') != '—', 'the average duration')
    await until(lambda: text_of(user, 'metric-throughput-value') != '0.0', 'the throughput')
    chart = next(iter(user.find(marker='throughput-chart').elements))
    series = {s['name']: sum(s['data']) for s in chart.options['series']}
    assert series == {'succeeded': 1, 'failed': 1}


async def test_active_card_counts_running_executions(user: User) -> None:
    await sign_in(user)
    await wait_for_text(user, 'metric-active-value', '0')
    execution_id = await start(user, 'slow')
    await wait_for_text(user, 'metric-active-value', '1')
    await api(user, 'POST', f'/api/executions/{execution_id}/cancel')
    await wait_for_text(user, 'metric-active-value', '0')


@pytest.mark.usefixtures('live_view_lets_go_at_once')
async def test_a_recent_run_the_live_view_lets_go_of_ends_on_the_dashboard(user: User) -> None:
    """See test_executions_page.py::test_a_run_the_live_view_lets_go_of_ends_in_the_list."""
    await sign_in(user)
    await cancelled_in_its_row(user)


async def test_recent_executions_appear_live(user: User) -> None:
    await sign_in(user)
    await user.should_see('No executions yet')
    execution_id = await start(user, 'quick')
    await user.should_see(marker=f'execution-row-{execution_id}')
    await user.should_not_see('No executions yet')
    row = next(iter(user.find(marker=f'execution-row-{execution_id}').elements))
    assert row.props['href'] == f'/executions/{execution_id}'


async def test_run_button_starts_the_workflow_and_opens_its_execution(user: User) -> None:
    await sign_in(user)
    await click_when_shown(user, 'run-quick')
    path = await wait_for_path(user, r'/executions/[0-9a-f]+')
    execution_id = path.rsplit('/', 1)[1]
    summary = await wait_until_ended(user, execution_id)
    assert summary['workflow_id'] == 'quick'
    assert current_path(user) == f'/executions/{execution_id}'


async def test_each_workflow_s_run_button_names_its_workflow_for_a_screen_reader(user: User) -> None:
    await sign_in(user)
    await user.should_see(marker='run-quick')
    for workflow_id, name in (('quick', 'Quick check'), ('broken', 'Always broken'), ('slow', 'Slow wait')):
        (button,) = user.find(marker=f'run-{workflow_id}').elements
        assert button.props.get('aria-label') == f'Run workflow {name}' and button.text == 'Run'
