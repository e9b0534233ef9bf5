"""``/executions``: filters from the URL (so metric cards can link here), server-side paging, live rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uisim
from nicegui import ui
from nicegui.testing.user import User
from uisim import api, cancelled_in_its_row, current_path, sign_in, start, text_of, wait_for_path, wait_until_ended
from waiting import until

from flowmon.web.pages import executions as executions_page


async def run_to_end(user: User, workflow_id: str) -> str:
    execution_id = await start(user, workflow_id)
    await wait_until_ended(user, execution_id)
    return execution_id


async def test_empty_list_looks_intentional(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see('No executions yet')
    await user.should_not_see(marker='pager')


async def one_good_one_bad(user: User) -> tuple[str, str]:
    """Runs of 'quick' and 'broken', ended; their ids."""
    return await run_to_end(user, 'quick'), await run_to_end(user, 'broken')


async def listed_without(user: User, path: str, shown: str, hidden: str) -> None:
    """Open ``path``: the row of ``shown`` is there, the row of ``hidden`` is not."""
    await sign_in(user, path)
    await user.should_see(marker=f'execution-row-{shown}')
    await user.should_not_see(marker=f'execution-row-{hidden}')


async def test_status_filter_in_the_url(user: User) -> None:
    ok, bad = await one_good_one_bad(user)
    await listed_without(user, '/executions?status=failed&since=24h', bad, ok)  # (not 'today': midnight may pass)
    assert text_of(user, 'executions-total').startswith('1 execution')

    await sign_in(user, '/executions')
    await user.should_see(marker=f'execution-row-{bad}')
    await user.should_see(marker=f'execution-row-{ok}')


async def test_a_workflow_filter_no_workflow_can_have_is_ignored_with_a_notice(user: User) -> None:
    """The list refuses such a filter (the API says 422): the page failed to load ("This page could not be loaded")."""
    done = await run_to_end(user, 'quick')
    await sign_in(user, '/executions?workflow_id=no%20such%20id&status=succeeded')
    await user.should_see("Filter: workflow id 'no such id' ignored")
    await user.should_see(marker=f'execution-row-{done}')  # the other filters hold


async def test_workflow_filter_and_changing_a_filter_updates_the_url(user: User) -> None:
    ok, bad = await one_good_one_bad(user)
    await listed_without(user, '/executions?workflow_id=broken', bad, ok)

    user.find(marker='filter-status').elements.pop().set_value('succeeded')
    await wait_for_path(user, r'/executions\?workflow_id=broken&status=succeeded')
    await user.should_see('No executions match these filters')

    await user.should_see('Clear the filters.')  # no time window to widen, no search
    await user.should_not_see('Widen the time window')

    user.find(marker='filter-clear').click()
    await wait_for_path(user, '/executions')
    await user.should_see(marker=f'execution-row-{ok}')


async def test_the_empty_lists_hint_names_only_what_the_filter_holds(user: User) -> None:
    await sign_in(user, '/executions?q=nothing-has-this')
    await user.should_see('No executions match these filters')
    await user.should_see('Search for other text (inputs, node outputs, errors) or clear the filters.')
    await user.open('/executions?q=nothing-has-this&since=1h')
    await user.should_see('Widen the time window, search for other text (inputs, node outputs, errors) or clear')
    await user.open('/executions?status=cancelled&since=1h')
    await user.should_see('Widen the time window or clear the filters.')


async def test_bad_filter_values_are_ignored_with_a_message(user: User) -> None:
    await sign_in(user, '/executions?status=exploded&since=yesterday-ish')
    await user.should_see(marker='executions-page')
    await user.should_see("unknown status 'exploded' ignored")


@pytest.mark.parametrize(
    ('query', 'message'),
    [
        ('until=9999-12-31', None),  # the calendar's last day: no upper bound, not an overflow
        ('page=%C2%B2', "page '²' ignored"),  # a digit to str.isdigit, not to int()
        ('page=99999999999999999999999', "page '99999999999999999999999' ignored"),  # past the database's integers
        ('page=0', "page '0' ignored"),
    ],
)
async def test_odd_dates_and_page_numbers_show_the_page_not_an_error(
    user: User, query: str, message: str | None
) -> None:
    ok = await start(user, 'quick')
    await wait_until_ended(user, ok)
    await sign_in(user, f'/executions?{query}')
    await user.should_see(marker='executions-page')
    await user.should_see(marker=f'execution-row-{ok}')
    if message:
        await user.should_see(message)
    await user.should_not_see(marker='page-error')


@pytest.mark.parametrize('query', ['until=0001-01-01T00:00:00Z', 'since=0001-01-01&until=0001-01-01T00:00:00Z'])
async def test_a_window_that_ends_at_the_first_instant_shows_an_empty_page(user: User, query: str) -> None:
    """The range picker's days of such a window (the day before its end) are out of the calendar."""
    await sign_in(user, f'/executions?{query}')
    await user.should_see(marker='executions-page')
    await user.should_see(marker='filter-window')
    await user.should_not_see(marker='page-error')


async def test_paging_is_server_side(user: User) -> None:
    ids = [await start(user, 'quick') for _ in range(27)]
    for execution_id in ids:
        await wait_until_ended(user, execution_id)
    await sign_in(user, '/executions')
    await user.should_see(marker='pager')
    assert text_of(user, 'pager-range') == '1\N{EN DASH}25 of 27'
    await user.should_see(marker=f'execution-row-{ids[-1]}')  # newest first
    await user.should_not_see(marker=f'execution-row-{ids[0]}')

    user.find(marker='pager-next').click()
    await wait_for_path(user, r'/executions\?page=2')
    await user.should_see(marker=f'execution-row-{ids[0]}')
    assert text_of(user, 'pager-range') == '26\N{EN DASH}27 of 27'

    await user.open('/executions')
    await user.should_see(marker='pager')
    late = await start(user, 'quick')  # joins the first page live: the pager counts it, as the heading does
    await user.should_see(marker=f'execution-row-{late}')
    await until(lambda: text_of(user, 'pager-range') == '1\N{EN DASH}25 of 28', 'the pager to count it')
    await until(lambda: '28' in text_of(user, 'executions-total'), 'the heading to count it')


async def test_a_page_past_the_end_shows_the_last_page_not_an_empty_list(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executions_page, 'PAGE_SIZE', 2)
    urls = uisim.record_urls(monkeypatch)
    ids = [await run_to_end(user, 'broken') for _ in range(3)]
    await sign_in(user, '/executions?status=failed&page=5')  # a saved link, after a pruning
    await user.should_see(marker=f'execution-row-{ids[0]}')  # the last page: the oldest run
    await user.should_not_see('No executions match these filters')
    await user.should_see('Page 5 is past the end: 3 executions, 2 pages; showing page 2')
    assert text_of(user, 'pager-range') == '3\N{EN DASH}3 of 3'
    assert urls == ['/executions?status=failed&page=2']
    assert not user.find(marker='pager-next').elements.pop().enabled  # the last page: nothing after it
    assert user.find(marker='pager-previous').elements.pop().enabled


async def test_a_bulk_delete_that_empties_the_last_page_goes_to_the_page_before(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executions_page, 'PAGE_SIZE', 2)
    ids = [await run_to_end(user, 'quick') for _ in range(3)]
    await sign_in(user, '/executions?page=2')
    await user.should_see(marker=f'execution-row-{ids[0]}')
    user.find(marker='select-page').click()
    user.find(marker='bulk-delete').click()
    await user.should_see('Delete 1 execution?')
    user.find(marker='confirm-bulk-ok').click()
    await wait_for_path(user, '/executions')
    await user.should_see(marker=f'execution-row-{ids[2]}')
    await user.should_not_see('No executions match these filters')


@pytest.mark.usefixtures('live_view_lets_go_at_once')
@pytest.mark.parametrize('path', ['/executions', '/workflows/slow'])
async def test_a_run_the_live_view_lets_go_of_ends_in_the_list(user: User, path: str) -> None:
    """More runs ended between two pulls of the list than the live view keeps: the list never saw this one end in
    the live view, and reads how it ended from the store."""
    await sign_in(user, path)
    await cancelled_in_its_row(user)


async def test_new_and_running_executions_show_live_on_the_first_page(user: User) -> None:
    await sign_in(user, '/executions')
    await user.should_see('No executions yet')
    execution_id = await cancelled_in_its_row(user)
    assert current_path(user) == '/executions'
    await user.open('/executions')  # a new page: the list query's row, merged with the live projection's
    await user.should_see(marker=f'execution-row-{execution_id}')
    with user.scope(marker=f'execution-row-{execution_id}'):
        await user.should_see('0/1')


def _today(shift_days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=shift_days)).isoformat()


def _element(user: User, marker: str) -> Any:
    (found,) = user.find(marker=marker).elements
    return found


@pytest.mark.parametrize(
    ('query', 'window', 'days', 'now'),
    [
        (  # a date-time in another zone, one in UTC: their UTC days, the exact times above
            'since=2025-03-04T14:00:00%2B01:00&until=2025-03-06T09:30:00Z',
            'current',
            ('2025-03-04', '2025-03-06'),
            'Now: 2025-03-04 13:00 UTC \N{EN DASH} 2025-03-06 09:30 UTC',
        ),
        (  # Unix seconds, then a day (through its end)
            'since=1741096800&until=2025-03-05',
            'current',
            ('2025-03-04', '2025-03-05'),
            'Now: 2025-03-04 14:00 UTC \N{EN DASH} 2025-03-05',
        ),
        (
            'since=2025-03-01&until=2025-03-02',
            'current',
            ('2025-03-01', '2025-03-02'),
            'Now: 2025-03-01 \N{EN DASH} 2025-03-02',
        ),
        (  # "before midnight" ends the day before
            'since=2025-03-01&until=2025-03-03T00:00:00Z',
            'current',
            ('2025-03-01', '2025-03-02'),
            'Now: 2025-03-01 \N{EN DASH} 2025-03-03 00:00 UTC',
        ),
        ('since=2025-03-04T23:30:00-02:00', 'current', ('2025-03-05', 'today'), 'Now: Since 2025-03-05 01:30 UTC'),
        ('since=2025-03-01', 'current', ('2025-03-01', 'today'), 'Now: Since 2025-03-01'),
        ('since=7d', '7d', ('7 days ago', 'today'), 'Now: Last 7 days'),  # the relative choice itself
        ('since=today', 'today', ('today', 'today'), 'Now: Today (UTC)'),
        ('since=90m', 'current', (None, 'today'), 'Now: Last 90m'),
    ],
)
async def test_the_range_picker_opens_on_the_days_of_every_window_the_list_takes(
    user: User, query: str, window: str, days: tuple[str | None, str], now: str
) -> None:
    """A saved view's or a URL's since/until in any form the API takes: the When select names it (a relative window
    as itself) and the custom range picker opens on its UTC days, the exact window said above it. Apply without
    other days keeps the window as it is."""
    before = {'today': _today(), '7 days ago': _today(-7)}
    await sign_in(user, f'/executions?{query}')
    await user.should_see(marker='filter-window')
    after = {'today': _today(), '7 days ago': _today(-7)}
    select = _element(user, 'filter-window')
    assert select.value == window
    if window == 'current':
        assert select.options[window] == now.removeprefix('Now: ')
    select.value = 'custom'
    await user.should_see(marker='filter-range')
    picker = _element(user, 'filter-range')
    picked = picker.value
    assert picked['from'] in {before.get(days[0] or '', days[0]), after.get(days[0] or '', days[0])} or days[0] is None
    assert picked['to'] in {before.get(days[1], days[1]), after.get(days[1], days[1])}
    assert picked['from'] <= picked['to']
    assert text_of(user, 'filter-range-now') == now

    path = current_path(user)
    user.find(content='Apply').click()
    dialog = next(element for element in picker.ancestors() if isinstance(element, ui.dialog))
    await until(lambda: not dialog.value, 'the picker to close')
    assert current_path(user) == path  # the same window, its times and all
    assert _element(user, 'filter-window').value == window


async def test_days_picked_in_the_range_picker_replace_a_date_time_window(user: User) -> None:
    await sign_in(user, '/executions?since=2025-03-04T14:00:00Z')
    await user.should_see(marker='filter-window')
    _element(user, 'filter-window').value = 'custom'
    await user.should_see(marker='filter-range')
    _element(user, 'filter-range').value = {'from': '2025-03-01', 'to': '2025-03-02'}
    user.find(content='Apply').click()
    await wait_for_path(user, r'/executions\?since=2025-03-01&until=2025-03-02')


async def test_a_saved_view_with_a_date_time_opens_the_range_picker_on_its_days(user: User) -> None:
    view = {'name': 'Since Tuesday afternoon', 'filter': {'since': '2025-03-04T14:30:00Z', 'until': '2025-03-05'}}
    assert (await api(user, 'POST', '/api/views', view)).status_code == 201
    await sign_in(user, '/')
    await user.should_see(marker='saved-view')
    user.find(marker='saved-view').click()
    await wait_for_path(user, r'/executions\?since=.*')
    await user.should_see(marker='filter-window')
    _element(user, 'filter-window').value = 'custom'
    await user.should_see(marker='filter-range')
    assert _element(user, 'filter-range').value == {'from': '2025-03-04', 'to': '2025-03-05'}
    assert text_of(user, 'filter-range-now') == 'Now: 2025-03-04 14:30 UTC \N{EN DASH} 2025-03-05'
